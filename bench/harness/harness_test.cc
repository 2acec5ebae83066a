#include "bench/harness/harness.h"

#include <cstdio>
#include <fstream>

#include "gtest/gtest.h"

namespace onix::bench {
namespace {

TEST(Compare, InterleavesAndReportsMedianOfPairwiseRatios) {
  std::vector<char> order;
  // ONIX runs: 2,4,6 (after warm-up); baseline: 1,1,3 -> ratios 2,4,2 -> median 2.
  std::vector<double> a{9, 2, 4, 6}, b{9, 1, 1, 3};
  size_t ia = 0, ib = 0;
  auto onix = [&]() -> absl::StatusOr<double> {
    order.push_back('A');
    return a[ia++];
  };
  auto base = [&]() -> absl::StatusOr<double> {
    order.push_back('B');
    return b[ib++];
  };
  auto f = Compare({"pack", "s", "tar|zstd", 2.5, 3}, onix, base);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(std::string(order.begin(), order.end()), "ABABABAB");
  EXPECT_DOUBLE_EQ(f->ratio, 2);
  EXPECT_DOUBLE_EQ(f->value, 4);
  EXPECT_DOUBLE_EQ(f->baseline_value, 1);
  EXPECT_DOUBLE_EQ(f->min, 2);
  EXPECT_DOUBLE_EQ(f->max, 6);
  EXPECT_TRUE(f->pass);
  EXPECT_EQ(f->target, "<= 2.5x");
}

TEST(Compare, FailsTargetAndPropagatesErrors) {
  auto slow = []() -> absl::StatusOr<double> { return 3.0; };
  auto fast = []() -> absl::StatusOr<double> { return 1.0; };
  auto f = Compare({"x", "s", "y", 1.2, 3}, slow, fast);
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->pass);
  auto broken = []() -> absl::StatusOr<double> { return absl::InternalError("boom"); };
  EXPECT_FALSE(Compare({"x", "s", "y", 1.2, 3}, broken, fast).ok());
}

TEST(RunChild, ReportsFailureAndPeakRss) {
  auto ok = RunChild({"true"});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_GT(ok->max_rss_kib, 0);
  EXPECT_FALSE(RunChild({"false"}).ok());
  auto big = RunShell(
      "head -c 50000000 /dev/zero | python3 -c 'import sys; d=sys.stdin.buffer.read(); "
      "print(len(d))' >/dev/null");
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_GT(big->max_rss_kib, 40000) << "a 50 MB read shows in the child's peak RSS";
}

TEST(RunChild, PeakRssIsTheChildsNotTheSpawningProcesss) {
  // 300 MiB touched here must not show in a small child's figure (through posix_spawn straight
  // from this process it would: exec records the vforked parent's peak as the child's).
  std::string ballast(300u << 20, 'x');
  auto small = RunChild({"true"});
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_LT(small->max_rss_kib, 32 * 1024) << "ballast of " << ballast.size() << " bytes leaked in";
  EXPECT_GT(small->seconds, 0);
}

TEST(RunChild, NamesTheCommandThatCannotStart) {
  auto r = RunChild({"/nonexistent/command", "x"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("/nonexistent/command x"), std::string::npos)
      << r.status();
}

TEST(AppendResults, WritesExactlyTheIssueKeys) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/results.json";
  Figure f{"switch", 2.5, "ms", "none", 0, 0, "< 10 ms", true, 5, 2, 3};
  ASSERT_TRUE(AppendResults(path, {f}).ok());
  Figure g = f;
  g.name = "switch medium";
  ASSERT_TRUE(AppendResults(path, {g}).ok());
  nlohmann::json all;
  std::ifstream(path) >> all;
  ASSERT_EQ(all.size(), 2u);
  std::vector<std::string> keys;
  for (auto it = all[0].begin(); it != all[0].end(); ++it) keys.push_back(it.key());
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"baseline", "baseline_value", "max", "min", "name",
                                            "pass", "ratio", "runs", "target", "unit", "value"}));
  auto back = FigureFromJson(all[1]);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->name, "switch medium");
}

TEST(AppendResults, AFigureMeasuredAgainReplacesTheEarlierOne) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/replace.json";
  Figure a{"a", 1, "s", "none", 0, 0, "< 2 s", true, 5, 1, 1};
  Figure b{"b", 2, "s", "none", 0, 0, "< 2 s", false, 5, 2, 2};
  ASSERT_TRUE(AppendResults(path, {a, b}).ok());
  a.value = 1.5;
  ASSERT_TRUE(AppendResults(path, {a}).ok());
  nlohmann::json all;
  std::ifstream(path) >> all;
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]["name"], "a");
  EXPECT_DOUBLE_EQ(all[0]["value"].get<double>(), 1.5);
  EXPECT_EQ(all[1]["name"], "b");
}

}  // namespace
}  // namespace onix::bench

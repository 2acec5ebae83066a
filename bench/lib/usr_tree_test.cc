#include "bench/lib/usr_tree.h"

#include <sys/stat.h>

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/temp_dir.h"
#include "moss/stone/testing.h"

namespace onix::bench {
namespace {

TEST(UsrTree, SameSeedGivesTheSameTreeAndOtherSeedsDiffer) {
  auto tmp = TempDir::Make("usr-tree-");
  ASSERT_TRUE(tmp.ok()) << tmp.status();
  UsrTreeSpec spec;
  spec.total_bytes = 8 << 20;
  UsrTreeStats stats[3];
  for (int i = 0; i < 3; ++i) {
    const std::string name = "t" + std::to_string(i);
    ASSERT_EQ(::mkdirat(tmp->fd(), name.c_str(), 0755), 0);
    UniqueFd fd = *fs::OpenDirAt(tmp->fd(), name);
    UsrTreeSpec s = spec;
    s.seed = i == 2 ? 7 : 1;
    auto st = GenerateUsrTree(fd.get(), s);
    ASSERT_TRUE(st.ok()) << st.status();
    stats[i] = *st;
  }
  auto a = stone::testing::WalkTree(tmp->path() + "/t0");
  auto b = stone::testing::WalkTree(tmp->path() + "/t1");
  auto c = stone::testing::WalkTree(tmp->path() + "/t2");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_GE(stats[0].bytes, spec.total_bytes);
  EXPECT_GT(stats[0].files, 50u);
  EXPECT_GT(stats[0].symlinks, 0u);
  EXPECT_GT(stats[0].duplicates, 0u);
  EXPECT_EQ(stats[0].files + stats[0].directories + stats[0].symlinks, a.size());
}

}  // namespace
}  // namespace onix::bench

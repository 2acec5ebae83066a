#include "moss/history/history.h"

#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "gtest/gtest.h"
#include "moss/base/temp_dir.h"

namespace onix::moss::history {
namespace {

std::string RunCommand(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

TEST(History, CommitsChainByParentAndPlainGitLogShowsThem) {
  auto tmp = TempDir::Make("history-test");
  ASSERT_TRUE(tmp.ok());
  const std::string dir = tmp->path() + "/history.git";
  {
    auto h = History::Open(dir);
    ASSERT_TRUE(h.ok()) << h.status();
    auto c1 = h->CommitState("1-aaaa", {{"manifest.json", "{}\n"}, {"packages/foo", "foo 1\n"}},
                             "install foo 1-1\n", "", 1000);
    ASSERT_TRUE(c1.ok()) << c1.status();
    // Idempotent: the same tree again returns the same commit.
    EXPECT_EQ(*h->CommitState("1-aaaa", {{"manifest.json", "{}\n"}, {"packages/foo", "foo 1\n"}},
                              "install foo 1-1\n", "", 1000),
              *c1);
    auto c2 = h->CommitState(
        "2-bbbb",
        {{"manifest.json", "{}\n"}, {"packages/foo", "foo 1\n"}, {"packages/bar", "bar 2\n"}},
        "install bar 2-1\n", "1-aaaa", 2000);
    ASSERT_TRUE(c2.ok());
    ASSERT_TRUE(h->SetActive("2-bbbb").ok());
    EXPECT_TRUE(absl::IsNotFound(h->SetActive("9-ffff")));
    EXPECT_EQ(*h->StateRefs(), (std::vector<std::string>{"1-aaaa", "2-bbbb"}));
    ASSERT_TRUE(h->DropState("1-aaaa").ok());
    EXPECT_EQ(h->StateRefs()->size(), 1u);
    EXPECT_EQ(*h->MessageOf("2-bbbb"), "install bar 2-1\n");
  }
  const std::string log = RunCommand("git --git-dir " + dir + " log --stat 2>&1");
  EXPECT_NE(log.find("install bar 2-1"), std::string::npos) << log;
  EXPECT_NE(log.find("install foo 1-1"), std::string::npos) << log;
  EXPECT_NE(log.find("packages/bar"), std::string::npos) << log;
}

// Every moss command's recovery check re-asserts the active state: pointing the ref where it
// already points must not rewrite it (a lock, a rename and fsyncs per command).
TEST(History, SetActiveToTheActiveStateLeavesTheRefFileAlone) {
  auto tmp = TempDir::Make("history-test");
  ASSERT_TRUE(tmp.ok());
  const std::string dir = tmp->path() + "/history.git";
  auto h = History::Open(dir);
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_TRUE(h->CommitState("1-aaaa", {{"state", "1\n"}}, "one\n", "", 1000).ok());
  ASSERT_TRUE(h->CommitState("2-bbbb", {{"state", "2\n"}}, "two\n", "1-aaaa", 2000).ok());
  ASSERT_TRUE(h->SetActive("1-aaaa").ok());
  const std::string ref = dir + "/refs/heads/active";
  struct stat before {};
  ASSERT_EQ(::stat(ref.c_str(), &before), 0);
  ASSERT_TRUE(h->SetActive("1-aaaa").ok());
  struct stat same {};
  ASSERT_EQ(::stat(ref.c_str(), &same), 0);
  EXPECT_EQ(same.st_ino, before.st_ino);  // a rewrite renames a new file into place
  ASSERT_TRUE(h->SetActive("2-bbbb").ok());
  struct stat moved {};
  ASSERT_EQ(::stat(ref.c_str(), &moved), 0);
  EXPECT_NE(moved.st_ino, before.st_ino);
  EXPECT_EQ(RunCommand("git --git-dir " + dir + " log -1 --format=%s active"), "two\n");
}

}  // namespace
}  // namespace onix::moss::history

#include "moss/triggers/triggers.h"

#include <sys/stat.h>

#include <filesystem>

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/str_cat.h"
#include "moss/triggers/sandbox.h"
#include "tests/testing/temp_root.h"

namespace onix::moss::triggers {
namespace {

constexpr char kLdconfig[] = R"(# rebuild the linker cache
name = ldconfig
match = /usr/lib/*.so*   /usr/lib64/*.so*
run = /usr/bin/ldconfig ldconfig
order = 10
)";

TEST(ParseTrigger, ReadsKeysAndRejectsBadLinesNamingFileAndLine) {
  auto t = ParseTrigger(kLdconfig, "ld.trigger");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->name, "ldconfig");
  EXPECT_EQ(t->match.size(), 2u);
  EXPECT_EQ(t->run, (std::vector<std::string>{"/usr/bin/ldconfig", "ldconfig"}));
  EXPECT_EQ(t->order, 10);
  auto bad = ParseTrigger("name = x\nmatch = lib/*\n", "x.trigger");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("x.trigger line 2"), std::string::npos);
  EXPECT_FALSE(ParseTrigger("name = x\nbogus = 1\n", "x.trigger").ok());
  EXPECT_FALSE(ParseTrigger("name = x\nmatch = /usr/*\n", "x.trigger").ok());  // no run
}

TEST(Fires, MatchesChangedPathsAgainstGlobs) {
  auto t = ParseTrigger(kLdconfig, "ld.trigger");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(Fires(*t, {"bin/x", "lib/libz.so.1"}));
  EXPECT_FALSE(Fires(*t, {"bin/x", "share/doc/lib.so.txt"}));
}

// A staging-like /usr with the fake tool as /usr/bin/tool.
class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = onix::testing::TempRoot::Make();
    ASSERT_TRUE(root.ok());
    root_.emplace(std::move(*root));
    for (const char* d :
         {"usr", "usr/bin", "usr/lib", "usr/lib/modules", "usr/lib/modules/6.1.0", "scratch"}) {
      ASSERT_TRUE(fs::MkdirAt(root_->fd(), d, 0755).ok());
    }
    std::filesystem::copy_file("tests/testing/fake_trigger_tool", root_->Path("usr/bin/tool"));
    ASSERT_TRUE(root_->WriteFile("usr/lib/libz.so.1", "z").ok());
    ASSERT_TRUE(root_->WriteFile("usr/lib/modules/6.1.0/e1000.ko", "k").ok());
    spec_.usr_dir = root_->Path("usr");
    spec_.scratch_dir = root_->Path("scratch");
  }
  std::optional<onix::testing::TempRoot> root_;
  SandboxSpec spec_;
};

TEST_F(SandboxTest, LdconfigAndDepmodStyleToolsWriteIntoTheStagingUsr) {
  std::string out;
  absl::Status s = RunSandboxed(spec_, {"/usr/bin/tool", "ldconfig"}, &out);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(*fs::ReadFileAt(root_->fd(), "usr/lib/ld.so.cache"), "libz.so.1\n");
  s = RunSandboxed(spec_, {"/usr/bin/tool", "depmod"}, &out);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(*fs::ReadFileAt(root_->fd(), "usr/lib/modules/6.1.0/modules.dep"), "e1000.ko:\n");
  // The scratch mount point is left empty: the sandbox's mounts died with it.
  auto scratch = fs::OpenDirAt(root_->fd(), "scratch");
  ASSERT_TRUE(scratch.ok());
  EXPECT_TRUE(fs::ListDir(scratch->get())->empty());
}

TEST_F(SandboxTest, EverythingOutsideUsrIsReadOnlyAndHostInvisible) {
  std::string out;
  absl::Status s = RunSandboxed(spec_, {"/usr/bin/tool", "write", "/etc-file", "x"}, &out);
  EXPECT_TRUE(absl::IsAborted(s)) << s;
  EXPECT_NE(s.message().find("exit status 1"), std::string::npos) << s;
  // The host's files are not there: the tool cannot see our temp root's other directories.
  s = RunSandboxed(spec_, {"/usr/bin/tool", "write", "/scratch/x", "x"}, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(*fs::ExistsAt(root_->fd(), "scratch/x"));
}

TEST_F(SandboxTest, FailingToolIsAbortedWithItsOutput) {
  absl::Status s = RunSandboxed(spec_, {"/usr/bin/tool", "fail"});
  EXPECT_TRUE(absl::IsAborted(s));
  EXPECT_NE(s.message().find("exit status 3"), std::string::npos) << s;
  EXPECT_NE(s.message().find("failing on purpose"), std::string::npos) << s;
  s = RunSandboxed(spec_, {"/usr/bin/missing"});
  EXPECT_NE(s.message().find("exec"), std::string::npos) << s;
}

TEST_F(SandboxTest, RunInRootChrootsIntoTheMachineRoot) {
  ASSERT_TRUE(fs::MkdirAt(root_->fd(), "etc", 0755).ok());
  absl::Status s = RunInRoot(root_->path(), {"/usr/bin/tool", "write", "/etc/done", "yes"});
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(*fs::ReadFileAt(root_->fd(), "etc/done"), "yes");
}

}  // namespace
}  // namespace onix::moss::triggers

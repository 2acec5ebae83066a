#include "boot/initrd/select_fstx.h"

#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "moss/base/temp_dir.h"

namespace {

namespace stdfs = std::filesystem;

void WriteFile(const std::string& path, const std::string& data) {
  stdfs::create_directories(stdfs::path(path).parent_path());
  std::ofstream(path) << data;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class SelectFstxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = onix::TempDir::Make("select-fstx-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    tmp_ = std::make_unique<onix::TempDir>(std::move(*dir));
    root_ = tmp_->path();
    // Active 3-cccc, archived 2-bbbb and 1-aaaa, each tree marked by its .fstx and a file.
    Tree(root_ + "/usr", "3-cccc");
    Tree(root_ + "/.moss/root/2-bbbb/usr", "2-bbbb");
    Tree(root_ + "/.moss/root/1-aaaa/usr", "1-aaaa");
  }
  void Tree(const std::string& usr, const std::string& fstx) {
    // The layout moss writes: the fstx, then the tree's durable token.
    WriteFile(usr + "/.fstx", fstx + "\ntoken-" + fstx + "\n");
    WriteFile(usr + "/bin/marker", fstx);
  }
  std::string Select(const std::string& fstx, int* rc) {
    char msg[1024];
    *rc = onix_select_fstx(root_.c_str(), fstx.c_str(), msg, sizeof(msg));
    return msg;
  }
  std::unique_ptr<onix::TempDir> tmp_;
  std::string root_;
};

TEST(FstxFromCmdline, FindsTheLastMossFstxWord) {
  char out[64];
  ASSERT_EQ(onix_fstx_from_cmdline("root=LABEL=x moss.fstx=1-aaaa quiet moss.fstx=2-bbbb\n", out,
                                   sizeof(out)),
            1);
  EXPECT_STREQ(out, "2-bbbb");
  EXPECT_EQ(onix_fstx_from_cmdline("root=LABEL=x xmoss.fstx=1 moss.fstx=", out, sizeof(out)), 0);
}

TEST_F(SelectFstxTest, ExchangesTheNamedStateIntoUsrAndArchivesTheOldOne) {
  int rc = 0;
  const std::string msg = Select("2-bbbb", &rc);
  ASSERT_EQ(rc, 0) << msg;
  EXPECT_EQ(ReadFile(root_ + "/usr/bin/marker"), "2-bbbb");
  EXPECT_EQ(ReadFile(root_ + "/.moss/root/3-cccc/usr/bin/marker"), "3-cccc");
  EXPECT_FALSE(stdfs::exists(root_ + "/.moss/root/2-bbbb"));
  EXPECT_EQ(ReadFile(root_ + "/.moss/root/1-aaaa/usr/bin/marker"), "1-aaaa");
  // And back: the archive naming stays consistent both ways.
  ASSERT_EQ(Select("3-cccc", &rc),
            "activated state 3-cccc (previous 2-bbbb archived as .moss/root/2-bbbb)");
  EXPECT_EQ(ReadFile(root_ + "/usr/.fstx"), "3-cccc\ntoken-3-cccc\n");
  EXPECT_EQ(ReadFile(root_ + "/.moss/root/2-bbbb/usr/.fstx"), "2-bbbb\ntoken-2-bbbb\n");
}

TEST_F(SelectFstxTest, AlreadyActiveChangesNothing) {
  int rc = 0;
  const std::string msg = Select("3-cccc", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(msg.find("already active"), std::string::npos) << msg;
  EXPECT_EQ(ReadFile(root_ + "/usr/bin/marker"), "3-cccc");
}

TEST_F(SelectFstxTest, UnknownStateFailsClearlyAndLeavesTheRootAlone) {
  int rc = 0;
  const std::string msg = Select("9-zzzz", &rc);
  EXPECT_EQ(rc, -1);
  EXPECT_NE(msg.find("state 9-zzzz is not on this machine"), std::string::npos) << msg;
  EXPECT_EQ(ReadFile(root_ + "/usr/bin/marker"), "3-cccc");
  EXPECT_EQ(ReadFile(root_ + "/.moss/root/2-bbbb/usr/bin/marker"), "2-bbbb");
}

TEST_F(SelectFstxTest, MislabelledTreeIsNotActivated) {
  // A directory named 2-bbbb whose tree says it is something else is not state 2-bbbb.
  WriteFile(root_ + "/.moss/root/2-bbbb/usr/.fstx", "7-gggg\n");
  WriteFile(root_ + "/.moss/root/7-gggg/usr/.fstx", "7-gggg\n");
  int rc = 0;
  const std::string msg = Select("2-bbbb", &rc);
  EXPECT_EQ(rc, -1) << msg;
  EXPECT_EQ(ReadFile(root_ + "/usr/bin/marker"), "3-cccc");
}

TEST_F(SelectFstxTest, TakenArchiveNameFailsBeforeTheExchange) {
  WriteFile(root_ + "/.moss/root/3-cccc/leftover", "x");
  int rc = 0;
  const std::string msg = Select("2-bbbb", &rc);
  EXPECT_EQ(rc, -1);
  EXPECT_NE(msg.find("already exists"), std::string::npos) << msg;
  EXPECT_EQ(ReadFile(root_ + "/usr/bin/marker"), "3-cccc");
  EXPECT_EQ(ReadFile(root_ + "/.moss/root/2-bbbb/usr/bin/marker"), "2-bbbb");
}

TEST_F(SelectFstxTest, FindsATreeLeftUnderAnotherNameByAnInterruptedSwitch) {
  // Crash between the exchange and the archive rename: dir "2-bbbb" holds 4-dddd's tree.
  WriteFile(root_ + "/.moss/root/2-bbbb/usr/.fstx", "4-dddd\n");
  int rc = 0;
  const std::string msg = Select("4-dddd", &rc);
  ASSERT_EQ(rc, 0) << msg;
  EXPECT_EQ(ReadFile(root_ + "/usr/.fstx"), "4-dddd\n");
  EXPECT_EQ(ReadFile(root_ + "/.moss/root/3-cccc/usr/.fstx"), "3-cccc\ntoken-3-cccc\n");
}

TEST_F(SelectFstxTest, InvalidIdIsRefused) {
  int rc = 0;
  EXPECT_NE(Select("../../etc", &rc).find("not a state id"), std::string::npos);
  EXPECT_EQ(rc, -1);
}

TEST_F(SelectFstxTest, StaticToolReadsTheCmdlineAndExitsNonZeroOnAWrongFstx) {
  const std::string tool = "boot/initrd/onix-select-fstx";
  WriteFile(root_ + "/cmdline", "root=LABEL=onixroot moss.fstx=1-aaaa quiet\n");
  std::string cmd = tool + " --root " + root_ + " --cmdline " + root_ + "/cmdline";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(ReadFile(root_ + "/usr/bin/marker"), "1-aaaa");
  cmd = tool + " --root " + root_ + " 9-zzzz 2>" + root_ + "/err";
  const int status = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
  EXPECT_NE(ReadFile(root_ + "/err").find("onix-select-fstx: error: state 9-zzzz"),
            std::string::npos);
  EXPECT_EQ(ReadFile(root_ + "/usr/bin/marker"), "1-aaaa");
}

}  // namespace

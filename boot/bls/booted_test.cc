#include "boot/bls/booted.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "boot/bls/entries.h"
#include "boot/bls/states.h"
#include "boot/bls/sync.h"
#include "gtest/gtest.h"
#include "moss/base/temp_dir.h"

namespace onix::boot {
namespace {

namespace stdfs = std::filesystem;

void WriteFile(const std::string& path, const std::string& data) {
  stdfs::create_directories(stdfs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::set<std::string> Ls(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : stdfs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

// An EFI variable file as efivarfs shows it: 4 attribute bytes, then UTF-16LE with a NUL.
std::string EfiString(const std::string& s) {
  std::string raw("\x07\x00\x00\x00", 4);
  for (char c : s) {
    raw.push_back(c);
    raw.push_back('\0');
  }
  raw.append(2, '\0');
  return raw;
}

class BootedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Make("boot-booted-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    tmp_ = std::make_unique<TempDir>(std::move(*dir));
    root_ = tmp_->path() + "/root";
    stdfs::create_directories(root_ + "/boot");
    // State 1-aaaa archived, 2-bbbb active, both with a kernel; entries counted with +1 try.
    for (auto [fstx, usr] : {std::pair<std::string, std::string>{"2-bbbb", root_ + "/usr"},
                             {"1-aaaa", root_ + "/.moss/root/1-aaaa/usr"}}) {
      WriteFile(usr + "/.fstx", fstx + "\n");
      WriteFile(usr + "/lib/kernel/6.1.0-t/vmlinuz", "kernel of " + fstx);
    }
    stdfs::last_write_time(root_ + "/.moss/root/1-aaaa/usr",
                           stdfs::last_write_time(root_ + "/usr") - std::chrono::hours(1));
    WriteFile(root_ + "/etc/kernel/tries", "1\n");
    config_ = DetectBootConfig(root_);
    ASSERT_EQ(config_.boot_tries, 1);
    Sync();
    ASSERT_EQ(Ls(Entries()), (std::set<std::string>{"onix-1-aaaa+1.conf", "onix-2-bbbb+1.conf"}));
  }

  void Sync() {
    auto states = DiscoverStates(root_);
    ASSERT_TRUE(states.ok()) << states.status();
    absl::Status st = SyncBootEntries(config_, *states);
    ASSERT_TRUE(st.ok()) << st;
  }

  std::string Entries() { return root_ + "/boot/loader/entries"; }

  // What systemd-boot does to an entry it starts: one try used.
  void BootTry(const std::string& from, const std::string& to) {
    stdfs::rename(Entries() + "/" + from, Entries() + "/" + to);
  }

  std::unique_ptr<TempDir> tmp_;
  std::string root_;
  BootConfig config_;
};

TEST_F(BootedTest, TriesFileSetsTheCounterOfNewEntriesAndAMalformedOneFailsTheSync) {
  WriteFile(root_ + "/etc/kernel/tries", "many\n");
  BootConfig bad = DetectBootConfig(root_);
  auto states = DiscoverStates(root_);
  ASSERT_TRUE(states.ok());
  absl::Status st = SyncBootEntries(bad, *states);
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_NE(st.message().find(root_ + "/etc/kernel/tries"), std::string::npos) << st;
  EXPECT_EQ(Ls(Entries()), (std::set<std::string>{"onix-1-aaaa+1.conf", "onix-2-bbbb+1.conf"}));
}

TEST_F(BootedTest, LoaderEntrySelectedWinsOverTheCommandLine) {
  WriteFile(tmp_->path() + "/efivars/LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f",
            EfiString("onix-1-aaaa+0-1.conf"));
  WriteFile(tmp_->path() + "/cmdline", "root=LABEL=onixroot rw moss.fstx=2-bbbb\n");
  auto booted = FindBootedState(root_, {tmp_->path() + "/cmdline", tmp_->path() + "/efivars"});
  ASSERT_TRUE(booted.ok()) << booted.status();
  EXPECT_EQ(booted->fstx, "1-aaaa");
  EXPECT_EQ(booted->source, "LoaderEntrySelected=onix-1-aaaa+0-1.conf");
}

TEST_F(BootedTest, CommandLineNamesTheBootedStateWithoutEfiVariables) {
  WriteFile(tmp_->path() + "/cmdline", "moss.fstx=9-zzzz quiet moss.fstx=1-aaaa\n");
  auto booted = FindBootedState(root_, {tmp_->path() + "/cmdline", tmp_->path() + "/none"});
  ASSERT_TRUE(booted.ok()) << booted.status();
  EXPECT_EQ(booted->fstx, "1-aaaa");
  auto none = FindBootedState(root_, {});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->fstx, "2-bbbb");
}

TEST_F(BootedTest, MarkGoodRenamesTheBootedEntryToItsPlainName) {
  BootTry("onix-2-bbbb+1.conf", "onix-2-bbbb+0-1.conf");
  WriteFile(tmp_->path() + "/cmdline", "rw moss.fstx=2-bbbb\n");
  auto r = MarkBootedGood(config_, "", {tmp_->path() + "/cmdline", ""});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->fstx, "2-bbbb");
  EXPECT_FALSE(r->fell_back);
  EXPECT_TRUE(r->bad_entries.empty());
  EXPECT_EQ(Ls(Entries()), (std::set<std::string>{"onix-1-aaaa+1.conf", "onix-2-bbbb.conf"}));
}

TEST_F(BootedTest, MarkGoodRefusesABootedStateTheInitrdDidNotActivate) {
  WriteFile(tmp_->path() + "/cmdline", "rw moss.fstx=1-aaaa\n");
  auto r = MarkBootedGood(config_, "", {tmp_->path() + "/cmdline", ""});
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_NE(r.status().message().find("active state is 2-bbbb"), std::string::npos);
  EXPECT_EQ(Ls(Entries()), (std::set<std::string>{"onix-1-aaaa+1.conf", "onix-2-bbbb+1.conf"}));
}

TEST_F(BootedTest, AfterAFallbackTheGoodStateBecomesTheDefaultAndTheBadEntryStaysBad) {
  // Boot 1: systemd-boot tried 2-bbbb (its last try) and it never reached mark-good. Boot 2:
  // 2-bbbb is bad, the menu falls to 1-aaaa, whose initrd exchanged it into /usr.
  BootTry("onix-2-bbbb+1.conf", "onix-2-bbbb+0-1.conf");
  BootTry("onix-1-aaaa+1.conf", "onix-1-aaaa+0-1.conf");
  stdfs::rename(root_ + "/usr", root_ + "/usr.tmp");
  stdfs::rename(root_ + "/.moss/root/1-aaaa/usr", root_ + "/usr");
  stdfs::create_directories(root_ + "/.moss/root/2-bbbb");
  stdfs::rename(root_ + "/usr.tmp", root_ + "/.moss/root/2-bbbb/usr");
  stdfs::remove(root_ + "/.moss/root/1-aaaa");
  WriteFile(tmp_->path() + "/efivars/LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f",
            EfiString("onix-1-aaaa+1.conf"));

  auto r = MarkBootedGood(config_, "", {"", tmp_->path() + "/efivars"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->fstx, "1-aaaa");
  EXPECT_TRUE(r->fell_back);
  EXPECT_EQ(r->bad_entries, std::vector<std::string>{"onix-2-bbbb+0-1.conf"});
  EXPECT_EQ(Ls(Entries()), (std::set<std::string>{"onix-1-aaaa.conf", "onix-2-bbbb+0-1.conf"}));
  EXPECT_EQ(ParseEntry("a", ReadFile(Entries() + "/onix-1-aaaa.conf")).sort_key, "onix-0");
  EXPECT_EQ(ParseEntry("b", ReadFile(Entries() + "/onix-2-bbbb+0-1.conf")).sort_key, "onix-1");
}

}  // namespace
}  // namespace onix::boot

#include "boot/bls/sync.h"

#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "boot/bls/entries.h"
#include "boot/bls/states.h"
#include "boot/systemd_boot/install.h"
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
  if (!stdfs::exists(dir)) return out;
  for (const auto& e : stdfs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

class BootSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Make("boot-sync-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    tmp_ = std::make_unique<TempDir>(std::move(*dir));
    root_ = tmp_->path() + "/root";
    stdfs::create_directories(root_ + "/boot");
    config_.root = root_;
    config_.esp_dir = root_ + "/boot";
  }

  // A state tree with a kernel whose bytes are `kernel` (initrd = kernel + "-initrd").
  StateBootInfo State(const std::string& fstx, const std::string& kernel, bool active,
                      int64_t created, size_t size = 1000) {
    const std::string usr = active ? root_ + "/usr" : root_ + "/.moss/root/" + fstx + "/usr";
    WriteFile(usr + "/.fstx", fstx + "\n");
    if (!kernel.empty()) {
      std::string bytes = kernel;
      bytes.resize(size, 'k');
      WriteFile(usr + "/lib/kernel/6.1.0-test/vmlinuz", bytes);
      WriteFile(usr + "/lib/kernel/6.1.0-test/initrd", bytes + "-initrd");
    }
    return StateBootInfo{fstx, usr, created, active};
  }

  std::string Entries() { return root_ + "/boot/loader/entries"; }

  // Every entry's kernel files exist, each entry names its own fstx, loader.conf has a default
  // that matches an entry, and no partial (temp) entry is visible under an entry name.
  void ExpectConsistent() {
    auto entries = ListOnixEntries(root_ + "/boot");
    ASSERT_TRUE(entries.ok()) << entries.status();
    ASSERT_FALSE(entries->empty());
    for (const BootEntry& e : *entries) {
      EXPECT_TRUE(stdfs::exists(root_ + "/boot" + e.linux)) << e.file << " -> " << e.linux;
      EXPECT_TRUE(stdfs::exists(root_ + "/boot" + e.initrd)) << e.file << " -> " << e.initrd;
      EXPECT_NE(e.options.find("moss.fstx=" + e.name.fstx), std::string::npos) << e.file;
      EXPECT_FALSE(e.title.empty()) << e.file;
    }
    EXPECT_NE(ReadFile(root_ + "/boot/loader/loader.conf").find("\ndefault onix-*\n"),
              std::string::npos);
  }

  std::unique_ptr<TempDir> tmp_;
  std::string root_;
  BootConfig config_;
};

TEST_F(BootSyncTest, WritesOneCountedEntryPerStateWithKernelAndCmdline) {
  WriteFile(root_ + "/etc/kernel/cmdline", "root=LABEL=onixroot  rw\nquiet moss.fstx=9-zzzz\n");
  std::vector<StateBootInfo> states = {State("2-bbbb", "K2", true, 2000000000),
                                       State("1-aaaa", "K1", false, 1000000000),
                                       State("0-0000", "", false, 900000000)};
  {
    auto s_ = SyncBootEntries(config_, states);
    ASSERT_TRUE(s_.ok()) << s_;
  }
  EXPECT_EQ(Ls(Entries()), (std::set<std::string>{"onix-1-aaaa+3.conf", "onix-2-bbbb+3.conf"}));
  BootEntry e = ParseEntry("onix-2-bbbb+3.conf", ReadFile(Entries() + "/onix-2-bbbb+3.conf"));
  EXPECT_EQ(e.title, "ONIX 2-bbbb (2033-05-18 03:33)");
  EXPECT_EQ(e.version, "2-bbbb");
  EXPECT_EQ(e.sort_key, "onix-0");
  EXPECT_EQ(e.options, "root=LABEL=onixroot rw quiet moss.fstx=2-bbbb");
  EXPECT_EQ(ReadFile(root_ + "/boot" + e.linux).substr(0, 2), "K2");
  EXPECT_EQ(ReadFile(root_ + "/boot" + e.initrd).substr(995), "kkkkk-initrd");
  BootEntry old = ParseEntry("onix-1-aaaa+3.conf", ReadFile(Entries() + "/onix-1-aaaa+3.conf"));
  EXPECT_EQ(old.sort_key, "onix-1");
  EXPECT_NE(old.linux, e.linux);
  ExpectConsistent();
}

TEST_F(BootSyncTest, CmdlineFallsBackToTheStatesOwnFile) {
  std::vector<StateBootInfo> states = {State("2-bbbb", "K2", true, 2)};
  WriteFile(root_ + "/usr/lib/kernel/cmdline", "root=LABEL=x\n");
  config_.boot_counting = false;
  {
    auto s_ = SyncBootEntries(config_, states);
    ASSERT_TRUE(s_.ok()) << s_;
  }
  BootEntry e = ParseEntry("onix-2-bbbb.conf", ReadFile(Entries() + "/onix-2-bbbb.conf"));
  EXPECT_EQ(e.options, "root=LABEL=x moss.fstx=2-bbbb");
}

TEST_F(BootSyncTest, StatesWithTheSameKernelShareOneCopy) {
  std::vector<StateBootInfo> states = {State("3-cccc", "SAME", true, 3),
                                       State("2-bbbb", "SAME", false, 2),
                                       State("1-aaaa", "OTHER", false, 1)};
  {
    auto s_ = SyncBootEntries(config_, states);
    ASSERT_TRUE(s_.ok()) << s_;
  }
  EXPECT_EQ(Ls(root_ + "/boot/onix").size(), 2u);
  BootEntry a = ParseEntry("a", ReadFile(Entries() + "/onix-3-cccc+3.conf"));
  BootEntry b = ParseEntry("b", ReadFile(Entries() + "/onix-2-bbbb+3.conf"));
  EXPECT_EQ(a.linux, b.linux);
}

TEST_F(BootSyncTest, RetainKeepsTheActiveAndTheNewestArchivedStates) {
  std::vector<StateBootInfo> states = {
      State("1-aaaa", "K1", false, 10), State("5-eeee", "K5", true, 50),
      State("4-dddd", "K4", false, 40), State("3-cccc", "K3", false, 30),
      State("2-bbbb", "K2", false, 20)};
  config_.retain = 2;
  {
    auto s_ = SyncBootEntries(config_, states);
    ASSERT_TRUE(s_.ok()) << s_;
  }
  EXPECT_EQ(Ls(Entries()), (std::set<std::string>{"onix-5-eeee+3.conf", "onix-4-dddd+3.conf",
                                                  "onix-3-cccc+3.conf"}));
  EXPECT_EQ(Ls(root_ + "/boot/onix").size(), 3u);
}

TEST_F(BootSyncTest, PruneRemovesStaleEntriesAndUnreferencedKernels) {
  std::vector<StateBootInfo> states = {State("2-bbbb", "K2", true, 2),
                                       State("1-aaaa", "K1", false, 1)};
  {
    auto s_ = SyncBootEntries(config_, states);
    ASSERT_TRUE(s_.ok()) << s_;
  }
  EXPECT_EQ(Ls(root_ + "/boot/onix").size(), 2u);
  // A foreign entry and a leftover temp dir of an interrupted copy.
  WriteFile(Entries() + "/debian.conf", "title Debian\n");
  stdfs::create_directories(root_ + "/boot/onix/.tmp-deadbeef");
  states.pop_back();
  {
    auto s_ = SyncBootEntries(config_, states);
    ASSERT_TRUE(s_.ok()) << s_;
  }
  EXPECT_EQ(Ls(Entries()), (std::set<std::string>{"debian.conf", "onix-2-bbbb+3.conf"}));
  BootEntry e = ParseEntry("e", ReadFile(Entries() + "/onix-2-bbbb+3.conf"));
  EXPECT_EQ(Ls(root_ + "/boot/onix"),
            (std::set<std::string>{e.linux.substr(6, e.linux.size() - 6 - 8)}));
}

TEST_F(BootSyncTest, DefaultFollowsActivationThroughSortKey) {
  std::vector<StateBootInfo> states = {State("2-bbbb", "K2", true, 2),
                                       State("1-aaaa", "K1", false, 1)};
  {
    auto s_ = SyncBootEntries(config_, states);
    ASSERT_TRUE(s_.ok()) << s_;
  }
  // Roll back: 1-aaaa becomes active (moss exchanged the trees), 2-bbbb archived.
  stdfs::rename(root_ + "/usr", root_ + "/swap");
  stdfs::rename(root_ + "/.moss/root/1-aaaa", root_ + "/.moss/root/2-bbbb");
  stdfs::rename(root_ + "/.moss/root/2-bbbb/usr", root_ + "/usr");
  stdfs::rename(root_ + "/swap", root_ + "/.moss/root/2-bbbb/usr");
  auto found = DiscoverStates(root_);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[0].fstx, "1-aaaa");
  EXPECT_TRUE((*found)[0].active);
  {
    auto s_ = SyncBootEntries(config_, *found);
    ASSERT_TRUE(s_.ok()) << s_;
  }
  EXPECT_EQ(ParseEntry("a", ReadFile(Entries() + "/onix-1-aaaa+3.conf")).sort_key, "onix-0");
  EXPECT_EQ(ParseEntry("b", ReadFile(Entries() + "/onix-2-bbbb+3.conf")).sort_key, "onix-1");
  ExpectConsistent();
}

TEST_F(BootSyncTest, ExistingEntryKeepsItsAssessedNameAndMarkGoodRenames) {
  std::vector<StateBootInfo> states = {State("2-bbbb", "K2", true, 2)};
  {
    auto s_ = SyncBootEntries(config_, states);
    ASSERT_TRUE(s_.ok()) << s_;
  }
  ASSERT_TRUE(MarkEntryGood(root_ + "/boot", "2-bbbb").ok());
  EXPECT_EQ(Ls(Entries()), (std::set<std::string>{"onix-2-bbbb.conf"}));
  EXPECT_TRUE(MarkEntryGood(root_ + "/boot", "2-bbbb").ok());  // idempotent
  EXPECT_EQ(MarkEntryGood(root_ + "/boot", "7-gggg").code(), absl::StatusCode::kNotFound);
  // systemd-boot counted a failed try on an other entry; sync must keep that name.
  states.push_back(State("1-aaaa", "K1", false, 1));
  {
    auto s_ = SyncBootEntries(config_, states);
    ASSERT_TRUE(s_.ok()) << s_;
  }
  stdfs::rename(Entries() + "/onix-1-aaaa+3.conf", Entries() + "/onix-1-aaaa+2-1.conf");
  {
    auto s_ = SyncBootEntries(config_, states);
    ASSERT_TRUE(s_.ok()) << s_;
  }
  EXPECT_EQ(Ls(Entries()), (std::set<std::string>{"onix-2-bbbb.conf", "onix-1-aaaa+2-1.conf"}));
}

TEST_F(BootSyncTest, EntriesGoToXbootldrAndLoaderConfToTheEsp) {
  stdfs::create_directories(root_ + "/efi");
  config_.esp_dir = root_ + "/efi";
  config_.xbootldr_dir = root_ + "/boot";
  WriteFile(root_ + "/efi/loader/loader.conf", "timeout 7\ndefault old.conf\n");
  {
    auto s_ = SyncBootEntries(config_, {State("2-bbbb", "K2", true, 2)});
    ASSERT_TRUE(s_.ok()) << s_;
  }
  EXPECT_EQ(Ls(root_ + "/boot/loader/entries"), (std::set<std::string>{"onix-2-bbbb+3.conf"}));
  EXPECT_FALSE(stdfs::exists(root_ + "/efi/loader/entries"));
  EXPECT_FALSE(stdfs::exists(root_ + "/efi/onix"));
  const std::string conf = ReadFile(root_ + "/efi/loader/loader.conf");
  EXPECT_NE(conf.find("\ndefault onix-*\n"), std::string::npos) << conf;
  EXPECT_NE(conf.find("timeout 7\n"), std::string::npos) << conf;
  EXPECT_EQ(conf.find("old.conf"), std::string::npos) << conf;
}

TEST_F(BootSyncTest, RejectsInvalidStateIdsWithoutWriting) {
  auto s = SyncBootEntries(config_, {StateBootInfo{"../x", root_ + "/usr", 1, true}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(stdfs::exists(Entries()));
}

// Runs SyncBootEntries in a child with MOSS_CRASH_AT=point; true when the child was killed.
bool SyncCrashingAt(const BootConfig& config, const std::vector<StateBootInfo>& states,
                    const char* point) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("MOSS_CRASH_AT", point, 1);
    const absl::Status s = SyncBootEntries(config, states);
    ::_exit(s.ok() ? 0 : 1);
  }
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  return WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL;
}

TEST_F(BootSyncTest, CrashAtEverySyncStepLeavesAConsistentSet) {
  for (size_t i = 0; i < kBootSyncCrashPointCount; ++i) {
    const char* point = kBootSyncCrashPoints[i];
    SCOPED_TRACE(point);
    stdfs::remove_all(root_);
    stdfs::create_directories(root_ + "/boot");
    config_.retain = 1;
    std::vector<StateBootInfo> before = {State("2-bbbb", "K2", true, 2),
                                         State("1-aaaa", "K1", false, 1)};
    {
      auto s_ = SyncBootEntries(config_, before);
      ASSERT_TRUE(s_.ok()) << s_;
    }
    stdfs::remove_all(root_ + "/.moss/root/1-aaaa");
    stdfs::create_directories(root_ + "/.moss/root/2-bbbb");
    stdfs::rename(root_ + "/usr", root_ + "/.moss/root/2-bbbb/usr");
    std::vector<StateBootInfo> after = {
        State("3-cccc", "K3", true, 3),
        StateBootInfo{"2-bbbb", root_ + "/.moss/root/2-bbbb/usr", 2, false}};
    EXPECT_TRUE(SyncCrashingAt(config_, after, point)) << "crash point not reached";
    ExpectConsistent();
    {
      auto s_ = SyncBootEntries(config_, after);
      ASSERT_TRUE(s_.ok()) << s_;
    }
    EXPECT_EQ(Ls(Entries()), (std::set<std::string>{"onix-3-cccc+3.conf", "onix-2-bbbb+3.conf"}));
    EXPECT_EQ(Ls(root_ + "/boot/onix").size(), 2u);
    ExpectConsistent();
  }
}

TEST_F(BootSyncTest, NotEnoughSpaceFailsAndLeavesTheOldEntries) {
  // A real small filesystem: a 900 KiB tmpfs in a private mount namespace of this test process.
  if (::unshare(CLONE_NEWNS) != 0 || ::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr)) {
    GTEST_SKIP() << "no private mount namespace here (needs root): " << std::strerror(errno);
  }
  ASSERT_EQ(::mount("tmpfs", (root_ + "/boot").c_str(), "tmpfs", 0, "size=900k"), 0);
  std::vector<StateBootInfo> states = {State("1-aaaa", "K1", true, 1, 200 * 1024)};
  {
    auto s_ = SyncBootEntries(config_, states);
    ASSERT_TRUE(s_.ok()) << s_;
  }
  const std::string old_entry = ReadFile(Entries() + "/onix-1-aaaa+3.conf");
  const auto old_kernels = Ls(root_ + "/boot/onix");
  stdfs::create_directories(root_ + "/.moss/root/1-aaaa");
  stdfs::rename(root_ + "/usr", root_ + "/.moss/root/1-aaaa/usr");
  states = {State("2-bbbb", "K2", true, 2, 300 * 1024),
            StateBootInfo{"1-aaaa", root_ + "/.moss/root/1-aaaa/usr", 1, false}};
  absl::Status s = SyncBootEntries(config_, states);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_NE(s.message().find("not enough space"), std::string::npos) << s;
  EXPECT_NE(s.message().find("--retain"), std::string::npos) << s;
  EXPECT_EQ(Ls(Entries()), (std::set<std::string>{"onix-1-aaaa+3.conf"}));
  EXPECT_EQ(ReadFile(Entries() + "/onix-1-aaaa+3.conf"), old_entry);
  EXPECT_EQ(Ls(root_ + "/boot/onix"), old_kernels);
  // Retaining no archived state frees the old kernel first, and then it fits.
  config_.retain = 0;
  {
    auto s_ = SyncBootEntries(config_, states);
    ASSERT_TRUE(s_.ok()) << s_;
  }
  EXPECT_EQ(Ls(Entries()), (std::set<std::string>{"onix-2-bbbb+3.conf"}));
  ExpectConsistent();
  ASSERT_EQ(::umount((root_ + "/boot").c_str()), 0);
}

TEST_F(BootSyncTest, RealBootctlParsesTheEntriesAndPicksTheActiveAsDefault) {
  if (!BootctlAvailable()) GTEST_SKIP() << "bootctl is not installed (Debian package systemd-boot)";
  std::vector<StateBootInfo> states = {State("10-eeee", "K10", false, 10),
                                       State("2-bbbb", "K2", true, 2),
                                       State("1-aaaa", "K1", false, 1)};
  {
    auto s_ = SyncBootEntries(config_, states);
    ASSERT_TRUE(s_.ok()) << s_;
  }
  auto out = RunBootctl(root_ + "/boot", "", {"list"});
  ASSERT_TRUE(out.ok()) << out.status();
  for (const char* id : {"onix-10-eeee.conf", "onix-2-bbbb.conf", "onix-1-aaaa.conf"}) {
    EXPECT_NE(out->find(std::string("id: ") + id), std::string::npos) << *out;
  }
  EXPECT_NE(out->find("title: ONIX 2-bbbb"), std::string::npos) << *out;
  // The active (older) state is the default, not the newest one.
  const size_t def = out->find("(default)");
  ASSERT_NE(def, std::string::npos) << *out;
  EXPECT_EQ(out->rfind("title: ONIX 2-bbbb", def), out->rfind("title:", def)) << *out;
  EXPECT_EQ(out->find("No such file"), std::string::npos) << *out;
  // When the active entry used up its tries, the next state becomes the default.
  stdfs::rename(Entries() + "/onix-2-bbbb+3.conf", Entries() + "/onix-2-bbbb+0-3.conf");
  out = RunBootctl(root_ + "/boot", "", {"list"});
  ASSERT_TRUE(out.ok()) << out.status();
  const size_t def2 = out->find("(default)");
  ASSERT_NE(def2, std::string::npos) << *out;
  EXPECT_EQ(out->rfind("title: ONIX 10-eeee", def2), out->rfind("title:", def2)) << *out;
}

}  // namespace
}  // namespace onix::boot

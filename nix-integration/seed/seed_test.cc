#include "nix-integration/seed/seed.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "moss/base/temp_dir.h"

namespace onix::nixplane {
namespace {

namespace stdfs = std::filesystem;

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Write(const std::string& path, const std::string& data) {
  stdfs::create_directories(stdfs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

// Everything under `root` (minus the skipped top-level names): kind, mode, bytes or target.
std::map<std::string, std::string> Snapshot(const std::string& root,
                                            std::initializer_list<std::string> skip = {}) {
  std::map<std::string, std::string> out;
  for (auto it = stdfs::recursive_directory_iterator(root); it != stdfs::end(it); ++it) {
    const std::string rel = stdfs::relative(it->path(), root).string();
    bool skipped = false;
    for (const auto& s : skip) skipped |= rel == s || rel.rfind(s + "/", 0) == 0;
    if (skipped) continue;
    struct stat st;
    ::lstat(it->path().c_str(), &st);
    std::string v = std::to_string(st.st_mode);
    if (it->is_symlink()) {
      v += " -> " + stdfs::read_symlink(it->path()).string();
    } else if (it->is_regular_file()) {
      v += " " + Read(it->path().string());
    }
    out[rel] = v;
  }
  return out;
}

class SeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Make("seed-test-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    root_ = dir_->path();
    ASSERT_TRUE(InstallShippedData(root_, "nix-integration/data").ok());
    Write(root_ + "/etc/passwd",
          "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n");
    Write(root_ + "/etc/group", "root:x:0:\nusers:x:100:alice\n");
    Write(root_ + "/etc/shadow", "root:*:19000:0:99999:7:::\n");
  }
  std::unique_ptr<TempDir> dir_;
  std::string root_;
};

TEST_F(SeedTest, SecondSeedChangesNothingByteForByte) {
  auto first = Seed(root_);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->changed.empty());
  EXPECT_TRUE(first->drift.empty());
  const auto before = Snapshot(root_);
  auto second = Seed(root_);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->changed.empty());
  EXPECT_TRUE(second->drift.empty());
  EXPECT_EQ(Snapshot(root_), before);
  auto drift = EtcNixDrift(root_);
  ASSERT_TRUE(drift.ok()) << drift.status();
  EXPECT_TRUE(drift->empty());
}

TEST_F(SeedTest, SeedsUsersFilesAndRuntimeDirsKeepingOtherEntries) {
  ASSERT_TRUE(Seed(root_).ok());
  const std::string passwd = Read(root_ + "/etc/passwd");
  EXPECT_EQ(
      passwd.rfind("root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n", 0),
      0u);
  EXPECT_NE(passwd.find("nixbld1:x:30001:30000:Nix build user 1:/var/empty:/usr/sbin/nologin\n"),
            std::string::npos);
  EXPECT_NE(passwd.find("nixbld32:x:30032:30000:"), std::string::npos);
  EXPECT_NE(Read(root_ + "/etc/group").find("nixbld:x:30000:nixbld1,nixbld2,"), std::string::npos);
  EXPECT_NE(Read(root_ + "/etc/shadow").find("nixbld7:!:"), std::string::npos);
  EXPECT_EQ(Read(root_ + "/etc/nix/nix.conf"), Read("nix-integration/data/nix.conf"));
  EXPECT_NE(Read(root_ + "/etc/profile.d/nix.sh").find("__ONIX_NIX_PROFILE_SOURCED"),
            std::string::npos);
  for (const char* d : {"nix/var/nix/profiles/per-user", "nix/var/nix/gcroots/per-user",
                        "nix/var/nix/daemon-socket"}) {
    struct stat st;
    ASSERT_EQ(::stat((root_ + "/" + d).c_str(), &st), 0) << d;
    EXPECT_EQ(st.st_mode & 07777, 0755u) << d;
  }
  EXPECT_EQ(
      stdfs::read_symlink(root_ + "/etc/systemd/system/sockets.target.wants/nix-daemon.socket"),
      "../nix-daemon.socket");
}

TEST_F(SeedTest, PreExistingSeededFilesGetTheirDeclaredModeAndOwner) {
  // An installer left the right bytes with the wrong mode and owner.
  Write(root_ + "/etc/init.d/nix-daemon", Read("nix-integration/data/nix-daemon.init"));
  Write(root_ + "/etc/nix/nix.conf", Read("nix-integration/data/nix.conf"));
  ASSERT_EQ(::chmod((root_ + "/etc/init.d/nix-daemon").c_str(), 0600), 0);
  ASSERT_EQ(::chmod((root_ + "/etc/nix/nix.conf").c_str(), 0666), 0);
  const bool as_root = ::geteuid() == 0;
  if (as_root) {
    ASSERT_EQ(::chown((root_ + "/etc/nix/nix.conf").c_str(), 1000, 1000), 0);
  }
  auto report = Seed(root_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->drift.empty());
  struct stat st;
  ASSERT_EQ(::stat((root_ + "/etc/init.d/nix-daemon").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat((root_ + "/etc/nix/nix.conf").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  if (as_root) {
    EXPECT_EQ(st.st_uid, 0u);
  }
  const auto& changed = report->changed;
  EXPECT_NE(std::find(changed.begin(), changed.end(), "/etc/init.d/nix-daemon (mode 0600 -> 0755)"),
            changed.end());
  EXPECT_NE(std::find(changed.begin(), changed.end(), "/etc/nix/nix.conf (mode 0666 -> 0644)"),
            changed.end());
  if (as_root) {
    EXPECT_NE(
        std::find(changed.begin(), changed.end(), "/etc/nix/nix.conf (owner 1000:1000 -> 0:0)"),
        changed.end());
  }
  // Pre-existing identical files are not claimed by the receipt, so unseed leaves them.
  EXPECT_EQ(Read(root_ + "/var/lib/onix/nix-integration/receipt.json").find("etc/nix/nix.conf"),
            std::string::npos);
  auto again = Seed(root_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->changed.empty());
}

TEST_F(SeedTest, EditedNixConfIsKeptAndReportedAsOneDrift) {
  ASSERT_TRUE(Seed(root_).ok());
  const std::string edited = Read(root_ + "/etc/nix/nix.conf") + "max-jobs = 8\n";
  Write(root_ + "/etc/nix/nix.conf", edited);
  auto again = Seed(root_);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->drift.size(), 1u);
  EXPECT_EQ(again->drift[0].ToString(), "/etc/nix/nix.conf: modified");
  EXPECT_EQ(Read(root_ + "/etc/nix/nix.conf"), edited);
  auto drift = EtcNixDrift(root_);
  ASSERT_TRUE(drift.ok());
  ASSERT_EQ(drift->size(), 1u);
  EXPECT_EQ((*drift)[0].path, "/etc/nix/nix.conf");
}

TEST_F(SeedTest, NewDeclaredDefaultReplacesAnUneditedFile) {
  ASSERT_TRUE(Seed(root_).ok());
  const std::string next = Read(root_ + "/usr/share/defaults/nix/nix.conf") + "cores = 2\n";
  Write(root_ + "/usr/share/defaults/nix/nix.conf", next);
  auto drift = EtcNixDrift(root_);
  ASSERT_TRUE(drift.ok());
  EXPECT_EQ(drift->size(), 1u);  // until re-seeded, /etc/nix lags the declared default
  auto again = Seed(root_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->drift.empty());
  EXPECT_EQ(Read(root_ + "/etc/nix/nix.conf"), next);
}

TEST_F(SeedTest, UidTakenByAnotherNameIsRefusedWithoutWriting) {
  Write(root_ + "/etc/passwd", "root:x:0:0::/root:/bin/sh\nbob:x:30005:100::/home/bob:/bin/sh\n");
  const auto before = Snapshot(root_);
  auto report = Seed(root_);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(report.status().message().find("id 30005 is taken by user 'bob'"), std::string::npos)
      << report.status();
  EXPECT_EQ(Snapshot(root_), before);
}

TEST_F(SeedTest, GidTakenByAnotherGroupIsRefused) {
  Write(root_ + "/etc/group", "root:x:0:\nbuilders:x:30000:\n");
  auto report = Seed(root_);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("id 30000 is taken by group 'builders'"),
            std::string::npos)
      << report.status();
}

TEST_F(SeedTest, NixbldWithAnotherUidIsRefused) {
  Write(root_ + "/etc/passwd", "root:x:0:0::/root:/bin/sh\nnixbld3:x:999:999::/:/bin/false\n");
  auto report = Seed(root_);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("user 'nixbld3' exists with id 999"), std::string::npos)
      << report.status();
}

TEST_F(SeedTest, UnseedRemovesExactlyWhatSeedCreatedAndLeavesNix) {
  Write(root_ + "/etc/profile.d/other.sh", "export OTHER=1\n");
  const auto before = Snapshot(root_);
  ASSERT_TRUE(Seed(root_).ok());
  Write(root_ + "/nix/var/nix/profiles/default-1-link", "pretend profile\n");
  auto report = Unseed(root_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->kept.empty());
  EXPECT_EQ(Snapshot(root_, {"nix"}), before);
  EXPECT_EQ(Read(root_ + "/nix/var/nix/profiles/default-1-link"), "pretend profile\n");
  EXPECT_TRUE(stdfs::is_directory(root_ + "/nix/var/nix/daemon-socket"));
}

TEST_F(SeedTest, UnseedOfARootWithoutUserFilesLeavesNoneBehind) {
  stdfs::remove(root_ + "/etc/passwd");
  stdfs::remove(root_ + "/etc/group");
  stdfs::remove(root_ + "/etc/shadow");
  ASSERT_TRUE(Seed(root_).ok());
  EXPECT_NE(Read(root_ + "/etc/passwd").find("nixbld1:"), std::string::npos);
  EXPECT_FALSE(stdfs::exists(root_ + "/etc/shadow"));  // never created, only edited
  ASSERT_TRUE(Unseed(root_).ok());
  EXPECT_FALSE(stdfs::exists(root_ + "/etc/passwd"));
  EXPECT_FALSE(stdfs::exists(root_ + "/etc/group"));
}

TEST_F(SeedTest, UnseedKeepsAFileEditedAfterSeeding) {
  ASSERT_TRUE(Seed(root_).ok());
  Write(root_ + "/etc/nix/nix.conf", "sandbox = false\n");
  auto report = Unseed(root_);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->kept.size(), 2u);  // the file and its directory
  EXPECT_EQ(report->kept[0], "/etc/nix/nix.conf");
  EXPECT_EQ(Read(root_ + "/etc/nix/nix.conf"), "sandbox = false\n");
  EXPECT_FALSE(stdfs::exists(root_ + "/etc/profile.d/nix.sh"));
  EXPECT_EQ(Read(root_ + "/etc/passwd").find("nixbld"), std::string::npos);
}

TEST_F(SeedTest, UnseedWithoutReceiptIsNotFound) {
  auto report = Unseed(root_);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SeedTest, MissingStoneDataFailsBeforeWriting) {
  stdfs::remove(root_ + "/usr/share/defaults/nix/nix.conf");
  const auto before = Snapshot(root_);
  auto report = Seed(root_);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(report.status().message().find("usr/share/defaults/nix/nix.conf"), std::string::npos);
  EXPECT_EQ(Snapshot(root_), before);
}

}  // namespace
}  // namespace onix::nixplane

#include "onix-cli/etc/etc_drift.h"

#include <sys/stat.h>

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/temp_dir.h"

namespace onix::cli {
namespace {

class EtcDriftTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Make("etc-drift-");
    ASSERT_TRUE(t.ok());
    root_ = std::make_unique<TempDir>(std::move(t).value());
    Put("usr/share/defaults/etc/hostname", "onix\n");
    Put("usr/share/defaults/etc/profile", "export PATH=/usr/bin\n");
    Put("usr/share/defaults/etc/nix/nix.conf", "sandbox = true\n");
    Put("etc/hostname", "onix\n");
    Put("etc/profile", "export PATH=/usr/bin\n");
    Put("etc/nix/nix.conf", "sandbox = true\n");
    Put("etc/admin-only.conf", "mine\n");
  }
  void Put(const std::string& path, const std::string& data) {
    const size_t slash = path.rfind('/');
    ASSERT_TRUE(fs::MkdirAllAt(root_->fd(), path.substr(0, slash), 0755).ok());
    auto dir = fs::OpenDirAt(root_->fd(), path.substr(0, slash));
    ASSERT_TRUE(dir.ok());
    ASSERT_TRUE(
        fs::WriteFileAtomicAt(dir->get(), path.substr(slash + 1), data, 0644, fs::Durability::kNone)
            .ok());
  }
  std::string Read(const std::string& path) { return *fs::ReadFileAt(root_->fd(), path); }
  std::unique_ptr<TempDir> root_;
};

TEST_F(EtcDriftTest, PristineEtcHasNoDriftAndAdminFilesAreNotDrift) {
  auto drift = ComputeEtcDrift(root_->fd());
  ASSERT_TRUE(drift.ok()) << drift.status();
  EXPECT_TRUE(drift->empty());
}

TEST_F(EtcDriftTest, ReportsModifiedAndDeletedFilesSorted) {
  Put("etc/nix/nix.conf", "sandbox = false\n");
  ASSERT_TRUE(fs::UnlinkAt(root_->fd(), "etc/profile").ok());
  auto drift = ComputeEtcDrift(root_->fd());
  ASSERT_TRUE(drift.ok()) << drift.status();
  ASSERT_EQ(drift->size(), 2u);
  EXPECT_EQ((*drift)[0].path, "nix/nix.conf");
  EXPECT_EQ((*drift)[0].kind, DriftKind::kModified);
  EXPECT_EQ((*drift)[1].path, "profile");
  EXPECT_EQ((*drift)[1].kind, DriftKind::kDeleted);
}

TEST_F(EtcDriftTest, DiffShowsLocalChangeAgainstDefault) {
  Put("etc/hostname", "workstation\n");
  auto diff = EtcDiff(root_->fd(), "hostname");
  ASSERT_TRUE(diff.ok()) << diff.status();
  EXPECT_EQ(*diff,
            "--- /usr/share/defaults/etc/hostname\n+++ /etc/hostname\n@@ -1 +1 @@\n-onix\n"
            "+workstation\n");
  EXPECT_TRUE(absl::IsNotFound(EtcDiff(root_->fd(), "admin-only.conf").status()));
}

TEST_F(EtcDriftTest, ResetRestoresDefaultAndLeavesOthersAlone) {
  Put("etc/hostname", "workstation\n");
  Put("etc/profile", "local\n");
  ASSERT_TRUE(ResetEtcFile(root_->fd(), "hostname").ok());
  EXPECT_EQ(Read("etc/hostname"), "onix\n");
  EXPECT_EQ(Read("etc/profile"), "local\n");
  EXPECT_EQ(Read("etc/admin-only.conf"), "mine\n");
  EXPECT_TRUE(absl::IsNotFound(ResetEtcFile(root_->fd(), "admin-only.conf")));
  EXPECT_TRUE(absl::IsInvalidArgument(ResetEtcFile(root_->fd(), "../usr/bin/sh")));
}

}  // namespace
}  // namespace onix::cli

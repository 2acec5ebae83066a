#include "boot/systemd_boot/install.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "moss/base/temp_dir.h"

namespace onix::boot {
namespace {

namespace stdfs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class InstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Make("sd-boot-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    tmp_ = std::make_unique<TempDir>(std::move(*dir));
    esp_ = tmp_->path() + "/esp";
    stdfs::create_directories(esp_);
  }
  std::unique_ptr<TempDir> tmp_;
  std::string esp_;
};

TEST_F(InstallTest, CopyFallbackInstallsTheEfiBinaryAndLoaderConf) {
  const std::string src_dir = tmp_->path() + "/efi-src";
  stdfs::create_directories(src_dir);
  std::ofstream(src_dir + "/systemd-bootx64.efi") << "MZ fake efi";
  InstallOptions opts;
  opts.esp_dir = esp_;
  opts.use_bootctl = false;
  opts.efi_source_dir = src_dir;
  auto result = InstallSystemdBoot(opts);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->used_bootctl);
  EXPECT_EQ(ReadFile(esp_ + "/EFI/BOOT/BOOTX64.EFI"), "MZ fake efi");
  EXPECT_EQ(ReadFile(esp_ + "/EFI/systemd/systemd-bootx64.efi"), "MZ fake efi");
  EXPECT_NE(ReadFile(esp_ + "/loader/loader.conf").find("default onix-*"), std::string::npos);
  EXPECT_TRUE(stdfs::is_directory(esp_ + "/loader/entries"));
}

TEST_F(InstallTest, CopyFallbackWithoutTheEfiBinaryFailsNamingIt) {
  InstallOptions opts;
  opts.esp_dir = esp_;
  opts.use_bootctl = false;
  opts.efi_source_dir = tmp_->path() + "/nowhere";
  auto result = InstallSystemdBoot(opts);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(result.status().message().find("nowhere"), std::string::npos) << result.status();
  EXPECT_FALSE(stdfs::exists(esp_ + "/EFI/BOOT/BOOTX64.EFI"));
}

TEST_F(InstallTest, RealBootctlInstallsIntoAPlainDirectory) {
  if (!BootctlAvailable()) GTEST_SKIP() << "bootctl is not installed (Debian package systemd-boot)";
  InstallOptions opts;
  opts.esp_dir = esp_;
  auto result = InstallSystemdBoot(opts);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->used_bootctl);
  EXPECT_GT(stdfs::file_size(esp_ + "/EFI/BOOT/BOOTX64.EFI"), 10000u);
  EXPECT_TRUE(stdfs::exists(esp_ + "/EFI/systemd/systemd-bootx64.efi"));
  EXPECT_FALSE(stdfs::exists(esp_ + "/loader/random-seed"));
  EXPECT_NE(ReadFile(esp_ + "/loader/loader.conf").find("\ndefault onix-*\n"), std::string::npos);
  // bootctl itself now sees an installed boot loader there.
  auto status = RunBootctl(esp_, "", {"status"});
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_NE(status->find("systemd-boot"), std::string::npos) << *status;
}

TEST_F(InstallTest, BootctlErrorsAreReportedWithItsOutput) {
  if (!BootctlAvailable()) GTEST_SKIP() << "bootctl is not installed (Debian package systemd-boot)";
  auto out = RunBootctl(esp_, "", {"no-such-verb"});
  EXPECT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("no-such-verb"), std::string::npos) << out.status();
}

}  // namespace
}  // namespace onix::boot

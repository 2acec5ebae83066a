#include "boot/bls/states.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "moss/base/temp_dir.h"

namespace onix::boot {
namespace {

namespace stdfs = std::filesystem;

void WriteFile(const std::string& path, const std::string& data) {
  stdfs::create_directories(stdfs::path(path).parent_path());
  std::ofstream(path) << data;
}

TEST(DiscoverStates, ActiveFirstThenArchivedByTheirFstxFile) {
  auto tmp = TempDir::Make("states-");
  ASSERT_TRUE(tmp.ok());
  const std::string root = tmp->path();
  WriteFile(root + "/usr/.fstx", "3-cccc\n0123456789abcdef\n");  // as moss writes it
  WriteFile(root + "/.moss/root/2-bbbb/usr/.fstx", "2-bbbb\n");
  // An interrupted switch left 1-aaaa's tree under another name: its .fstx tells the truth.
  WriteFile(root + "/.moss/root/0-zzzz/usr/.fstx", "1-aaaa\n");
  stdfs::create_directories(root + "/.moss/root/staging/usr");
  stdfs::create_directories(root + "/.moss/root/junk/usr");
  auto states = DiscoverStates(root);
  ASSERT_TRUE(states.ok()) << states.status();
  ASSERT_EQ(states->size(), 3u);
  EXPECT_EQ((*states)[0].fstx, "3-cccc");
  EXPECT_TRUE((*states)[0].active);
  EXPECT_EQ((*states)[0].usr_dir, root + "/usr");
  EXPECT_EQ((*states)[1].fstx, "1-aaaa");
  EXPECT_EQ((*states)[1].usr_dir, root + "/.moss/root/0-zzzz/usr");
  EXPECT_FALSE((*states)[1].active);
  EXPECT_EQ((*states)[2].fstx, "2-bbbb");
  EXPECT_GT((*states)[2].created_unix, 0);
}

TEST(DiscoverStates, RootWithoutActiveFstxIsAFailedPrecondition) {
  auto tmp = TempDir::Make("states-");
  ASSERT_TRUE(tmp.ok());
  stdfs::create_directories(tmp->path() + "/usr");
  auto states = DiscoverStates(tmp->path());
  EXPECT_EQ(states.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(states.status().message().find("/usr/.fstx"), std::string::npos) << states.status();
}

TEST(DetectBootConfig, EfiWithAnEspMeansXbootldrAtBoot) {
  auto tmp = TempDir::Make("states-");
  ASSERT_TRUE(tmp.ok());
  const std::string root = tmp->path();
  BootConfig plain = DetectBootConfig(root);
  EXPECT_EQ(plain.esp_dir, root + "/boot");
  EXPECT_EQ(plain.xbootldr_dir, "");
  stdfs::create_directories(root + "/efi/EFI");
  BootConfig split = DetectBootConfig(root);
  EXPECT_EQ(split.esp_dir, root + "/efi");
  EXPECT_EQ(split.xbootldr_dir, root + "/boot");
  EXPECT_EQ(DetectBootConfig("/").esp_dir.substr(0, 1), "/");
}

}  // namespace
}  // namespace onix::boot

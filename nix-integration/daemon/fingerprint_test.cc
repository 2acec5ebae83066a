#include "nix-integration/daemon/fingerprint.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "moss/base/temp_dir.h"

namespace onix::nixplane {
namespace {

namespace stdfs = std::filesystem;

TEST(Fingerprint, MissingNixRootIsAbsentNotAnError) {
  auto fp = Fingerprint("/nonexistent-onix-test/nix");
  ASSERT_TRUE(fp.ok()) << fp.status();
  EXPECT_FALSE(fp->present);
  EXPECT_TRUE(Diff(*fp, *fp).empty());
}

TEST(Fingerprint, DiffNamesStorePathsAndProfileLinksThatChanged) {
  auto dir = TempDir::Make("fp-test-");
  ASSERT_TRUE(dir.ok());
  const std::string nix = dir->path() + "/nix";
  stdfs::create_directories(nix + "/store/aaa-rg");
  stdfs::create_directories(nix + "/store/.links");
  stdfs::create_directories(nix + "/var/nix/profiles");
  stdfs::create_symlink("default-1-link", nix + "/var/nix/profiles/default");
  auto before = Fingerprint(nix);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->store_paths, std::vector<std::string>{"aaa-rg"});
  EXPECT_EQ(before->db_schema, 0);

  stdfs::create_directories(nix + "/store/bbb-fd");
  stdfs::remove(nix + "/var/nix/profiles/default");
  stdfs::create_symlink("default-2-link", nix + "/var/nix/profiles/default");
  auto after = Fingerprint(nix);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(Diff(*before, *after),
            (std::vector<std::string>{
                "store path added: bbb-fd",
                "profile link changed: default -> default-2-link (was default-1-link)"}));
}

TEST(DbSchemaVersion, ReadsTheSchemaFileAndRejectsGarbage) {
  auto dir = TempDir::Make("schema-test-");
  ASSERT_TRUE(dir.ok());
  const std::string nix = dir->path() + "/nix";
  EXPECT_EQ(DbSchemaVersion(nix).status().code(), absl::StatusCode::kNotFound);
  stdfs::create_directories(nix + "/var/nix/db");
  std::ofstream(nix + "/var/nix/db/schema") << "10";
  EXPECT_EQ(*DbSchemaVersion(nix), 10);
  std::ofstream(nix + "/var/nix/db/schema") << "ten";
  EXPECT_EQ(DbSchemaVersion(nix).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(*SchemaOfNixVersion("2.8.0"), 10);
  EXPECT_EQ(*SchemaOfNixVersion("1.11.16"), 7);
  EXPECT_FALSE(SchemaOfNixVersion("nix").ok());
}

}  // namespace
}  // namespace onix::nixplane

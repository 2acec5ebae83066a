#include "moss/repo/config.h"

#include "gtest/gtest.h"
#include "moss/base/temp_dir.h"

namespace onix::moss::repo {
namespace {

TEST(RepoConfig, AddListRemoveRoundTrip) {
  auto root = TempDir::Make("root");
  ASSERT_TRUE(root.ok());
  ASSERT_TRUE(AddRepo(root->path(), {"main", "https://example.org/onix", 0, true, "", ""}).ok());
  ASSERT_TRUE(AddRepo(root->path(), {"local", "file:///srv/repo", 10, true, "", ""}).ok());
  auto repos = ListRepos(root->path());
  ASSERT_TRUE(repos.ok());
  ASSERT_EQ(repos->size(), 2u);
  EXPECT_EQ((*repos)[0].name, "local");  // higher priority first
  EXPECT_EQ((*repos)[1].uri, "https://example.org/onix");
  EXPECT_EQ(AddRepo(root->path(), {"main", "file:///x", 0, true, "", ""}).code(),
            absl::StatusCode::kAlreadyExists);
  RepoConfig c = (*repos)[1];
  c.enabled = false;
  ASSERT_TRUE(UpdateRepoConfig(root->path(), c).ok());
  c.ca_file = "/etc/onix/mirror-ca.pem";
  ASSERT_TRUE(UpdateRepoConfig(root->path(), c).ok());
  auto got = GetRepo(root->path(), "main");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->enabled);
  EXPECT_EQ(got->ca_file, "/etc/onix/mirror-ca.pem");
  ASSERT_TRUE(RemoveRepo(root->path(), "main").ok());
  EXPECT_EQ(GetRepo(root->path(), "main").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(RemoveRepo(root->path(), "main").code(), absl::StatusCode::kNotFound);
}

TEST(RepoConfig, InvalidNamesUrisKeysAndRelativeCaFilesAreRefused) {
  auto root = TempDir::Make("root");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(AddRepo(root->path(), {"../evil", "file:///x", 0, true, "", ""}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AddRepo(root->path(), {"a", "ftp://x", 0, true, "", ""}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AddRepo(root->path(), {"a", "file:///x", 0, true, "nothex", ""}).code(),
            absl::StatusCode::kInvalidArgument);
  auto repos = ListRepos(root->path());
  ASSERT_TRUE(repos.ok());
  EXPECT_TRUE(repos->empty());
}

}  // namespace
}  // namespace onix::moss::repo

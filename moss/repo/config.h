// Repository configuration of a machine root: one JSON file per repository under
// ROOT/.moss/repos.d/<name>.json, written atomically (temp file + rename).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace onix::moss::repo {

struct RepoConfig {
  std::string name;  // [A-Za-z0-9._-]+, also the file name
  std::string uri;   // file:///srv/repo, http://host/repo, https://host/repo (no trailing '/')
  int priority = 0;  // higher wins over a newer version in a lower priority repository
  bool enabled = true;
  std::string public_key;  // 64 hex chars; when set the index must carry a valid signature
  // Absolute path of a PEM CA bundle trusted for this repository's https:// server in addition
  // to the system's (a private mirror with its own CA). Empty: system CAs only.
  std::string ca_file;
};

// ROOT/.moss/repos.d, ROOT/.moss/cache.
std::string ReposDir(const std::string& root);
std::string CacheDir(const std::string& root);

// InvalidArgument for a bad name, a URI of another scheme, or a malformed key.
absl::Status ValidateConfig(const RepoConfig& config);

// Every configured repository sorted by (priority descending, name). A file that does not
// parse is an error naming it (a silently skipped repository would change resolutions).
absl::StatusOr<std::vector<RepoConfig>> ListRepos(const std::string& root);
absl::StatusOr<RepoConfig> GetRepo(const std::string& root, std::string_view name);
// AlreadyExists when the name is taken.
absl::Status AddRepo(const std::string& root, const RepoConfig& config);
// Replaces an existing repository's file (NotFound when absent).
absl::Status UpdateRepoConfig(const std::string& root, const RepoConfig& config);
// Removes the config and the repository's cached index (NotFound when absent).
absl::Status RemoveRepo(const std::string& root, std::string_view name);

}  // namespace onix::moss::repo

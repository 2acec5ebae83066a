#include "moss/repo/config.h"

#include <fcntl.h>

#include <algorithm>

#include "moss/base/fs_at.h"
#include "moss/base/json.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/repo/files.h"
#include "moss/repo/signature.h"
#include "nlohmann/json.hpp"

namespace onix::moss::repo {
namespace {

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string FileOf(std::string_view name) { return StrCat(name, ".json"); }

absl::StatusOr<RepoConfig> Parse(const std::string& path, const std::string& text) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    RepoConfig c;
    c.name = j.at("name").get<std::string>();
    c.uri = j.at("uri").get<std::string>();
    c.priority = j.value("priority", 0);
    c.enabled = j.value("enabled", true);
    c.public_key = j.value("public_key", std::string());
    c.ca_file = j.value("ca_file", std::string());
    ONIX_RETURN_IF_ERROR_CTX(ValidateConfig(c), StrCat("reading ", path));
    return c;
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(StrCat("reading ", path, ": ", e.what()));
  }
}

absl::Status Write(const std::string& root, const RepoConfig& c) {
  ONIX_RETURN_IF_ERROR(ValidateConfig(c));
  nlohmann::json j = {{"name", c.name},
                      {"uri", c.uri},
                      {"priority", c.priority},
                      {"enabled", c.enabled},
                      {"public_key", c.public_key}};
  if (!c.ca_file.empty()) j["ca_file"] = c.ca_file;
  const std::string dir = ReposDir(root);
  ONIX_RETURN_IF_ERROR(MkdirAll(dir));
  ONIX_ASSIGN_OR_RETURN(UniqueFd dfd, fs::OpenDir(dir));
  return fs::WriteFileAtomicAt(dfd.get(), FileOf(c.name), DumpJson(j, 2) + "\n", 0644,
                               fs::Durability::kFsync);
}

}  // namespace

std::string ReposDir(const std::string& root) { return StrCat(root, "/.moss/repos.d"); }
std::string CacheDir(const std::string& root) { return StrCat(root, "/.moss/cache"); }

absl::Status ValidateConfig(const RepoConfig& c) {
  if (!ValidName(c.name)) {
    return InvalidArgument(StrCat("repository name '", c.name,
                                  "' must be 1-64 characters of [A-Za-z0-9._-], not starting "
                                  "with '.'"));
  }
  if (!(c.uri.rfind("file:///", 0) == 0 || c.uri.rfind("http://", 0) == 0 ||
        c.uri.rfind("https://", 0) == 0)) {
    return InvalidArgument(StrCat("repository '", c.name, "': uri '", c.uri,
                                  "' is not file:///, http:// or https://"));
  }
  if (!c.public_key.empty()) {
    auto key = PublicKey::FromHex(c.public_key);
    if (!key.ok()) return Annotate(key.status(), StrCat("repository '", c.name, "'"));
  }
  if (!c.ca_file.empty() && c.ca_file[0] != '/') {
    return InvalidArgument(
        StrCat("repository '", c.name, "': ca file '", c.ca_file, "' must be an absolute path"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<RepoConfig>> ListRepos(const std::string& root) {
  std::vector<RepoConfig> out;
  auto dfd = fs::OpenDir(ReposDir(root));
  if (!dfd.ok()) {
    if (absl::IsNotFound(dfd.status())) return out;
    return dfd.status();
  }
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(dfd->get()));
  for (const std::string& n : names) {
    if (n.size() < 6 || n.compare(n.size() - 5, 5, ".json") != 0 || n[0] == '.') continue;
    ONIX_ASSIGN_OR_RETURN(std::string text, fs::ReadFileAt(dfd->get(), n));
    ONIX_ASSIGN_OR_RETURN(RepoConfig c, Parse(StrCat(ReposDir(root), "/", n), text));
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const RepoConfig& a, const RepoConfig& b) {
    if (a.priority != b.priority) return a.priority > b.priority;
    return a.name < b.name;
  });
  return out;
}

absl::StatusOr<RepoConfig> GetRepo(const std::string& root, std::string_view name) {
  if (!ValidName(name)) return InvalidArgument(StrCat("repository name '", name, "' is invalid"));
  const std::string path = StrCat(ReposDir(root), "/", FileOf(name));
  auto text = ReadPath(path);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) {
      return NotFound(StrCat("repository '", name, "' is not configured"));
    }
    return text.status();
  }
  return Parse(path, *text);
}

absl::Status AddRepo(const std::string& root, const RepoConfig& config) {
  auto existing = GetRepo(root, config.name);
  if (existing.ok()) {
    return absl::AlreadyExistsError(
        StrCat("adding repository '", config.name, "': it already exists"));
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  return Annotate(Write(root, config), StrCat("adding repository '", config.name, "'"));
}

absl::Status UpdateRepoConfig(const std::string& root, const RepoConfig& config) {
  ONIX_RETURN_IF_ERROR(GetRepo(root, config.name).status());
  return Annotate(Write(root, config), StrCat("updating repository '", config.name, "'"));
}

absl::Status RemoveRepo(const std::string& root, std::string_view name) {
  ONIX_RETURN_IF_ERROR(GetRepo(root, name).status());
  ONIX_ASSIGN_OR_RETURN(UniqueFd dfd, fs::OpenDir(ReposDir(root)));
  ONIX_RETURN_IF_ERROR(fs::UnlinkAt(dfd.get(), FileOf(name)));
  const std::string cached = StrCat(CacheDir(root), "/repos/", name);
  if (auto cache = fs::OpenDir(StrCat(CacheDir(root), "/repos")); cache.ok()) {
    ONIX_ASSIGN_OR_RETURN(bool exists, fs::ExistsAt(cache->get(), name));
    if (exists)
      ONIX_RETURN_IF_ERROR_CTX(fs::RemoveTreeAt(cache->get(), name), "removing " + cached);
  }
  return absl::OkStatus();
}

}  // namespace onix::moss::repo

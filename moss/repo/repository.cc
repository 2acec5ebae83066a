#include "moss/repo/repository.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/repo/files.h"
#include "moss/repo/index.h"
#include "moss/repo/signature.h"

namespace onix::moss::repo {
namespace {

constexpr char kSolvFile[] = "index.solv";

absl::Status RemoveIfExists(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    const int err = errno;
    return ErrnoError(err, StrCat("removing ", path));
  }
  return absl::OkStatus();
}

absl::Status Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("renaming ", from, " to ", to));
  }
  return absl::OkStatus();
}

}  // namespace

std::string RepoCacheDir(const std::string& root, std::string_view name) {
  return StrCat(CacheDir(root), "/repos/", name);
}
std::string StoneCacheDir(const std::string& root) { return StrCat(CacheDir(root), "/stones"); }

absl::Status UpdateRepo(const std::string& root, const RepoConfig& config,
                        const FetchOptions& options, Progress* progress) {
  const std::string ctx = StrCat("updating repository '", config.name, "'");
  const std::string dir = RepoCacheDir(root, config.name);
  ONIX_RETURN_IF_ERROR_CTX(MkdirAll(dir), ctx);
  const std::string new_index = StrCat(dir, "/", kIndexFile, ".new");
  const std::string new_sig = StrCat(dir, "/", kSignatureFile, ".new");
  const std::string new_solv = StrCat(dir, "/", kSolvFile, ".new");
  // Leftovers of an interrupted update are never trusted.
  for (const auto& p : {new_index, new_sig, new_solv}) ONIX_RETURN_IF_ERROR(RemoveIfExists(p));
  for (const auto& p : {new_index, new_sig}) ONIX_RETURN_IF_ERROR(RemoveIfExists(p + ".part"));

  ONIX_RETURN_IF_ERROR_CTX(Fetch({StrCat(config.uri, "/", kIndexFile), new_index, std::nullopt, 0,
                                  StrCat(config.name, "/", kIndexFile), config.ca_file},
                                 options, progress),
                           ctx);
  bool have_sig = false;
  if (absl::Status st = Fetch({StrCat(config.uri, "/", kSignatureFile), new_sig, std::nullopt, 0,
                               StrCat(config.name, "/", kSignatureFile), config.ca_file},
                              options, nullptr);
      st.ok()) {
    have_sig = true;
  } else if (!absl::IsNotFound(st)) {
    return Annotate(st, ctx);
  }
  if (!config.public_key.empty()) {
    ONIX_ASSIGN_OR_RETURN(PublicKey key, PublicKey::FromHex(config.public_key));
    if (!have_sig) {
      ONIX_RETURN_IF_ERROR(RemoveIfExists(new_index));
      return absl::PermissionDeniedError(
          StrCat(ctx, ": the repository has a key configured but its index is not signed (no ",
                 kSignatureFile, ")"));
    }
    ONIX_ASSIGN_OR_RETURN(std::string index_bytes, ReadPath(new_index, 1u << 30));
    ONIX_ASSIGN_OR_RETURN(std::string sig, ReadPath(new_sig));
    if (absl::Status st = Verify(key, index_bytes, sig); !st.ok()) {
      ONIX_RETURN_IF_ERROR(RemoveIfExists(new_index));
      ONIX_RETURN_IF_ERROR(RemoveIfExists(new_sig));
      return Annotate(st, ctx);
    }
  }
  auto packages = ReadIndex(new_index);
  if (!packages.ok()) {
    ONIX_RETURN_IF_ERROR(RemoveIfExists(new_index));
    return Annotate(packages.status(), ctx);
  }
  {
    solver::Universe scratch;
    ONIX_RETURN_IF_ERROR_CTX(
        scratch.AddRepository(config.name, config.priority, *packages, new_solv), ctx);
  }
  // Publish: the .solv cache first is removed, then the index and signature are renamed, then
  // the new cache. A crash in between leaves an index without cache (rebuilt on load), never a
  // cache that describes another index.
  ONIX_RETURN_IF_ERROR(RemoveIfExists(StrCat(dir, "/", kSolvFile)));
  if (have_sig) {
    ONIX_RETURN_IF_ERROR(Rename(new_sig, StrCat(dir, "/", kSignatureFile)));
  } else {
    ONIX_RETURN_IF_ERROR(RemoveIfExists(StrCat(dir, "/", kSignatureFile)));
  }
  ONIX_RETURN_IF_ERROR(Rename(new_index, StrCat(dir, "/", kIndexFile)));
  ONIX_RETURN_IF_ERROR(Rename(new_solv, StrCat(dir, "/", kSolvFile)));
  ONIX_ASSIGN_OR_RETURN(UniqueFd dfd, fs::OpenDir(dir));
  return fs::FsyncDirAt(dfd.get());
}

absl::StatusOr<solver::Universe> LoadUniverse(
    const std::string& root, const std::vector<solver::InstalledPackage>& installed) {
  ONIX_ASSIGN_OR_RETURN(std::vector<RepoConfig> repos, ListRepos(root));
  solver::Universe universe;
  for (const RepoConfig& r : repos) {
    if (!r.enabled) continue;
    const std::string dir = RepoCacheDir(root, r.name);
    const std::string solv = StrCat(dir, "/", kSolvFile);
    if (universe.LoadRepositoryCache(r.name, r.priority, solv).ok()) continue;
    auto packages = ReadIndex(StrCat(dir, "/", kIndexFile));
    if (!packages.ok()) {
      if (absl::IsNotFound(packages.status())) {
        return FailedPrecondition(StrCat("loading repository '", r.name,
                                         "': it has no index yet; run `moss repo update`"));
      }
      return Annotate(packages.status(), StrCat("loading repository '", r.name, "'"));
    }
    ONIX_RETURN_IF_ERROR_CTX(universe.AddRepository(r.name, r.priority, *packages, solv),
                             StrCat("loading repository '", r.name, "'"));
  }
  ONIX_RETURN_IF_ERROR(universe.SetInstalled(installed));
  return universe;
}

absl::StatusOr<std::vector<std::string>> FetchStones(const std::string& root,
                                                     const std::vector<solver::StoneRef>& refs,
                                                     int parallel, const FetchOptions& options,
                                                     Progress* progress) {
  ONIX_ASSIGN_OR_RETURN(std::vector<RepoConfig> repos, ListRepos(root));
  const std::string dir = StoneCacheDir(root);
  ONIX_RETURN_IF_ERROR(MkdirAll(dir));
  std::vector<std::string> paths;
  std::vector<FetchJob> jobs;
  for (const solver::StoneRef& ref : refs) {
    const std::string dest = StrCat(dir, "/", ref.stone_digest.Hex(), ".stone");
    paths.push_back(dest);
    uint64_t size = 0;
    if (auto have = Sha256Path(dest, &size);
        have.ok() && *have == ref.stone_digest && size == ref.stone_size) {
      continue;
    }
    auto repo = std::find_if(repos.begin(), repos.end(),
                             [&](const RepoConfig& c) { return c.name == ref.repository; });
    if (repo == repos.end()) {
      return FailedPrecondition(StrCat("fetching ", ref.Nvr(), ": repository '", ref.repository,
                                       "' is no longer configured"));
    }
    jobs.push_back({StrCat(repo->uri, "/", ref.file_name), dest, ref.stone_digest, ref.stone_size,
                    ref.file_name, repo->ca_file});
  }
  ONIX_RETURN_IF_ERROR(FetchAll(jobs, parallel, options, progress));
  return paths;
}

absl::StatusOr<std::vector<AvailablePackage>> FindAvailable(const std::string& root,
                                                            std::string_view name) {
  ONIX_ASSIGN_OR_RETURN(std::vector<RepoConfig> repos, ListRepos(root));
  std::vector<AvailablePackage> out;
  for (const RepoConfig& r : repos) {
    if (!r.enabled) continue;
    auto packages = ReadIndex(StrCat(RepoCacheDir(root, r.name), "/", kIndexFile));
    if (absl::IsNotFound(packages.status())) continue;
    if (!packages.ok()) {
      return Annotate(packages.status(), StrCat("reading repository '", r.name, "'"));
    }
    for (solver::Package& p : *packages) {
      if (p.meta.name == name) out.push_back({r.name, r.priority, std::move(p)});
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const AvailablePackage& a, const AvailablePackage& b) {
                     if (a.priority != b.priority) return a.priority > b.priority;
                     return solver::CompareVersions(a.package.meta, b.package.meta) > 0;
                   });
  return out;
}

namespace {

absl::StatusOr<std::pair<uint64_t, size_t>> DirUsage(const std::string& dir, bool remove) {
  auto dfd = fs::OpenDir(dir);
  if (!dfd.ok()) {
    if (absl::IsNotFound(dfd.status())) return std::pair<uint64_t, size_t>{0, 0};
    return dfd.status();
  }
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(dfd->get()));
  uint64_t bytes = 0;
  size_t files = 0;
  for (const auto& n : names) {
    ONIX_ASSIGN_OR_RETURN(struct stat st, fs::StatAt(dfd->get(), n));
    if (S_ISDIR(st.st_mode)) {
      ONIX_ASSIGN_OR_RETURN(auto sub, DirUsage(StrCat(dir, "/", n), remove));
      bytes += sub.first;
      files += sub.second;
      continue;
    }
    bytes += static_cast<uint64_t>(st.st_size);
    ++files;
    if (remove) ONIX_RETURN_IF_ERROR(fs::UnlinkAt(dfd->get(), n));
  }
  return std::pair<uint64_t, size_t>{bytes, files};
}

}  // namespace

absl::StatusOr<CacheUsage> CacheSize(const std::string& root) {
  CacheUsage u;
  ONIX_ASSIGN_OR_RETURN(auto stones, DirUsage(StoneCacheDir(root), false));
  ONIX_ASSIGN_OR_RETURN(auto repos, DirUsage(StrCat(CacheDir(root), "/repos"), false));
  u.stone_bytes = stones.first;
  u.stones = stones.second;
  u.index_bytes = repos.first;
  return u;
}

absl::StatusOr<uint64_t> CacheClean(const std::string& root) {
  ONIX_ASSIGN_OR_RETURN(auto stones, DirUsage(StoneCacheDir(root), true));
  return stones.first;
}

}  // namespace onix::moss::repo

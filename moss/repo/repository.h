// The repositories of a machine root: refreshing their indexes into ROOT/.moss/cache, loading
// them (from per-repository .solv caches) into a solver::Universe, and fetching stones.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "moss/repo/config.h"
#include "moss/repo/fetch.h"
#include "moss/solver/solver.h"

namespace onix::moss::repo {

// ROOT/.moss/cache/repos/<name>: stone.index, stone.index.sig, index.solv.
std::string RepoCacheDir(const std::string& root, std::string_view name);
// ROOT/.moss/cache/stones: downloaded stones named "<sha256>.stone".
std::string StoneCacheDir(const std::string& root);

// Fetches `config`'s index (and signature) and publishes it with a fresh .solv cache. With a
// public key configured, an index whose signature is missing or wrong is refused
// (PermissionDenied) and the previous index stays in place. Only when everything verified are
// the new files renamed over the old ones.
absl::Status UpdateRepo(const std::string& root, const RepoConfig& config,
                        const FetchOptions& options = {}, Progress* progress = nullptr);

// Builds the universe of every enabled repository plus `installed`. Each repository loads
// from its .solv cache when valid, else from its index (rebuilding the cache).
// FailedPrecondition naming the repository when one was never updated.
absl::StatusOr<solver::Universe> LoadUniverse(
    const std::string& root, const std::vector<solver::InstalledPackage>& installed);

// Downloads the stones of `refs` (from their repositories' URIs) into the stone cache,
// verifying each against the index's SHA-256 and size before it gets its final name; stones
// already cached and intact are not fetched again. Returns the local paths, in `refs` order.
absl::StatusOr<std::vector<std::string>> FetchStones(const std::string& root,
                                                     const std::vector<solver::StoneRef>& refs,
                                                     int parallel = 4,
                                                     const FetchOptions& options = {},
                                                     Progress* progress = nullptr);

// A package of a repository index, for `moss info`.
struct AvailablePackage {
  std::string repository;
  int priority = 0;
  solver::Package package;  // full metadata from the verified index
};

// Every package named `name` in the enabled repositories' cached indexes, the solver's
// preferred candidate first (higher repository priority, then newer version). Repositories
// never updated are skipped; an index that does not parse is an error naming it.
absl::StatusOr<std::vector<AvailablePackage>> FindAvailable(const std::string& root,
                                                            std::string_view name);

struct CacheUsage {
  uint64_t stone_bytes = 0;
  size_t stones = 0;
  uint64_t index_bytes = 0;
};
absl::StatusOr<CacheUsage> CacheSize(const std::string& root);
// Removes downloaded stones and partial downloads; repository indexes stay (resolution needs
// them; `moss repo update` refreshes them). Returns the bytes freed.
absl::StatusOr<uint64_t> CacheClean(const std::string& root);

}  // namespace onix::moss::repo

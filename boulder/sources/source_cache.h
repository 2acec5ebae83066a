// The content-addressed source cache: upstream archives stored by SHA-256 and git
// repositories by URL, filled from file:// URLs, a local mirror directory or Debian's source
// archive, never trusted without verifying the recipe's hash.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "boulder/recipe/recipe.h"
#include "moss/base/sha256.h"

namespace onix::boulder {

// Layout below the cache root:
//   sha256/<hex>          verified archives (read-only files)
//   git/<sha256(url)>/    bare git repositories (libgit2)
class SourceCache {
 public:
  // `root` is created if missing. `mirror` (may be empty) is a flat directory searched for
  // an archive by its URL's base name and by its hex digest.
  static absl::StatusOr<SourceCache> Open(const std::string& root, const std::string& mirror);

  // Makes the archive available and returns its path in the cache. A cached file is
  // re-verified. Otherwise it is copied from the mirror or a file:// URL into a temporary
  // file, hashed, and renamed into place only when the hash matches; a mismatch is
  // DataLoss "<url>: sha256 mismatch: recipe says X, got Y" and leaves nothing behind.
  // Without a mirror copy, http(s) URLs are NotFound (boulder never touches the network).
  absl::StatusOr<std::string> FetchArchive(const std::string& url, const std::string& sha256);

  // Adds a local file to the cache under its own digest (for `boulder fetch`); returns the
  // digest.
  absl::StatusOr<Digest> AddFile(const std::string& path);

  // Makes sure the bare repository for `url` contains `commit` (cloning or fetching with
  // libgit2 when it does not) and returns the repository's path.
  absl::StatusOr<std::string> FetchGit(const std::string& url, const std::string& commit);

  const std::string& root() const { return root_; }

 private:
  SourceCache(std::string root, std::string mirror)
      : root_(std::move(root)), mirror_(std::move(mirror)) {}
  std::string root_;
  std::string mirror_;
};

// Checks out `commit` of the bare repository `repo_path` into the (new or empty) directory
// `dest` with libgit2 and returns a digest of the checked-out tree (sorted paths, modes and
// contents), which the build manifest records.
absl::StatusOr<Digest> CheckoutGit(const std::string& repo_path, const std::string& commit,
                                   const std::string& dest);

// Unpacks `archive` into `dest` (created) dropping `strip_components` leading path
// components, with the host's tar. Ownership is not preserved.
absl::Status UnpackArchive(const std::string& archive, const std::string& dest,
                           int strip_components);

// Runs `apt-get source --download-only PKG` in a temporary directory and adds every file it
// downloads to the cache and the mirror (when given). Returns "<file> <sha256>" lines, the
// upstream tarball (*.orig.tar.*) first: that digest is what a recipe's upstream names.
absl::StatusOr<std::vector<std::string>> FetchDebianSource(SourceCache& cache,
                                                           const std::string& mirror,
                                                           const std::string& package);

}  // namespace onix::boulder

// TempRoot: a throw-away machine root for tests (dnf5's installroot, ostree's
// setup_os_repository): a private temporary directory with the /.moss skeleton.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "moss/base/sha256.h"
#include "moss/base/temp_dir.h"

namespace onix::testing {

class TempRoot {
 public:
  // Creates "$TEST_TMPDIR/root-XXXXXX" (or $TMPDIR) holding .moss/{store,root,db,cache}. No
  // usr: the first transaction creates it. Removed recursively on destruction.
  static absl::StatusOr<TempRoot> Make();

  const std::string& path() const { return dir_.path(); }
  int fd() const { return dir_.fd(); }
  // path() + "/" + rel.
  std::string Path(std::string_view rel) const;

  // Writes `content` to `rel` (its parent must exist) with `mode`, replacing any file.
  absl::Status WriteFile(std::string_view rel, std::string_view content, mode_t mode = 0644) const;

  // Walks the tree at `rel` (not following symlinks) into path -> "<type> <mode> <sha256 or
  // target>" for every entry, so two trees can be compared byte for byte. Empty on error.
  std::map<std::string, std::string> HashTree(std::string_view rel) const;

 private:
  explicit TempRoot(TempDir dir) : dir_(std::move(dir)) {}
  TempDir dir_;
};

// Runs a shell command and returns its stdout (tests only).
std::string RunCommand(const std::string& command);

}  // namespace onix::testing

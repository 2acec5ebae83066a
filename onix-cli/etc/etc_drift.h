// /etc drift: which files of a machine's /etc differ from the active state's factory defaults
// in /usr/share/defaults/etc, with diffs and a reset. /etc belongs to the admin: nothing here
// overwrites a local file except an explicit ResetEtcFile.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace onix::cli {

inline constexpr std::string_view kDefaultsEtc = "usr/share/defaults/etc";

enum class DriftKind { kModified, kDeleted };

struct EtcDrift {
  std::string path;  // relative to /etc ("hostname", "nix/nix.conf")
  DriftKind kind;
};

// Walks ROOT/usr/share/defaults/etc and reports every file (or symlink) whose counterpart
// under ROOT/etc differs in content (or link target) or is missing. Files in /etc with no
// factory default are the admin's own and are not drift. Sorted by path.
absl::StatusOr<std::vector<EtcDrift>> ComputeEtcDrift(int root_fd);

// Unified diff from the default to the local file ("" when equal). NotFound when `path` has
// no factory default.
absl::StatusOr<std::string> EtcDiff(int root_fd, std::string_view path);

// Replaces ROOT/etc/<path> with its factory default atomically (temp + fsync + rename), creating
// parent directories. NotFound when `path` has no factory default; InvalidArgument for a path
// that is not a clean relative path.
absl::Status ResetEtcFile(int root_fd, std::string_view path);

}  // namespace onix::cli

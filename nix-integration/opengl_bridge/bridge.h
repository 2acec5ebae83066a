// The graphics bridge: /run/opengl-driver, the tree Nix (glibc) apps load their GL/EGL/GBM/
// Vulkan drivers from, rebuilt from the active machine state's glibc `mesa-bridge` stone.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace onix::bridge {

// Where the mesa-bridge stone puts its files inside a root's /usr. The directory is its own
// file list: every file and symlink below it is one bridge entry.
inline constexpr char kBridgeSource[] = "usr/lib/onix/mesa-bridge";
// The name of the marker file inside the run dir that says what it was built from.
inline constexpr char kMarker[] = ".onix-bridge.json";

// "ROOT/run/opengl-driver" ("/run/opengl-driver" for root "/").
std::string DefaultRunDir(const std::string& root);

// The fstx of the active state: the first line of ROOT/usr/.fstx, which moss writes into
// every state tree (moss/state/tree.h). "" when the root's /usr is not a moss tree.
absl::StatusOr<std::string> ActiveFstx(const std::string& root);

struct RebuildReport {
  int links = 0;      // symlinks into the active /usr
  int rewritten = 0;  // ICD/vendor JSON files rewritten to point inside the run dir
};

// Replaces `run_dir` with a fresh tree mirroring root/usr/lib/onix/mesa-bridge: directories
// as directories, every other entry a symlink to its absolute path in the active /usr
// (root-prefixed, so a temp root stays self-contained), except the JSON manifests under
// share/vulkan/icd.d, share/vulkan/{implicit,explicit}_layer.d and share/glvnd/egl_vendor.d,
// which become regular files whose "library_path" points inside `run_dir` (a bare soname is
// kept). The marker records `fstx` and a digest of the source list. Pre-condition: the
// parent of `run_dir` exists and is writable. The new tree is built next to `run_dir` as
// ".<name>.new-*" and swapped in with renameat2(RENAME_EXCHANGE) (or a no-replace rename when
// there was none): that is the commit point. A crash before it leaves the old bridge (and a
// leftover ".new" tree that the next Rebuild removes); after it, the new one. A source
// without the mesa-bridge directory gives an empty bridge (no drivers), not an error.
// An empty `fstx` means ActiveFstx(root).
absl::StatusOr<RebuildReport> Rebuild(const std::string& root, const std::string& run_dir,
                                      std::string_view fstx = "");

struct BridgeStatus {
  enum class State { kCoherent, kStale, kMissing, kBroken };
  State state = State::kMissing;
  std::string built_from;  // for kStale: the fstx recorded in the bridge ("unknown" if none)
  int broken = 0;          // for kBroken: links (or JSON library paths) that do not resolve
                           // into the active mesa-bridge tree

  // The exact words `onix status` prints: "coherent", "stale (points to fstx X)", "missing",
  // "broken: N links".
  std::string ToString() const;
};

// Checks `run_dir` against the active state. Read-only. In order: no run dir -> missing; the
// marker names another fstx than `active_fstx` (when that is not empty) -> stale; links or
// JSON library paths that do not resolve into root/usr/lib/onix/mesa-bridge -> broken; the
// entry set or content differs from the source -> stale; otherwise coherent. An empty
// `active_fstx` means ActiveFstx(root) (and no fstx comparison when that is empty too).
absl::StatusOr<BridgeStatus> Check(const std::string& root, const std::string& run_dir,
                                   std::string_view active_fstx = "");

}  // namespace onix::bridge

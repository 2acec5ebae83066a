// What every machine move of onix (rollback, update) ends with: the graphics bridge re-pointed
// at the new state, and the Nix plane compared with its fingerprint from before the move.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "nix-integration/daemon/fingerprint.h"

namespace onix::cli {

// Rebuilds the bridge in `run_dir` ("" = ROOT/run/opengl-driver) for `fstx` (a failure is a
// warning: the machine has moved already), then fingerprints ROOT/nix again and lists every
// difference from `before` in `nix_changes`.
absl::Status FinishMachineMove(const std::string& root, const std::string& run_dir,
                               const std::string& fstx, const nixplane::PlaneFingerprint& before,
                               std::vector<std::string>& warnings,
                               std::vector<std::string>& nix_changes);

// "plane:       machine" and "/nix:        untouched" (or "CHANGED" and each difference).
std::string FormatPlaneLines(const std::vector<std::string>& nix_changes);

}  // namespace onix::cli

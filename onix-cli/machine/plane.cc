#include "onix-cli/machine/plane.h"

#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "nix-integration/opengl_bridge/bridge.h"
#include "onix-cli/status/collect.h"

namespace onix::cli {

absl::Status FinishMachineMove(const std::string& root, const std::string& run_dir,
                               const std::string& fstx, const nixplane::PlaneFingerprint& before,
                               std::vector<std::string>& warnings,
                               std::vector<std::string>& nix_changes) {
  StatusOptions paths;
  paths.root = root;
  paths.run_dir = run_dir;
  auto bridged = bridge::Rebuild(root, RunDirOf(paths), fstx);
  if (!bridged.ok()) {
    warnings.push_back(StrCat("graphics bridge not rebuilt: ", bridged.status().message()));
  }
  ONIX_ASSIGN_OR_RETURN(nixplane::PlaneFingerprint after, nixplane::Fingerprint(NixRootOf(root)));
  nix_changes = nixplane::Diff(before, after);
  return absl::OkStatus();
}

std::string FormatPlaneLines(const std::vector<std::string>& nix_changes) {
  std::string out = "plane:       machine\n";
  if (nix_changes.empty()) return out + "/nix:        untouched\n";
  out += "/nix:        CHANGED\n";
  for (const auto& c : nix_changes) out += StrCat("  ", c, "\n");
  return out;
}

}  // namespace onix::cli

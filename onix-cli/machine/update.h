// `onix update`: moss sync against the repositories, boot sync, graphics bridge refresh, a
// reboot hint when the kernel changed, and the three-way report of /etc factory defaults.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace onix::cli {

struct UpdateRequest {
  std::string root = "/";
  std::string run_dir;  // graphics bridge; default ROOT/run/opengl-driver
  bool dry_run = false;
};

// What happened to one factory default of /etc that the update changed.
struct EtcUpdate {
  enum class Action {
    kAdded,      // a new default, no local file: written to /etc
    kUpdated,    // the local file was the old default: replaced by the new one
    kRemoved,    // the default is gone and the local file was the old default: removed
    kKeptLocal,  // the local file overrides the default: left alone, reported
  };
  std::string path;  // relative to /etc
  Action action;
};

struct UpdateResult {
  std::string from_fstx, to_fstx;      // equal when the machine was already up to date
  std::string old_kernel, new_kernel;  // versions; "" when the state has none
  std::vector<EtcUpdate> etc;
  std::vector<std::string> warnings;
  std::vector<std::string> nix_changes;  // empty: /nix verified untouched
};

// Runs `moss sync` through moss's libraries (the exact plan is printed to stdout first), with
// the boot hook; then rebuilds the bridge and applies the /etc rules above. Unsatisfiable
// requests change nothing (FailedPrecondition with the problems). With dry_run only the plan
// is printed.
absl::StatusOr<UpdateResult> Update(const UpdateRequest& request);

// Applies the three-way rules for /etc between the factory defaults of `old_usr` and
// `new_usr` (absolute usr trees) to ROOT/etc. Exposed for tests.
absl::StatusOr<std::vector<EtcUpdate>> ReconcileEtc(const std::string& root,
                                                    const std::string& old_usr,
                                                    const std::string& new_usr);

std::string FormatUpdate(const UpdateResult& result);

}  // namespace onix::cli

// `onix update`: moss sync against the repositories, boot sync, graphics bridge refresh, a
// reboot hint when the kernel changed, and the three-way report of /etc factory defaults.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "moss/etcmerge/etcmerge.h"

namespace onix::cli {

struct UpdateRequest {
  std::string root = "/";
  std::string run_dir;  // graphics bridge; default ROOT/run/opengl-driver
  bool dry_run = false;
};

struct UpdateResult {
  std::string from_fstx, to_fstx;              // equal when the machine was already up to date
  std::string old_kernel, new_kernel;          // versions; "" when the state has none
  std::vector<moss::etcmerge::EtcChange> etc;  // moss's three-way merge of /etc defaults
  std::vector<std::string> warnings;
  std::vector<std::string> nix_changes;  // empty: /nix verified untouched
  std::string plan;                      // the exact transaction, as moss prints it (FormatPlan)
};

// Refreshes the repositories and runs `moss sync` through moss's libraries (the exact plan is
// returned in `plan`; only progress goes to stderr) with the boot hook; moss merges /etc defaults
// three-way during the switch (moss/etcmerge) and this reports what it did. Then the bridge is
// rebuilt. Unsatisfiable requests change nothing (FailedPrecondition with the problems). With
// dry_run only the plan is computed.
absl::StatusOr<UpdateResult> Update(const UpdateRequest& request);

std::string FormatUpdate(const UpdateResult& result);

// One "etc:" line per change of moss's /etc merge (shared by update and rollback).
std::string FormatEtcChanges(const std::vector<moss::etcmerge::EtcChange>& changes);

}  // namespace onix::cli

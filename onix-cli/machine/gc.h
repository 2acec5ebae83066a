// `onix gc`: prune old machine states (moss), then collect the Nix store (nix), in that order,
// with guardrails: never the active or default-boot state, never with a transaction in flight.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace onix::cli {

struct GcRequest {
  std::string root = "/";
  size_t keep = 3;  // machine states kept, the active and default-boot ones included
  bool dry_run = false;
  bool skip_nix = false;            // machine plane only
  std::string nix_command = "nix";  // the Nix CLI to run `store gc` with
};

struct GcResult {
  std::vector<std::string> removed_states;  // fstx ids, oldest first
  std::vector<std::string> kept_states;
  uint64_t machine_bytes_freed = 0;
  std::string nix_summary;  // the Nix CLI's own last line, or why it did not run
  bool nix_ran = false;
};

// Refuses (FailedPrecondition) while ROOT/.moss/journal records a transaction in flight. The
// states kept are the active one, the one the default boot entry starts, and the newest
// others up to `keep`; the rest are removed with moss (trees, database rows, history refs,
// unreferenced store objects) and the boot entries are resynced. Then `nix store gc` runs
// against the root's Nix store (the daemon's for "/", local?root=ROOT otherwise). A failing
// Nix GC is an error after the machine part has completed.
absl::StatusOr<GcResult> Gc(const GcRequest& request);

}  // namespace onix::cli

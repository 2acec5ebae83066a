// `onix rollback`: activates an earlier machine state through moss, resyncs the boot entries,
// re-points the graphics bridge, and verifies that the Nix plane did not change meanwhile.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "moss/etcmerge/etcmerge.h"

namespace onix::cli {

struct RollbackRequest {
  std::string root = "/";
  std::string
      target;  // "N" or "N-xxxx"; empty = the newest retained state older than the active one
  std::string run_dir;  // graphics bridge; default ROOT/run/opengl-driver
  bool force = false;   // roll back even to a Nix older than the one that last wrote /nix
  bool dry_run = false;
};

struct RollbackResult {
  std::string from_fstx, to_fstx;
  std::vector<std::string> warnings;           // boot hook / trigger warnings from moss
  std::vector<moss::etcmerge::EtcChange> etc;  // moss's /etc merge back to the older defaults
  std::vector<std::string> nix_changes;        // empty: /nix verified untouched
};

// Picks the target state and refuses, before changing anything, when it would bring back a
// Nix that supports an older store DB schema than /nix's var/nix/db/schema, or an older Nix
// release (major.minor) than the active state's, which last wrote /nix (FailedPrecondition
// naming both, unless `force`). A target without a `nix` package, or a /nix without a DB,
// passes. Then: fingerprint of ROOT/nix, moss activation (the atomic /usr exchange; the
// commit point), boot sync, bridge rebuild, fingerprint again. A difference in the Nix plane
// is not an error of the rollback itself (the machine did move) but is reported in
// nix_changes, and the CLI exits non-zero on it.
absl::StatusOr<RollbackResult> Rollback(const RollbackRequest& request);

// The text the CLI prints for a result: the move, then "plane:       machine" and
// "/nix:        untouched" (or "/nix:        CHANGED" followed by each change).
std::string FormatRollback(const RollbackResult& result);

// The highest store DB schema the Nix package of `target` can read, or 0 when the state has
// no `nix` package. Exposed for tests.
int NixSchemaOfState(const std::string& nix_version);

}  // namespace onix::cli

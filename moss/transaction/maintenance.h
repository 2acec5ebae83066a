// Keeping a machine root tidy and honest: removing and pruning states, collecting store
// garbage, and verifying (and repairing) the store and every state's tree.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "moss/transaction/gc.h"
#include "moss/transaction/root.h"
#include "moss/transaction/transaction.h"

namespace onix::moss::transaction {

struct RemoveResult {
  std::vector<std::string> removed;  // fstx ids
  GcResult gc;
  // What failed after the commit point without stopping the removal (a history ref that
  // could not be dropped).
  std::vector<std::string> warnings;
};

// Removes the named states (trees, database rows, history refs) and the quarantined candidate
// of a failed transaction (.moss/quarantine), then collects garbage.
// The active state is refused (FailedPrecondition), an unknown id is NotFound; all ids are
// checked before anything is removed. Each tree is first renamed to .moss/root/.trash-<fstx>
// (atomic), so a crash leaves the state whole or a trash tree the next run deletes.
// `boot_hook` (when given) is called afterwards with the remaining states, so boot entries of
// removed states go too; its failure is returned after the removal is complete.
absl::StatusOr<RemoveResult> RemoveStates(MachineRoot& root, const std::vector<std::string>& ids,
                                          bool dry_run, const BootHook& boot_hook = {});

// Keeps `keep` states (at least 1): the active one plus the newest others; removes the rest
// as RemoveStates does. The active state (the boot default) is never removed.
absl::StatusOr<RemoveResult> Prune(MachineRoot& root, size_t keep, bool dry_run,
                                   const BootHook& boot_hook = {});

struct VerifyProblem {
  std::string where;  // "store" or an fstx
  std::string path;   // object name or path below /usr
  std::string problem;
};

struct VerifyReport {
  size_t objects_checked = 0;
  size_t states_checked = 0;
  std::vector<VerifyProblem> problems;  // as found (before any repair)
  size_t repaired = 0;
  bool clean_after = true;  // nothing left broken (after repair, when repairing)
};

// Re-hashes every store object and checks every retained state's tree against its layout.
// With `repair`: corrupt or missing objects are restored from the stone cache, then damaged
// tree entries are rebuilt from the store (each by an atomic rename) and everything is
// checked again.
absl::StatusOr<VerifyReport> Verify(MachineRoot& root, bool repair);

}  // namespace onix::moss::transaction

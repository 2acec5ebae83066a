// Reconciling a machine root after an interrupted transaction: each step rolls forward
// (after the commit point) or back (before it), decided from on-disk facts, never guessed.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "moss/transaction/root.h"
#include "moss/transaction/transaction.h"

namespace onix::moss::transaction {

struct RecoverReport {
  // One line per step taken: "rolled back: dropped unfinished state 3-abcd", ...
  std::vector<std::string> actions;
  std::vector<std::string> warnings;
};

// Pre-condition: root opened with Access::kWrite. Refuses (FailedPrecondition, nothing
// changed) a journal that is corrupt, of an unknown version or from another root. Removes
// stale libgit2 lock files in history.git. Then, with an install/activate journal: ROOT/usr
// holding the journal's `to_token` rolls forward (row committed, the phases after `done`
// rerun: root links and /etc merge, system triggers, archive, boot hook, history); holding
// `from_token` runs the rollback ladder (ladder.h); anything else stops with instructions.
// Then a fact-based sweep, each step idempotent (a crash during recovery is recovered by the
// next run):
//   * the active state's row still a candidate -> mark committed (forward);
//   * staging/usr holding a committed state that is not active and not archived -> archive it;
//   * staging/usr holding a candidate or no moss tree -> remove it and the row (back);
//   * other candidate rows -> deleted; .trash-<fstx> trees -> the removal is finished, and a
//     removal journal also collects garbage;
//   * root links ensured; the active state's history commit and refs/heads/active made;
//   * the boot hook (when given and anything changed that the steps above did not sync).
// Anything it cannot decide (ROOT/usr names a state the database does not know, two trees
// claiming one state) is FailedPrecondition with what to do; nothing is changed then.
// docs/crash-safety.md has the full table.
absl::StatusOr<RecoverReport> Recover(MachineRoot& root, const Options& options = {});

}  // namespace onix::moss::transaction

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

// Pre-condition: root opened with Access::kWrite. The facts, in order of authority:
// ROOT/usr/.fstx names the active tree (the exchange is the commit point); the .fstx inside
// staging/usr names the tree left there; the database's committed flag says whether a state
// was ever switched to. Steps, each idempotent (a crash during recovery is recovered by the
// next run):
//   * the active state's row still a candidate -> mark committed (forward);
//   * staging/usr holding a committed state that is not active and not archived -> archive it
//     (forward: the previous tree after an exchange, or an activation target before it);
//   * staging/usr holding a candidate or no moss tree -> remove it and the row (back);
//   * other candidate rows -> deleted; .trash-<fstx> trees -> the removal is finished;
//   * root links ensured; the active state's history commit and refs/heads/active made;
//   * the boot hook (when given and anything changed).
// Anything it cannot decide (ROOT/usr names a state the database does not know, two trees
// claiming one state) is FailedPrecondition with what to do; nothing is changed then.
absl::StatusOr<RecoverReport> Recover(MachineRoot& root, const Options& options = {});

}  // namespace onix::moss::transaction

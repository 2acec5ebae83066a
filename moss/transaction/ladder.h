// The switch ladder shared by Apply, Activate and Recover (internal to moss/transaction): the
// phases from the exchange intent to completion, the journal records around each effect, and
// the fixed rollback ladder for a transaction that fails or crashed before its commit point.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "moss/etcmerge/etcmerge.h"
#include "moss/state/tree.h"
#include "moss/transaction/journal.h"
#include "moss/transaction/root.h"
#include "moss/transaction/transaction.h"

namespace onix::moss::transaction {

inline constexpr char kStaging[] = "staging";
inline constexpr char kStagingUsr[] = "staging/usr";

// What ROOT/usr is before the switch.
struct Previous {
  enum Kind { kNone, kEmptyUnmanaged, kTree } kind = kNone;
  state::TreeId id;
};

// Every path of `d`, as views into it (no copies: an activation can change thousands).
std::vector<std::string_view> ChangedPaths(const state::LayoutDiff& d);

// Refuses a ROOT/usr moss did not make (we never take over a tree we cannot archive and
// restore); an empty one is accepted, as a freshly created root has.
absl::StatusOr<Previous> InspectUsr(MachineRoot& root);

// Everything the switch ladder needs.
struct SwitchContext {
  std::string fstx;
  uint64_t new_state_number = 0;  // 0: activating an existing state
  Previous previous;
  // Paths relative to /usr that differ from the previous state, for the triggers: views of
  // the plan's file diff, which outlives the switch, or of `recovered_changes`.
  std::vector<std::string_view> changed;
  std::shared_ptr<const state::LayoutDiff> recovered_changes;  // recovery's own diff
  // Set when `changed` is still being computed on another thread (an activation compares
  // the states while its intent is made durable): waits for it and fills `changed`. The
  // ladder calls it before the system triggers and before a rollback, the first steps that
  // need the diff or the database; calling it again returns the same status.
  std::function<absl::Status()> settle_changes;
  // A new state's history commit; empty for an activation (only the active ref moves) and in
  // recovery (rebuilt from the database when the commit is missing).
  std::map<std::string, std::string> history_files;
  std::string history_message;
  std::string parent_fstx;
  int64_t created_unix = 0;
  // The journal record of this transaction; `done` and `phase` advance with the ladder.
  JournalRecord journal;
  bool journal_written = false;  // the first record (durable) is on disk
};

// Intent record: `phase`'s effect is about to begin; the journal's `done` is the last phase
// finished. The first record of a transaction is durable, the others atomic (JournalSync).
absl::Status BeginPhase(MachineRoot& root, SwitchContext& ctx, std::string_view phase);
// The same after the commit point, in memory only: the phases there are idempotent and
// recovery reruns them all from root-links (FinishForward).
void EnterPhase(SwitchContext& ctx, std::string_view phase);
// Done: `phase`'s effect is durable. Recorded by the next BeginPhase (one write per boundary:
// nothing happens between a phase's done record and the next phase's intent record).
void EndPhase(SwitchContext& ctx, std::string_view phase);

// The index of a journal phase in kPhases; kPhases size for "" or an unknown name.
size_t PhaseIndex(std::string_view phase);

// Phase "usr exchanged", the commit point: renameat2(RENAME_EXCHANGE) of staging/usr with
// ROOT/usr (a no-replace rename when ROOT has no usr yet), then the database marks the new
// state committed. A failure after the rename itself is rolled back by the caller
// (RollBack reverses the exchange); a crash after it is rolled forward by recovery.
absl::Status ExchangeUsr(MachineRoot& root, SwitchContext& ctx);

// The phases after the commit point, starting at phase index `first` (>= root-links):
// root links and the /etc merge, system triggers, archiving the previous tree, boot entries,
// history, complete (journal removed). Every step is idempotent so recovery can rerun any of
// them. Failures of root links, /etc merge, triggers and the boot hook are warnings.
absl::Status FinishForward(MachineRoot& root, SwitchContext& ctx, size_t first, const Options& o,
                           std::vector<std::string>& warnings,
                           std::vector<etcmerge::EtcChange>& etc);

// The rollback ladder for a transaction that failed or crashed before its commit point, each
// step idempotent: (1) reverse the exchange when ROOT/usr holds the candidate; (2) the
// candidate tree at staging/usr goes to ROOT/.moss/quarantine/<fstx> (install; only the newest
// quarantined candidate is kept, and a candidate dropped for lack of space is deleted so the
// space comes back) or back to its archive (activate), a partial tree is deleted; (3) the
// candidate's database row is dropped; (4) store objects and cached stones nothing references
// any more are collected; (5) the boot entries are synced back to the retained states;
// (6) the journal is removed. `actions` gets one line per step taken.
absl::Status RollBack(MachineRoot& root, const SwitchContext& ctx, const Options& o,
                      bool free_space, std::vector<std::string>& actions);

// Commits the active state to history when its commit is missing (rebuilt from the
// database) and points refs/heads/active at it. Idempotent.
absl::Status EnsureHistory(MachineRoot& root, const db::StateRecord& active,
                           std::vector<std::string>& actions);

}  // namespace onix::moss::transaction

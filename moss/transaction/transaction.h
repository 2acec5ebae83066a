// The moss transaction: selection -> new state -> atomic /usr switch, as a ladder of small
// named phases (docs/moss.md), each stating its commit point and what a crash leaves.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "moss/etcmerge/etcmerge.h"
#include "moss/state/layout.h"
#include "moss/transaction/root.h"
#include "moss/transaction/selection.h"

namespace onix::moss::transaction {

// Called at the "boot entries synced" phase with the root path and every retained state
// (the lead wires it to boot::SyncBootEntries). A failure is reported as a warning: the new
// state is already active.
using BootHook =
    std::function<absl::Status(const std::string& root, const std::vector<RetainedState>& states)>;

struct Options {
  bool dry_run = false;
  BootHook boot_hook;
  // History/summary line override ("sync"); derived from the package changes when empty.
  std::string message;
  // Progress lines for people ("building staging tree (120 files)"); null = quiet.
  std::function<void(std::string_view)> log;
};

// One package that changes between two states: `from` empty = added, `to` empty = removed
// (versions as "version-release").
struct PackageChange {
  std::string name;
  std::string from;
  std::string to;
};

struct Plan {
  std::string from_fstx;  // empty before the first state
  std::string to_fstx;    // the new state (predicted when dry-run)
  std::vector<PackageChange> packages;
  state::LayoutDiff files;
  std::string message;  // "install foo 1.2-3"
  bool noop = false;    // the selection equals the active state
};

struct Result {
  Plan plan;
  std::vector<std::string> warnings;     // system trigger or boot hook failures after the switch
  std::vector<etcmerge::EtcChange> etc;  // what the /etc merge of factory defaults did
};

// Makes `selection` the new active state. Pre-condition: `root` opened with Access::kWrite.
// Everything that can be refused (unknown stones, path conflicts, a non-moss ROOT/usr) is
// refused before anything is written. Commit point: renameat2(RENAME_EXCHANGE) of
// .moss/root/staging/usr with ROOT/usr. A failure or crash before it leaves the old /usr
// active (a failing transaction trigger removes the candidate); after it, the new one.
// SIGINT/SIGTERM are deferred from the exchange intent to the end.
absl::StatusOr<Result> Apply(MachineRoot& root, const Selection& selection, const Options& options);

// Makes the archived state `id` ("N" or "N-xxxx") active with the same exchange ladder; the
// previously active tree is archived. No new state and no new history commit: the history's
// active ref moves. NotFound for an unknown id, FailedPrecondition when it is already active.
absl::StatusOr<Result> Activate(MachineRoot& root, std::string_view id, const Options& options);

// The changes from manifest `from` to `to` and the one-line history message for them.
std::vector<PackageChange> DiffPackages(const state::Manifest& from, const state::Manifest& to);
// The same from the package rows two states do not share (db::Db::DiffPackageSets).
std::vector<PackageChange> PackageChanges(const db::PackageSetDiff& d);
std::string ChangeMessage(const std::vector<PackageChange>& changes);

// Runs Recover() and logs what it did; called first by Apply, Activate, RemoveStates, Prune.
absl::Status RecoverFirst(MachineRoot& root, const Options& options);

// Shared with Recover(): the pieces of the ladder that rebuild a state's records.

// The files of a state's history commit: manifest.json, state, packages/<name> (with the
// layouts given by package name).
std::map<std::string, std::string> HistoryFiles(
    const state::Manifest& manifest, const std::string& fstx, const std::string& parent,
    const std::map<std::string, const std::vector<stone::LayoutEntry>*>& layouts);
// The full commit message: the summary line, one line per package change, the fstx.
std::string HistoryMessage(const Plan& plan);
// Phase "root links": bin, sbin, lib, lib64 -> usr/... when missing; a real directory or a
// different link is left alone and reported in `warnings`. Idempotent.
void EnsureRootLinks(MachineRoot& root, std::vector<std::string>& warnings);

}  // namespace onix::moss::transaction

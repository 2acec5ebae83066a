#include "moss/transaction/recover.h"

#include <sys/stat.h>

#include <algorithm>
#include <iterator>
#include <map>

#include "absl/strings/match.h"
#include "moss/base/check.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/state/fstx.h"
#include "moss/state/tree.h"
#include "moss/transaction/crash_point.h"
#include "moss/transaction/gc.h"
#include "moss/transaction/journal.h"
#include "moss/transaction/ladder.h"

namespace onix::moss::transaction {
namespace {

absl::StatusOr<std::optional<db::StateRecord>> RecordOf(MachineRoot& root,
                                                        const std::string& fstx) {
  absl::StatusOr<state::Fstx> id = state::Fstx::Parse(fstx);
  if (!id.ok()) return std::optional<db::StateRecord>();
  ONIX_ASSIGN_OR_RETURN(std::optional<db::StateRecord> rec, root.db().GetState(id->number));
  if (!rec || rec->fstx != fstx) return std::optional<db::StateRecord>();
  return rec;
}

absl::StatusOr<std::optional<state::TreeId>> StagingId(MachineRoot& root) {
  absl::StatusOr<UniqueFd> dir = fs::OpenDirAt(root.states_fd(), kStagingUsr);
  if (absl::IsNotFound(dir.status())) return std::optional<state::TreeId>();
  if (!dir.ok()) return dir.status();
  absl::StatusOr<state::TreeId> id = state::ReadTreeId(dir->get());
  if (!id.ok()) return std::optional<state::TreeId>(state::TreeId{});  // not a finished tree
  return std::optional<state::TreeId>(*id);
}

// The switch context of the transaction a journal describes, rebuilt from the database.
absl::StatusOr<SwitchContext> ContextOf(MachineRoot& root, const JournalRecord& j) {
  SwitchContext ctx;
  ctx.fstx = j.to_fstx;
  ctx.new_state_number = j.state_number;
  ctx.parent_fstx = j.from_fstx;
  ctx.journal = j;
  ctx.journal_written = true;
  if (!j.from_token.empty()) {
    ctx.previous.kind = Previous::kTree;
    ctx.previous.id = {j.from_fstx, j.from_token};
  } else {
    // A first install: ROOT had no usr, or an empty one that the exchange put in staging.
    ONIX_ASSIGN_OR_RETURN(bool staged, fs::ExistsAt(root.states_fd(), kStagingUsr));
    absl::StatusOr<UniqueFd> usr = fs::OpenDirAt(root.fd(), "usr");
    bool usr_empty = false;
    if (usr.ok()) {
      ONIX_ASSIGN_OR_RETURN(std::vector<std::string> inside, fs::ListDir(usr->get()));
      usr_empty = inside.empty();
    }
    ctx.previous.kind = staged || usr_empty ? Previous::kEmptyUnmanaged : Previous::kNone;
  }
  // The paths that changed, for the system triggers a roll-forward may run again.
  ONIX_ASSIGN_OR_RETURN(std::optional<db::StateRecord> to, RecordOf(root, j.to_fstx));
  ONIX_ASSIGN_OR_RETURN(std::optional<db::StateRecord> from, RecordOf(root, j.from_fstx));
  if (to) {
    std::vector<stone::LayoutEntry> from_layout;
    if (from) {
      ONIX_ASSIGN_OR_RETURN(state::Manifest m, root.ManifestOf(*from));
      ONIX_ASSIGN_OR_RETURN(std::vector<state::OwnedEntry> l, root.LayoutOf(m));
      from_layout = state::Entries(l);
    }
    ONIX_ASSIGN_OR_RETURN(state::Manifest m, root.ManifestOf(*to));
    ONIX_ASSIGN_OR_RETURN(std::vector<state::OwnedEntry> l, root.LayoutOf(m));
    ctx.recovered_changes = std::make_shared<const state::LayoutDiff>(
        state::DiffLayouts(from_layout, state::Entries(l)));
    ctx.changed = ChangedPaths(*ctx.recovered_changes);
    if (j.operation == "install") ctx.changed.push_back(".fstx");
  }
  return ctx;
}

// libgit2 takes a ref or file lock by creating "<name>.lock" and renaming it over <name>; a
// process killed in between leaves the lock file, and every later update of that ref fails.
// Recovery runs under the root lock, so no other moss is writing history: any lock file in
// .moss/history.git is stale. Removes them all (HEAD.lock, packed-refs.lock, refs/**.lock).
absl::Status RemoveStaleHistoryLocks(MachineRoot& root, std::vector<std::string>& actions) {
  absl::StatusOr<UniqueFd> git = fs::OpenDirAt(root.moss_fd(), "history.git");
  if (absl::IsNotFound(git.status())) return absl::OkStatus();
  if (!git.ok()) return git.status();
  std::vector<std::string> pending = {"."};
  while (!pending.empty()) {
    const std::string rel = pending.back();
    pending.pop_back();
    ONIX_ASSIGN_OR_RETURN(UniqueFd dir, fs::OpenDirAt(git->get(), rel));
    ONIX_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(dir.get()));
    for (const auto& name : names) {
      const std::string path = rel == "." ? name : StrCat(rel, "/", name);
      if (absl::EndsWith(name, ".lock")) {
        ONIX_RETURN_IF_ERROR(fs::UnlinkAt(dir.get(), name));
        actions.push_back(StrCat("removed a stale history lock ", path));
      } else if (rel == "." ? name == "refs" : true) {
        absl::StatusOr<struct stat> st = fs::StatAt(dir.get(), name);
        if (st.ok() && S_ISDIR(st->st_mode)) pending.push_back(path);
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RecoverReport> Recover(MachineRoot& root, const Options& options) {
  ONIX_CHECK(root.writable()) << "recovery needs the root lock";
  RecoverReport report;
  auto& actions = report.actions;
  const std::string what = StrCat("recovering ", root.path());

  // Decide everything that could make us stop before changing anything. A journal we
  // cannot trust stops us: it would be guessing which transaction was in flight.
  absl::StatusOr<std::optional<JournalRecord>> journal = ReadJournal(root.moss_fd());
  if (!journal.ok()) {
    return FailedPrecondition(StrCat(what, ": ", journal.status().message(),
                                     "; moss will not guess. Inspect ", root.path(),
                                     "/.moss/journal; removing it lets recovery decide from the"
                                     " state trees alone"));
  }
  if (*journal) {
    ONIX_ASSIGN_OR_RETURN(const std::string root_id, RootId(root.moss_fd()));
    if ((*journal)->root_id != root_id) {
      return FailedPrecondition(StrCat(what, ": .moss/journal belongs to another machine root (id ",
                                       (*journal)->root_id, ", this root is ", root_id,
                                       "); it was copied here. Remove it by hand"));
    }
  }
  ONIX_RETURN_IF_ERROR_CTX(RemoveStaleHistoryLocks(root, actions), what);

  // With a journal of an install or activation, its tokens say which tree is which: ROOT/usr
  // holding the new tree means the commit point was passed (forward from the last phase
  // done), the old one means it was not (the rollback ladder). Anything else stops us.
  bool boot_synced = false;
  if (*journal && (*journal)->operation != "remove") {
    const JournalRecord& j = **journal;
    ONIX_ASSIGN_OR_RETURN(SwitchContext ctx, ContextOf(root, j));
    std::optional<state::TreeId> usr;
    {
      absl::StatusOr<UniqueFd> dir = fs::OpenDirAt(root.fd(), "usr");
      if (dir.ok()) {
        absl::StatusOr<state::TreeId> id = state::ReadTreeId(dir->get());
        usr = id.ok() ? *id : state::TreeId{};
      }
    }
    const bool is_new = usr && !usr->token.empty() && usr->token == j.to_token;
    const bool is_old =
        j.from_token.empty() ? (!usr || usr->token.empty()) : (usr && usr->token == j.from_token);
    if (!is_new && !is_old) {
      return FailedPrecondition(StrCat(
          what, ": an ", j.operation, " from ", j.from_fstx.empty() ? "nothing" : j.from_fstx,
          " to ", j.to_fstx, " was interrupted, but ", root.path(), "/usr is ",
          usr && !usr->fstx.empty() ? StrCat("state ", usr->fstx, " with another token")
                                    : std::string("not a moss tree"),
          "; moss cannot tell which tree is which and will not guess. Put the tree of state ",
          j.from_fstx.empty() ? j.to_fstx : j.from_fstx, " back at ", root.path(),
          "/usr (compare .fstx tokens with .moss/journal), then run moss state recover"));
    }
    actions.push_back(StrCat("found an interrupted ", j.operation, " of state ", j.to_fstx,
                             j.from_fstx.empty() ? "" : StrCat(" (from ", j.from_fstx, ")"),
                             " in phase ", j.phase,
                             j.done.empty() ? "" : StrCat(" after ", j.done)));
    if (is_new) {
      if (j.state_number != 0) {
        ONIX_ASSIGN_OR_RETURN(std::optional<db::StateRecord> rec,
                              root.db().GetState(j.state_number));
        if (rec && rec->fstx == j.to_fstx && !rec->committed) {
          ONIX_RETURN_IF_ERROR_CTX(root.db().MarkCommitted(j.state_number), what);
          actions.push_back(
              StrCat("rolled forward: state ", j.to_fstx, " is active; committed it"));
        }
      }
      const size_t done = j.done.empty() ? 0 : PhaseIndex(j.done) + 1;
      const size_t first = std::max(done, PhaseIndex("root-links"));
      std::vector<etcmerge::EtcChange> etc;
      ONIX_RETURN_IF_ERROR_CTX(FinishForward(root, ctx, first, options, report.warnings, etc),
                               what);
      actions.push_back(StrCat(
          "rolled forward: finished switching to state ", j.to_fstx,
          first < std::size(kPhases) ? StrCat(" from phase ", kPhases[first]) : std::string()));
      boot_synced = first <= PhaseIndex("boot-entries-synced");
    } else {
      ONIX_RETURN_IF_ERROR_CTX(RollBack(root, ctx, options, false, actions), what);
      boot_synced = true;
    }
  }

  ONIX_ASSIGN_OR_RETURN(std::optional<std::string> active_fstx, root.ActiveFstx());
  std::optional<db::StateRecord> active;
  if (active_fstx) {
    ONIX_ASSIGN_OR_RETURN(active, RecordOf(root, *active_fstx));
    if (!active) {
      return FailedPrecondition(
          StrCat(what, ": ", root.path(), "/usr is state ", *active_fstx,
                 " but the database has no record of it; moss cannot decide safely. Restore ",
                 root.path(), "/.moss/db from a backup, or move ", root.path(), "/usr away"));
    }
  }
  ONIX_ASSIGN_OR_RETURN(std::optional<state::TreeId> staged, StagingId(root));
  std::optional<db::StateRecord> staged_rec;
  if (staged && !staged->fstx.empty()) {
    if (active_fstx && staged->fstx == *active_fstx) {
      return FailedPrecondition(StrCat(what, ": both ", root.path(), "/usr and ", root.path(),
                                       "/.moss/root/staging/usr claim state ", staged->fstx,
                                       "; compare them and remove the wrong one by hand"));
    }
    ONIX_ASSIGN_OR_RETURN(staged_rec, RecordOf(root, staged->fstx));
  }

  // The active state was switched to: its row is committed (forward).
  if (active && !active->committed) {
    ONIX_RETURN_IF_ERROR_CTX(root.db().MarkCommitted(active->number), what);
    active->committed = true;
    actions.push_back(StrCat("rolled forward: state ", active->fstx, " is active; committed it"));
  }

  // The tree left in staging.
  if (staged) {
    if (staged_rec && staged_rec->committed) {
      const std::string archived = MachineRoot::ArchivedUsr(staged_rec->fstx);
      ONIX_ASSIGN_OR_RETURN(bool exists, fs::ExistsAt(root.states_fd(), archived));
      if (exists) {
        return FailedPrecondition(StrCat(what, ": state ", staged_rec->fstx,
                                         " has a tree both in staging and archived; remove ",
                                         root.path(), "/.moss/root/staging by hand"));
      }
      absl::Status made = fs::MkdirAt(root.states_fd(), staged_rec->fstx, 0755);
      if (!made.ok() && !absl::IsAlreadyExists(made)) return Annotate(made, what);
      ONIX_RETURN_IF_ERROR_CTX(
          fs::RenameNoReplaceAt(root.states_fd(), kStagingUsr, root.states_fd(), archived), what);
      ONIX_RETURN_IF_ERROR_CTX(fs::FsyncDirAt(root.states_fd(), staged_rec->fstx), what);
      actions.push_back(StrCat("rolled forward: archived state ", staged_rec->fstx));
    } else {
      ONIX_RETURN_IF_ERROR_CTX(fs::RemoveTreeAt(root.states_fd(), kStaging), what);
      actions.push_back(staged->fstx.empty()
                            ? std::string("rolled back: removed a partial staging tree")
                            : StrCat("rolled back: dropped unfinished state ", staged->fstx));
    }
  }
  absl::Status rm = fs::RemoveTreeAt(root.states_fd(), kStaging);
  if (!rm.ok()) return Annotate(rm, what);

  // Candidate rows that never became active (back), and unfinished removals (forward).
  ONIX_ASSIGN_OR_RETURN(std::vector<db::StateRecord> all, root.db().States(true));
  for (const auto& st : all) {
    if (st.committed || (active && st.fstx == active->fstx)) continue;
    ONIX_RETURN_IF_ERROR_CTX(root.db().DeleteState(st.number), what);
    if (!staged || staged->fstx != st.fstx) {
      actions.push_back(StrCat("rolled back: dropped unfinished state ", st.fstx));
    }
  }
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> entries, fs::ListDir(root.states_fd()));
  for (const auto& name : entries) {
    if (absl::StartsWith(name, ".trash-")) {
      const std::string fstx = name.substr(7);
      ONIX_ASSIGN_OR_RETURN(std::optional<db::StateRecord> rec, RecordOf(root, fstx));
      if (rec) ONIX_RETURN_IF_ERROR_CTX(root.db().DeleteState(rec->number), what);
      absl::Status dropped = FailPoint("history-committed");
      if (dropped.ok()) dropped = root.history().DropState(fstx);
      if (!dropped.ok()) {
        report.warnings.push_back(StrCat("dropping state ", fstx, " from history: ",
                                         EscapeControl(dropped.message()), "; skipped"));
      }
      ONIX_RETURN_IF_ERROR_CTX(fs::RemoveTreeAt(root.states_fd(), name), what);
      actions.push_back(StrCat("rolled forward: finished removing state ", fstx));
    } else if (absl::StartsWith(name, ".repair-")) {
      ONIX_RETURN_IF_ERROR_CTX(fs::RemoveTreeAt(root.states_fd(), name), what);
    } else if (name != "sandbox") {
      // An archived state's directory emptied by an interrupted activation.
      ONIX_ASSIGN_OR_RETURN(UniqueFd dir, fs::OpenDirAt(root.states_fd(), name));
      ONIX_ASSIGN_OR_RETURN(std::vector<std::string> inside, fs::ListDir(dir.get()));
      if (inside.empty()) ONIX_RETURN_IF_ERROR_CTX(fs::RmdirAt(root.states_fd(), name), what);
    }
  }

  if (active) {
    EnsureRootLinks(root, report.warnings);
    // Never a reason to stop: a root whose history cannot be written is still usable.
    absl::Status recorded = FailPoint("history-committed");
    if (recorded.ok()) recorded = EnsureHistory(root, *active, actions);
    if (!recorded.ok()) {
      report.warnings.push_back(StrCat(
          "recording state ", active->fstx, " in history: ", EscapeControl(recorded.message()),
          "; skipped: the history has no commit for it yet, the next moss command retries"));
    }
  }
  // An interrupted removal: its trees were finished above; the space and boot entries of the
  // removed states go now.
  const bool removal = *journal && (*journal)->operation == "remove";
  if (removal) {
    const JournalRecord& j = **journal;
    actions.insert(actions.begin(),
                   StrCat("found an interrupted removal of ", j.to_fstx, " in phase ", j.phase));
    ONIX_ASSIGN_OR_RETURN(GcResult gc, CollectGarbage(root));
    if (gc.objects_removed + gc.stones_removed > 0) {
      actions.push_back(StrCat("rolled forward: collected ", gc.objects_removed,
                               " store objects and ", gc.stones_removed, " cached stones"));
    }
  }
  if ((removal || (!actions.empty() && !boot_synced)) && options.boot_hook) {
    ONIX_ASSIGN_OR_RETURN(std::vector<RetainedState> states, root.RetainedStates());
    absl::Status s = FailPoint("boot-entries-synced");
    if (s.ok()) s = options.boot_hook(root.path(), states);
    if (!s.ok()) report.warnings.push_back(StrCat("syncing boot entries: ", s.message()));
  }
  if (removal) ONIX_RETURN_IF_ERROR_CTX(ClearJournal(root.moss_fd()), what);
  return report;
}

}  // namespace onix::moss::transaction

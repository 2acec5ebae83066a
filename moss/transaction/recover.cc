#include "moss/transaction/recover.h"

#include <map>

#include "absl/strings/match.h"
#include "moss/base/check.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/state/fstx.h"
#include "moss/state/tree.h"
#include "moss/transaction/journal.h"

namespace onix::moss::transaction {
namespace {

constexpr char kStaging[] = "staging";
constexpr char kStagingUsr[] = "staging/usr";

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

// Commits the active state to history when the crash came before "history committed".
absl::Status EnsureHistory(MachineRoot& root, const db::StateRecord& active,
                           std::vector<std::string>& actions) {
  ONIX_ASSIGN_OR_RETURN(std::optional<std::string> commit, root.history().CommitOf(active.fstx));
  if (!commit) {
    ONIX_ASSIGN_OR_RETURN(state::Manifest m, root.ManifestOf(active));
    std::vector<std::vector<stone::LayoutEntry>> layouts;
    for (const auto& p : m.packages) {
      ONIX_ASSIGN_OR_RETURN(std::vector<stone::LayoutEntry> l, root.db().Layout(p.stone_digest));
      layouts.push_back(std::move(l));
    }
    std::map<std::string, const std::vector<stone::LayoutEntry>*> by_name;
    for (size_t i = 0; i < m.packages.size(); ++i) by_name[m.packages[i].meta.name] = &layouts[i];
    Plan plan;
    plan.from_fstx = active.parent_fstx;
    plan.to_fstx = active.fstx;
    plan.message = active.summary;
    if (!active.parent_fstx.empty()) {
      ONIX_ASSIGN_OR_RETURN(std::optional<db::StateRecord> parent,
                            RecordOf(root, active.parent_fstx));
      if (parent) {
        ONIX_ASSIGN_OR_RETURN(state::Manifest pm, root.ManifestOf(*parent));
        plan.packages = DiffPackages(pm, m);
      }
    } else {
      plan.packages = DiffPackages(state::Manifest{}, m);
    }
    ONIX_RETURN_IF_ERROR(root.history().CommitState(
        active.fstx, HistoryFiles(m, active.fstx, active.parent_fstx, by_name),
        HistoryMessage(plan), active.parent_fstx, active.created_unix));
    actions.push_back(StrCat("rolled forward: recorded state ", active.fstx, " in history"));
  }
  return root.history().SetActive(active.fstx);
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
      ONIX_RETURN_IF_ERROR_CTX(root.history().DropState(fstx), what);
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
    ONIX_RETURN_IF_ERROR_CTX(EnsureHistory(root, *active, actions), what);
  }
  if (*journal) {
    const JournalRecord& j = **journal;
    actions.insert(actions.begin(),
                   StrCat("found an interrupted ", j.operation, " of state ", j.to_fstx,
                          j.from_fstx.empty() ? "" : StrCat(" (from ", j.from_fstx, ")"),
                          " after phase ", j.phase));
    ONIX_RETURN_IF_ERROR_CTX(ClearJournal(root.moss_fd()), what);
  }
  if (!actions.empty() && options.boot_hook) {
    ONIX_ASSIGN_OR_RETURN(std::vector<RetainedState> states, root.RetainedStates());
    absl::Status s = options.boot_hook(root.path(), states);
    if (!s.ok()) report.warnings.push_back(StrCat("syncing boot entries: ", s.message()));
  }
  return report;
}

}  // namespace onix::moss::transaction

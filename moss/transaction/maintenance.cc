#include "moss/transaction/maintenance.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "moss/base/check.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/state/tree.h"
#include "moss/transaction/content.h"
#include "moss/transaction/crash_point.h"
#include "moss/transaction/journal.h"
#include "moss/transaction/transaction.h"

namespace onix::moss::transaction {
namespace {

struct StateTree {
  db::StateRecord record;
  std::string rel;  // below root fd ("usr") or states fd ("<fstx>/usr")
  bool active = false;
};

absl::StatusOr<std::vector<StateTree>> Trees(MachineRoot& root) {
  ONIX_ASSIGN_OR_RETURN(std::optional<std::string> active, root.ActiveFstx());
  ONIX_ASSIGN_OR_RETURN(std::vector<db::StateRecord> states, root.db().States());
  std::vector<StateTree> out;
  for (auto& s : states) {
    const bool is_active = active && *active == s.fstx;
    out.push_back({s, is_active ? "usr" : MachineRoot::ArchivedUsr(s.fstx), is_active});
  }
  return out;
}

}  // namespace

absl::StatusOr<RemoveResult> RemoveStates(MachineRoot& root, const std::vector<std::string>& ids,
                                          bool dry_run, const BootHook& boot_hook) {
  ONIX_CHECK(root.writable() || dry_run) << "removing states needs the root lock";
  if (!dry_run) {
    Options recover;
    recover.boot_hook = boot_hook;
    ONIX_RETURN_IF_ERROR(RecoverFirst(root, recover));
  }
  ONIX_ASSIGN_OR_RETURN(std::optional<std::string> active, root.ActiveFstx());
  std::vector<db::StateRecord> doomed;
  for (const auto& id : ids) {
    ONIX_ASSIGN_OR_RETURN(db::StateRecord st, root.ResolveState(id));
    if (active && *active == st.fstx) {
      return FailedPrecondition(
          StrCat("state ", st.fstx, " is active (and the boot default); it cannot be removed"));
    }
    doomed.push_back(std::move(st));
  }
  RemoveResult result;
  for (const auto& st : doomed) result.removed.push_back(st.fstx);
  if (dry_run) {
    // What GC would free once these are gone is only known after removal; report none.
    return result;
  }
  // The journal says a removal is under way, so that recovery finishes it all the way to the
  // boot entries even when the crash comes after the last tree is gone.
  std::string names;
  for (const auto& st : doomed) names += (names.empty() ? "" : ",") + st.fstx;
  ONIX_ASSIGN_OR_RETURN(const std::string root_id, RootId(root.moss_fd()));
  JournalRecord journal{root_id, "remove", "remove-trashed", active ? *active : "", names, ""};
  ONIX_RETURN_IF_ERROR(WriteJournal(root.moss_fd(), journal, JournalSync::kDurable));
  CrashPoint("remove-intent");
  // All doomed trees are renamed to their trash names, then made durable with one directory
  // sync, then forgotten in one database commit: a removal of N states costs the syncs of
  // one (under I/O load each sync costs milliseconds). A crash before the sync may leave some
  // trees trashed and others not; recovery finishes the trashed ones (their names say so)
  // and the others stay retained states.
  const std::string what = StrCat("removing ", doomed.size() == 1 ? "state " : "states ", names);
  for (const auto& st : doomed) {
    const std::string trash = StrCat(".trash-", st.fstx);
    ONIX_RETURN_IF_ERROR_CTX(state::RemoveTree(root.states_fd(), trash), what);
    absl::Status moved = fs::RenameAt(root.states_fd(), st.fstx, root.states_fd(), trash);
    if (!moved.ok() && !absl::IsNotFound(moved)) return Annotate(moved, what);
  }
  // Durable before the rows go, so a power cut never leaves a tree without its row (which
  // nothing would ever remove).
  ONIX_RETURN_IF_ERROR_CTX(fs::FsyncDirAt(root.states_fd()), what);
  // Commit point of a removal: from here recovery finishes it (the trash names say so).
  CrashPoint("remove-trashed");
  std::vector<uint64_t> numbers;
  for (const auto& st : doomed) numbers.push_back(st.number);
  ONIX_RETURN_IF_ERROR_CTX(root.db().DeleteStates(numbers), what);
  // After the commit point: a history that refuses the ref drop is the audit trail's
  // problem, never a reason to leave the removal half done (the rows are already gone).
  for (const auto& st : doomed) {
    absl::Status dropped = FailPoint("history-committed");
    if (dropped.ok()) dropped = root.history().DropState(st.fstx);
    if (!dropped.ok()) {
      result.warnings.push_back(StrCat("dropping state ", st.fstx, " from history: ",
                                       EscapeControl(dropped.message()), "; skipped"));
    }
  }
  CrashPoint("remove-forgotten");
  for (const auto& st : doomed) {
    ONIX_RETURN_IF_ERROR_CTX(state::RemoveTree(root.states_fd(), StrCat(".trash-", st.fstx)), what);
  }
  CrashPoint("remove-deleted");
  // The quarantined candidate (the newest failed transaction's tree) holds its files' space
  // through hardlinks; an explicit removal is when the admin wants space back.
  ONIX_RETURN_IF_ERROR_CTX(fs::RemoveTreeAt(root.moss_fd(), "quarantine"), "removing states");
  // Unlinking unreferenced objects one by one: a crash leaves garbage for the next run.
  ONIX_ASSIGN_OR_RETURN(result.gc, CollectGarbage(root));
  CrashPoint("remove-collected");
  if (boot_hook) {
    journal.done = "remove-trashed";
    journal.phase = "boot-entries-synced";
    ONIX_RETURN_IF_ERROR(WriteJournal(root.moss_fd(), journal, JournalSync::kAtomic));
    ONIX_ASSIGN_OR_RETURN(std::vector<RetainedState> states, root.RetainedStates());
    const absl::Status synced = boot_hook(root.path(), states);
    ONIX_RETURN_IF_ERROR(ClearJournal(root.moss_fd(), JournalSync::kAtomic));
    ONIX_RETURN_IF_ERROR_CTX(synced, "syncing boot entries");
    return result;
  }
  ONIX_RETURN_IF_ERROR(ClearJournal(root.moss_fd(), JournalSync::kAtomic));
  return result;
}

absl::StatusOr<RemoveResult> Prune(MachineRoot& root, size_t keep, bool dry_run,
                                   const BootHook& boot_hook) {
  if (keep < 1) return InvalidArgument("prune --keep must be at least 1 (the active state)");
  if (!dry_run) {
    Options recover;
    recover.boot_hook = boot_hook;
    ONIX_RETURN_IF_ERROR(RecoverFirst(root, recover));
  }
  ONIX_ASSIGN_OR_RETURN(std::vector<RetainedState> states, root.RetainedStates());
  std::vector<std::string> doomed;
  size_t kept = 0;
  for (const auto& s : states) kept += s.active ? 1 : 0;
  // Newest first; the active state is already counted.
  for (auto it = states.rbegin(); it != states.rend(); ++it) {
    if (it->active) continue;
    if (kept < keep) {
      ++kept;
    } else {
      doomed.push_back(it->fstx);
    }
  }
  if (doomed.empty()) {
    RemoveResult none;
    if (!dry_run) {
      ONIX_RETURN_IF_ERROR_CTX(fs::RemoveTreeAt(root.moss_fd(), "quarantine"), "pruning");
      ONIX_ASSIGN_OR_RETURN(none.gc, CollectGarbage(root));
    }
    return none;
  }
  return RemoveStates(root, doomed, dry_run, boot_hook);
}

absl::StatusOr<VerifyReport> Verify(MachineRoot& root, bool repair) {
  VerifyReport report;
  ONIX_ASSIGN_OR_RETURN(std::set<store::ObjectKey> referenced, ReferencedObjects(root));
  ONIX_ASSIGN_OR_RETURN(std::vector<store::ObjectKey> all, root.store().List());
  std::set<store::ObjectKey> bad;
  std::set<store::ObjectKey> present(all.begin(), all.end());
  for (const auto& key : all) {
    ++report.objects_checked;
    absl::Status s = root.store().Verify(key);
    if (!s.ok()) {
      bad.insert(key);
      report.problems.push_back({"store", key.Name(), "content does not match its digest"});
    }
  }
  for (const auto& key : referenced) {
    if (!present.count(key)) {
      bad.insert(key);
      report.problems.push_back({"store", key.Name(), "missing"});
    }
  }
  auto object_ok = [&](const store::ObjectKey& k) { return !bad.count(k); };

  ONIX_ASSIGN_OR_RETURN(std::vector<StateTree> trees, Trees(root));
  std::map<std::string, std::vector<state::TreeProblem>> tree_problems;
  bool identity_broken = false;
  std::map<std::string, std::vector<stone::LayoutEntry>> layouts;
  for (const auto& t : trees) {
    ++report.states_checked;
    ONIX_ASSIGN_OR_RETURN(state::Manifest m, root.ManifestOf(t.record));
    ONIX_ASSIGN_OR_RETURN(std::vector<state::OwnedEntry> merged, root.LayoutOf(m));
    layouts[t.record.fstx] = state::Entries(merged);
    absl::StatusOr<UniqueFd> dir =
        t.active ? fs::OpenDirAt(root.fd(), t.rel) : fs::OpenDirAt(root.states_fd(), t.rel);
    if (!dir.ok()) {
      report.problems.push_back({t.record.fstx, "", "tree is missing"});
      tree_problems[t.record.fstx].push_back({"", "tree is missing"});
      continue;
    }
    ONIX_ASSIGN_OR_RETURN(
        std::vector<state::TreeProblem> problems,
        state::CheckTree(root.store(), layouts[t.record.fstx], dir->get(), object_ok));
    // The tree must say which state it is: a swapped or copied tree is reported, never
    // silently accepted (repair cannot know which state it really holds).
    absl::StatusOr<state::TreeId> id = state::ReadTreeId(dir->get());
    if (!id.ok() || id->fstx != t.record.fstx) {
      report.problems.push_back(
          {t.record.fstx, ".fstx", id.ok() ? StrCat("names state ", id->fstx) : "is missing"});
      identity_broken = true;
    }
    for (const auto& p : problems) report.problems.push_back({t.record.fstx, p.path, p.problem});
    tree_problems[t.record.fstx] = std::move(problems);
  }
  if (!repair) {
    report.clean_after = report.problems.empty();
    return report;
  }
  ONIX_CHECK(root.writable()) << "repair needs the root lock";

  // Objects first: drop the corrupt ones (trees keep their own link to the bad inode and are
  // rebuilt below), then refetch everything referenced and missing from the stone cache.
  for (const auto& key : bad) ONIX_RETURN_IF_ERROR(root.store().Remove(key));
  NeededObjects needed;
  for (const auto& key : bad) {
    if (referenced.count(key)) needed[key.digest].insert(key);
  }
  ONIX_RETURN_IF_ERROR_CTX(FetchObjects(root, needed, {}), "repairing the store");
  report.repaired += bad.size();
  bad.clear();

  // Then trees: re-check (objects were replaced) and rebuild what is wrong.
  for (const auto& t : trees) {
    std::vector<stone::LayoutEntry>& layout = layouts[t.record.fstx];
    const int base = t.active ? root.fd() : root.states_fd();
    absl::StatusOr<UniqueFd> dir = fs::OpenDirAt(base, t.rel);
    if (!dir.ok()) {
      // A whole archived tree is gone: rebuild it beside and rename it into place.
      const std::string tmp = StrCat(".repair-", t.record.fstx);
      ONIX_RETURN_IF_ERROR(fs::RemoveTreeAt(root.states_fd(), tmp));
      ONIX_RETURN_IF_ERROR(fs::MkdirAt(root.states_fd(), tmp, 0755));
      ONIX_ASSIGN_OR_RETURN(UniqueFd fresh, fs::OpenDirAt(root.states_fd(), tmp));
      ONIX_RETURN_IF_ERROR(state::BuildTree(root.store(), layout, fresh.get()));
      ONIX_RETURN_IF_ERROR(state::WriteTreeId(fresh.get(), {t.record.fstx, state::NewToken()}));
      absl::Status made = fs::MkdirAt(root.states_fd(), t.record.fstx, 0755);
      if (!made.ok() && !absl::IsAlreadyExists(made)) return made;
      ONIX_RETURN_IF_ERROR(fs::RenameNoReplaceAt(root.states_fd(), tmp, root.states_fd(), t.rel));
      ++report.repaired;
      continue;
    }
    ONIX_ASSIGN_OR_RETURN(std::vector<state::TreeProblem> problems,
                          state::CheckTree(root.store(), layout, dir->get(), object_ok));
    std::map<std::string, const stone::LayoutEntry*> by_path;
    for (const auto& e : layout) by_path[e.path] = &e;
    for (const auto& p : problems) {
      ONIX_RETURN_IF_ERROR_CTX(state::RepairEntry(root.store(), *by_path[p.path], dir->get()),
                               StrCat("repairing state ", t.record.fstx));
      ++report.repaired;
    }
    ONIX_ASSIGN_OR_RETURN(std::vector<state::TreeProblem> after,
                          state::CheckTree(root.store(), layout, dir->get(), object_ok));
    if (!after.empty()) report.clean_after = false;
  }
  ONIX_RETURN_IF_ERROR(root.store().Sync());
  if (identity_broken) report.clean_after = false;
  return report;
}

}  // namespace onix::moss::transaction

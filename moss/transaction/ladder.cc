#include "moss/transaction/ladder.h"

#include <unistd.h>

#include <map>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/state/fstx.h"
#include "moss/transaction/crash_point.h"
#include "moss/transaction/gc.h"
#include "moss/triggers/sandbox.h"
#include "moss/triggers/triggers.h"

namespace onix::moss::transaction {

std::vector<std::string_view> ChangedPaths(const state::LayoutDiff& d) {
  std::vector<std::string_view> out;
  out.reserve(d.added.size() + d.removed.size() + d.changed.size());
  for (const auto* list : {&d.added, &d.removed, &d.changed}) {
    out.insert(out.end(), list->begin(), list->end());
  }
  return out;
}

namespace {

constexpr char kQuarantine[] = "quarantine";

void Log(const Options& o, std::string_view line) {
  if (o.log) o.log(line);
}

absl::Status EnsureDir(int dirfd, std::string_view name) {
  absl::Status s = fs::MkdirAt(dirfd, name, 0755);
  return absl::IsAlreadyExists(s) ? absl::OkStatus() : s;
}

// The tree id inside `rel` below `dirfd`: nullopt when there is no such directory, an empty
// id when it has no readable .fstx (a partial tree).
std::optional<state::TreeId> TreeAt(int dirfd, std::string_view rel) {
  absl::StatusOr<UniqueFd> dir = fs::OpenDirAt(dirfd, rel);
  if (!dir.ok()) return std::nullopt;
  absl::StatusOr<state::TreeId> id = state::ReadTreeId(dir->get());
  return id.ok() ? *id : state::TreeId{};
}

absl::StatusOr<std::optional<db::StateRecord>> RecordOf(MachineRoot& root,
                                                        const std::string& fstx) {
  absl::StatusOr<state::Fstx> id = state::Fstx::Parse(fstx);
  if (!id.ok()) return std::optional<db::StateRecord>();
  ONIX_ASSIGN_OR_RETURN(std::optional<db::StateRecord> rec, root.db().GetState(id->number));
  if (!rec || rec->fstx != fstx) return std::optional<db::StateRecord>();
  return rec;
}

// Phase "root links", second half: the three-way merge of /etc factory defaults from the
// previous tree to the new /usr, before system triggers so they see the merged /etc. The
// previous tree is at staging/usr until it is archived, then at .moss/root/<fstx>/usr; both
// are checked by token. After the commit point, so a failure is a warning; each file is
// replaced atomically and rerunning the merge converges.
void MergeEtc(MachineRoot& root, const SwitchContext& ctx, std::vector<etcmerge::EtcChange>& etc,
              std::vector<std::string>& warnings) {
  UniqueFd old_usr;
  if (ctx.previous.kind == Previous::kTree) {
    for (const std::string& rel :
         {std::string(kStagingUsr), MachineRoot::ArchivedUsr(ctx.previous.id.fstx)}) {
      std::optional<state::TreeId> id = TreeAt(root.states_fd(), rel);
      if (!id || id->token != ctx.previous.id.token) continue;
      absl::StatusOr<UniqueFd> fd = fs::OpenDirAt(root.states_fd(), rel);
      if (fd.ok()) old_usr = std::move(*fd);
      break;
    }
    if (!old_usr) {
      warnings.push_back(StrCat("merging /etc defaults: the tree of state ", ctx.previous.id.fstx,
                                " is gone; merge skipped"));
      return;
    }
  }
  absl::StatusOr<UniqueFd> new_usr = fs::OpenDirAt(root.fd(), "usr");
  absl::StatusOr<std::vector<etcmerge::EtcChange>> merged =
      new_usr.ok() ? etcmerge::MergeEtcDefaults(root.fd(), old_usr.get(), new_usr->get())
                   : absl::StatusOr<std::vector<etcmerge::EtcChange>>(new_usr.status());
  if (!merged.ok()) {
    warnings.push_back(StrCat("merging /etc defaults: ", merged.status().message()));
    return;
  }
  etc = std::move(*merged);
}

// The sys.d triggers of the new /usr whose globs match a changed path; all of them when the
// changed paths are unknown.
std::vector<triggers::Trigger> FiringSystemTriggers(MachineRoot& root, const SwitchContext& ctx,
                                                    bool changes_known,
                                                    std::vector<std::string>& warnings) {
  absl::StatusOr<UniqueFd> usr = fs::OpenDirAt(root.fd(), "usr");
  if (!usr.ok()) {
    warnings.push_back(std::string(usr.status().message()));
    return {};
  }
  absl::StatusOr<std::vector<triggers::Trigger>> list =
      triggers::LoadTriggers(usr->get(), triggers::kSysDir);
  if (!list.ok()) {
    warnings.push_back(std::string(list.status().message()));
    return {};
  }
  std::vector<triggers::Trigger> out;
  for (auto& t : *list) {
    if (!changes_known || triggers::Fires(t, ctx.changed)) out.push_back(std::move(t));
  }
  return out;
}

// Phase "previous archived": staging/usr (the old tree since the exchange) moves to
// .moss/root/<old fstx>/usr by a no-replace rename. A crash before it leaves the old tree at
// staging/usr, identified by the token inside it; after it, archived. Idempotent: a tree
// already archived (token matches) is left alone.
absl::Status ArchivePrevious(MachineRoot& root, const SwitchContext& ctx) {
  const Previous& prev = ctx.previous;
  const std::string what = "archiving the previous /usr";
  std::optional<state::TreeId> staged = TreeAt(root.states_fd(), kStagingUsr);
  if (!staged) return absl::OkStatus();
  if (prev.kind == Previous::kEmptyUnmanaged) {
    return Annotate(fs::RmdirAt(root.states_fd(), kStagingUsr), what);
  }
  if (prev.kind != Previous::kTree || staged->token != prev.id.token) return absl::OkStatus();
  ONIX_RETURN_IF_ERROR_CTX(EnsureDir(root.states_fd(), prev.id.fstx), what);
  ONIX_RETURN_IF_ERROR_CTX(fs::RenameNoReplaceAt(root.states_fd(), kStagingUsr, root.states_fd(),
                                                 MachineRoot::ArchivedUsr(prev.id.fstx)),
                           what);
  ONIX_RETURN_IF_ERROR_CTX(fs::FsyncDirAt(root.states_fd(), prev.id.fstx), what);
  return Annotate(fs::FsyncDirAt(root.states_fd(), kStaging), what);
}

// The warning of a history phase that failed and was skipped.
std::string HistorySkipped(const absl::Status& s) {
  return StrCat(EscapeControl(s.message()),
                "; skipped: the state is active, its history commit is missing until a later "
                "moss command records it");
}

// Phase "history committed": the state's commit (parent = the state it was built from) and
// refs/states/<fstx>, then refs/heads/active. Each ref update is atomic; CommitState is
// idempotent, so a crash between them is completed by running this again.
absl::Status CommitHistory(MachineRoot& root, const SwitchContext& ctx,
                           std::vector<std::string>& warnings) {
  const std::string what = StrCat("recording state ", ctx.fstx, " in history");
  if (!ctx.history_files.empty()) {
    ONIX_RETURN_IF_ERROR_CTX(
        root.history().CommitState(ctx.fstx, ctx.history_files, ctx.history_message,
                                   ctx.parent_fstx, ctx.created_unix),
        what);
  } else {
    ONIX_ASSIGN_OR_RETURN(std::optional<db::StateRecord> rec, RecordOf(root, ctx.fstx));
    if (rec) {
      std::vector<std::string> actions;
      return Annotate(EnsureHistory(root, *rec, actions), what);
    }
  }
  absl::Status s = root.history().SetActive(ctx.fstx);
  if (absl::IsNotFound(s)) {
    warnings.push_back(StrCat(what, ": ", s.message()));
    return absl::OkStatus();
  }
  return Annotate(s, what);
}

}  // namespace

size_t PhaseIndex(std::string_view phase) {
  for (size_t i = 0; i < std::size(kPhases); ++i) {
    if (kPhases[i] == phase) return i;
  }
  return std::size(kPhases);
}

absl::StatusOr<Previous> InspectUsr(MachineRoot& root) {
  Previous p;
  absl::StatusOr<UniqueFd> usr = fs::OpenDirAt(root.fd(), "usr");
  if (absl::IsNotFound(usr.status())) return p;
  if (!usr.ok()) return usr.status();
  absl::StatusOr<state::TreeId> id = state::ReadTreeId(usr->get());
  if (id.ok()) {
    p.kind = Previous::kTree;
    p.id = *id;
    return p;
  }
  if (!absl::IsNotFound(id.status())) return id.status();
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> entries, fs::ListDir(usr->get()));
  if (!entries.empty()) {
    return FailedPrecondition(StrCat(root.path(), "/usr exists but is not a moss state (no .fstx);",
                                     " move it away before the first moss transaction"));
  }
  p.kind = Previous::kEmptyUnmanaged;
  return p;
}

absl::Status BeginPhase(MachineRoot& root, SwitchContext& ctx, std::string_view phase) {
  ctx.journal.phase = std::string(phase);
  const JournalSync sync = ctx.journal_written ? JournalSync::kAtomic : JournalSync::kDurable;
  ONIX_RETURN_IF_ERROR(WriteJournal(root.moss_fd(), ctx.journal, sync));
  ctx.journal_written = true;
  return absl::OkStatus();
}

void EndPhase(SwitchContext& ctx, std::string_view phase) { ctx.journal.done = std::string(phase); }

void EnterPhase(SwitchContext& ctx, std::string_view phase) {
  ctx.journal.phase = std::string(phase);
}

absl::Status ExchangeUsr(MachineRoot& root, SwitchContext& ctx) {
  const std::string what = StrCat("switching ", root.path(), "/usr to state ", ctx.fstx);
  ONIX_RETURN_IF_ERROR(BeginPhase(root, ctx, "usr-exchanged"));
  CrashPoint("usr-exchange-intent");
  ONIX_RETURN_IF_ERROR_CTX(FailPoint("usr-exchange-intent"), what);
  if (ctx.previous.kind == Previous::kNone) {
    ONIX_RETURN_IF_ERROR_CTX(fs::RenameNoReplaceAt(root.states_fd(), kStagingUsr, root.fd(), "usr"),
                             what);
  } else {
    ONIX_RETURN_IF_ERROR_CTX(fs::RenameExchangeAt(root.states_fd(), kStagingUsr, root.fd(), "usr"),
                             what);
  }
  CrashPoint("usr-renamed");
  ONIX_RETURN_IF_ERROR_CTX(FailPoint("usr-renamed"), what);
  ONIX_RETURN_IF_ERROR_CTX(fs::FsyncDirAt(root.fd()), what);
  ONIX_RETURN_IF_ERROR_CTX(fs::FsyncDirAt(root.states_fd(), kStaging), what);
  if (ctx.new_state_number != 0) {
    ONIX_RETURN_IF_ERROR_CTX(root.db().MarkCommitted(ctx.new_state_number), what);
  }
  CrashPoint("usr-exchanged");
  EndPhase(ctx, "usr-exchanged");
  return absl::OkStatus();
}

absl::Status FinishForward(MachineRoot& root, SwitchContext& ctx, size_t first, const Options& o,
                           std::vector<std::string>& warnings,
                           std::vector<etcmerge::EtcChange>& etc) {
  auto from = [&](std::string_view phase) { return first <= PhaseIndex(phase); };
  // No journal record from here on: every phase below is idempotent, and a journal still
  // naming the exchange sends recovery forward from root-links (the tokens prove the
  // exchange happened), so a record per phase would only spare a rerun at the price of a sync
  // each on every switch.

  // Phase "root links": bin, sbin, lib, lib64 -> usr/..., then the /etc merge.
  if (from("root-links")) {
    EnterPhase(ctx, "root-links");
    CrashPoint("root-links-intent");
    absl::Status failed = FailPoint("root-links");
    if (failed.ok()) {
      EnsureRootLinks(root, warnings);
      CrashPoint("root-links-linked");
      MergeEtc(root, ctx, etc, warnings);
    } else {
      warnings.push_back(StrCat("linking the root and merging /etc: ", failed.message()));
    }
    CrashPoint("root-links");
    EndPhase(ctx, "root-links");
  }

  // Phase "system triggers": chrooted into ROOT. After the commit point, so a failure is a
  // warning; a crash before they finish makes recovery run them again (they are declared
  // idempotent). Their output is synced before the done record, so "done" means durable.
  // An activation's diff may still be computed on another thread: wait for it before the
  // triggers read it and before anything below uses the database. If it failed, the changed
  // paths are unknown and every system trigger runs (they are declared idempotent).
  bool changes_known = true;
  if (ctx.settle_changes) {
    absl::Status s = ctx.settle_changes();
    if (!s.ok()) {
      warnings.push_back(
          StrCat("comparing the states: ", s.message(), "; running every system trigger"));
      changes_known = false;
    }
  }
  if (from("system-triggers")) {
    const std::vector<triggers::Trigger> firing =
        FiringSystemTriggers(root, ctx, changes_known, warnings);
    if (!firing.empty()) EnterPhase(ctx, "system-triggers");
    CrashPoint("system-triggers-intent");
    absl::Status injected = FailPoint("system-triggers");
    if (!injected.ok()) warnings.push_back(StrCat("system triggers: ", injected.message()));
    for (const auto& t : firing) {
      if (!injected.ok()) break;
      Log(o, StrCat("running system trigger ", t.name));
      absl::Status s = triggers::RunInRoot(root.path(), t.run);
      if (!s.ok()) warnings.push_back(StrCat("system trigger ", t.name, ": ", s.message()));
    }
    if (!firing.empty()) {
      absl::Status s = fs::SyncFs(root.fd());
      if (!s.ok()) warnings.push_back(StrCat("syncing after system triggers: ", s.message()));
    }
    CrashPoint("system-triggers");
    EndPhase(ctx, "system-triggers");
  }

  if (from("previous-archived")) {
    const bool any = ctx.previous.kind != Previous::kNone;
    if (any) EnterPhase(ctx, "previous-archived");
    CrashPoint("previous-archive-intent");
    if (any) ONIX_RETURN_IF_ERROR(ArchivePrevious(root, ctx));
    CrashPoint("previous-archived");
    EndPhase(ctx, "previous-archived");
  }

  // Phase "boot entries synced": the boot hook sees every retained state. After the commit
  // point; a failure is a warning (the machine still boots the previous default entry).
  if (from("boot-entries-synced")) {
    if (o.boot_hook) EnterPhase(ctx, "boot-entries-synced");
    CrashPoint("boot-sync-intent");
    if (o.boot_hook) {
      absl::StatusOr<std::vector<RetainedState>> states = root.RetainedStates();
      absl::Status s = FailPoint("boot-entries-synced");
      if (s.ok()) s = states.ok() ? o.boot_hook(root.path(), *states) : states.status();
      if (!s.ok()) warnings.push_back(StrCat("syncing boot entries: ", s.message()));
    }
    CrashPoint("boot-entries-synced");
    EndPhase(ctx, "boot-entries-synced");
  }

  EnterPhase(ctx, "history-committed");
  CrashPoint("history-intent");
  // The history is the audit trail, not the state: a commit that fails (a name git refuses,
  // a full disk, a broken repository) must not keep the journal and wedge every later
  // command. The phase is skipped with a warning; every later command's recovery retries it
  // (EnsureHistory) and warns again until it succeeds.
  absl::Status recorded = FailPoint("history-committed");
  if (recorded.ok()) recorded = CommitHistory(root, ctx, warnings);
  if (!recorded.ok()) warnings.push_back(HistorySkipped(recorded));
  CrashPoint("history-committed");

  // Phase "complete": the empty staging directory goes, then the journal. Neither needs a
  // directory fsync: a staging directory or journal that a crash brings back describes a
  // finished transaction, which recovery recognises (every step finds its work done).
  absl::Status s = fs::RmdirAt(root.states_fd(), kStaging);
  if (!s.ok() && !absl::IsNotFound(s)) warnings.push_back(std::string(s.message()));
  ONIX_RETURN_IF_ERROR(ClearJournal(root.moss_fd(), JournalSync::kAtomic));
  CrashPoint("complete");
  return absl::OkStatus();
}

absl::Status RollBack(MachineRoot& root, const SwitchContext& ctx, const Options& o,
                      bool free_space, std::vector<std::string>& actions) {
  const JournalRecord& j = ctx.journal;
  const std::string what = StrCat("rolling back state ", j.to_fstx);
  // Every rollback says so, also one cut before it had made anything worth a line of its own.
  const size_t reported = actions.size();

  // 1. ROOT/usr holds the candidate (a failure after the rename, before the commit was
  //    recorded): exchange back. Only when staging/usr holds the previous tree (or nothing,
  //    for a first install), so this never swaps two trees it cannot name.
  std::optional<state::TreeId> usr = TreeAt(root.fd(), "usr");
  if (usr && usr->token == j.to_token) {
    std::optional<state::TreeId> staged = TreeAt(root.states_fd(), kStagingUsr);
    if (j.from_token.empty() && ctx.previous.kind == Previous::kNone) {
      ONIX_RETURN_IF_ERROR_CTX(EnsureDir(root.states_fd(), kStaging), what);
      ONIX_RETURN_IF_ERROR_CTX(
          fs::RenameNoReplaceAt(root.fd(), "usr", root.states_fd(), kStagingUsr), what);
    } else if (staged && staged->token == j.from_token) {
      ONIX_RETURN_IF_ERROR_CTX(
          fs::RenameExchangeAt(root.states_fd(), kStagingUsr, root.fd(), "usr"), what);
    } else {
      return FailedPrecondition(StrCat(what, ": ", root.path(), "/usr holds the new state but ",
                                       "the previous tree is not at .moss/root/staging/usr; ",
                                       "moss will not guess. Run moss state recover"));
    }
    ONIX_RETURN_IF_ERROR_CTX(fs::FsyncDirAt(root.fd()), what);
    CrashPoint("rollback-exchanged");
    actions.push_back(StrCat("rolled back: ", root.path(), "/usr is state ",
                             j.from_fstx.empty() ? "none" : j.from_fstx, " again"));
  }

  // 2. The candidate tree.
  std::optional<state::TreeId> staged = TreeAt(root.states_fd(), kStagingUsr);
  if (staged && !staged->fstx.empty() && staged->token == j.to_token) {
    if (j.operation == "activate") {
      ONIX_RETURN_IF_ERROR_CTX(EnsureDir(root.states_fd(), j.to_fstx), what);
      ONIX_RETURN_IF_ERROR_CTX(
          fs::RenameNoReplaceAt(root.states_fd(), kStagingUsr, root.states_fd(),
                                MachineRoot::ArchivedUsr(j.to_fstx)),
          what);
      ONIX_RETURN_IF_ERROR_CTX(fs::FsyncDirAt(root.states_fd(), j.to_fstx), what);
      actions.push_back(StrCat("rolled back: state ", j.to_fstx, " is archived again"));
    } else if (!free_space) {
      // Kept for inspection (a failing trigger's tree); only the newest one, so the quarantine
      // never grows. Its files are hardlinks, so it holds their space until it is replaced.
      ONIX_RETURN_IF_ERROR_CTX(fs::RemoveTreeAt(root.moss_fd(), kQuarantine), what);
      ONIX_RETURN_IF_ERROR_CTX(fs::MkdirAt(root.moss_fd(), kQuarantine, 0755), what);
      ONIX_ASSIGN_OR_RETURN(UniqueFd q, fs::OpenDirAt(root.moss_fd(), kQuarantine));
      ONIX_RETURN_IF_ERROR_CTX(
          fs::RenameNoReplaceAt(root.states_fd(), kStagingUsr, q.get(), j.to_fstx), what);
      actions.push_back(StrCat("rolled back: quarantined unfinished state ", j.to_fstx, " in ",
                               root.path(), "/.moss/quarantine/", j.to_fstx));
    }
  }
  // Whatever else is in staging is a partial candidate; the previous tree is never there
  // now (step 1 put it back).
  staged = TreeAt(root.states_fd(), kStagingUsr);
  if (staged && !staged->fstx.empty() && staged->token == j.from_token && !j.from_token.empty()) {
    return FailedPrecondition(StrCat(what, ": the previous tree is in .moss/root/staging/usr and ",
                                     "not in ", root.path(), "/usr; run moss state recover"));
  }
  ONIX_RETURN_IF_ERROR_CTX(fs::RemoveTreeAt(root.states_fd(), kStaging), what);
  CrashPoint("rollback-candidate-gone");

  // 3. The candidate's row (never for an activation: that state stays retained).
  if (j.state_number != 0) {
    ONIX_ASSIGN_OR_RETURN(std::optional<db::StateRecord> rec, root.db().GetState(j.state_number));
    if (rec && rec->fstx == j.to_fstx) {
      ONIX_RETURN_IF_ERROR_CTX(root.db().DeleteState(j.state_number), what);
      actions.push_back(StrCat("rolled back: dropped unfinished state ", j.to_fstx));
    }
  }
  CrashPoint("rollback-row-dropped");

  // 4. Space: the candidate's objects and stones nothing else references.
  if (j.operation != "activate") {
    ONIX_ASSIGN_OR_RETURN(GcResult gc, CollectGarbage(root));
    if (gc.objects_removed + gc.stones_removed > 0) {
      actions.push_back(StrCat("rolled back: freed ", gc.objects_removed, " store objects and ",
                               gc.stones_removed, " cached stones (", gc.bytes_freed, " bytes)"));
    }
  }

  CrashPoint("rollback-collected");

  // 5. Boot entries: back to the retained states (a no-op unless a sync had begun).
  if (o.boot_hook) {
    ONIX_ASSIGN_OR_RETURN(std::vector<RetainedState> states, root.RetainedStates());
    absl::Status s = o.boot_hook(root.path(), states);
    if (!s.ok()) return Annotate(s, StrCat(what, ": restoring boot entries"));
  }

  CrashPoint("rollback-boot-synced");

  if (actions.size() == reported) {
    actions.push_back(StrCat("rolled back: the unfinished ", j.operation, " of state ", j.to_fstx,
                             " had left nothing to undo"));
  }
  // 6. The journal: this transaction is over.
  return Annotate(ClearJournal(root.moss_fd()), what);
}

absl::Status EnsureHistory(MachineRoot& root, const db::StateRecord& active,
                           std::vector<std::string>& actions) {
  ONIX_ASSIGN_OR_RETURN(std::optional<std::string> commit, root.history().CommitOf(active.fstx));
  if (!commit) {
    ONIX_ASSIGN_OR_RETURN(state::Manifest m, root.ManifestOf(active));
    std::vector<std::vector<stone::LayoutEntry>> layouts;
    for (const auto& p : m.packages) {
      ONIX_ASSIGN_OR_RETURN(db::LayoutPtr l, root.db().Layout(p.stone_digest));
      layouts.push_back(*l);
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

}  // namespace onix::moss::transaction

#include "moss/transaction/transaction.h"

#include <time.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "absl/strings/str_join.h"
#include "moss/base/check.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/state/fstx.h"
#include "moss/state/tree.h"
#include "moss/stone/stone.h"
#include "moss/transaction/content.h"
#include "moss/transaction/crash_point.h"
#include "moss/transaction/journal.h"
#include "moss/transaction/ladder.h"
#include "moss/transaction/recover.h"
#include "moss/transaction/signals.h"
#include "moss/triggers/sandbox.h"
#include "moss/triggers/triggers.h"

namespace onix::moss::transaction {
namespace {

constexpr char kSandbox[] = "sandbox";

void Log(const Options& o, std::string_view line) {
  if (o.log) o.log(line);
}

absl::Status EnsureDir(int dirfd, std::string_view name) {
  absl::Status s = fs::MkdirAt(dirfd, name, 0755);
  return absl::IsAlreadyExists(s) ? absl::OkStatus() : s;
}

// Phase "root links": bin, sbin, lib, lib64 -> usr/... when missing. Idempotent; a crash
// leaves some links made, which the next run completes. A real directory or a different
// link is never replaced (that is the admin's), only reported.
}  // namespace

void EnsureRootLinks(MachineRoot& root, std::vector<std::string>& warnings) {
  bool created = false;
  for (const char* name : {"bin", "sbin", "lib", "lib64"}) {
    const std::string target = StrCat("usr/", name);
    absl::StatusOr<struct stat> st = fs::StatAt(root.fd(), name);
    if (absl::IsNotFound(st.status())) {
      absl::Status s = fs::SymlinkAt(target, root.fd(), name);
      if (!s.ok()) warnings.push_back(StrCat("creating /", name, ": ", s.message()));
      created = created || s.ok();
      continue;
    }
    if (!st.ok()) {
      warnings.push_back(std::string(st.status().message()));
    } else if (S_ISLNK(st->st_mode)) {
      absl::StatusOr<std::string> have = fs::ReadLinkAt(root.fd(), name);
      if (have.ok() && *have != target && *have != "/" + target) {
        warnings.push_back(
            StrCat("/", name, " points to ", *have, ", not ", target, "; left alone"));
      }
    } else {
      warnings.push_back(StrCat("/", name, " is not a link to ", target, "; left alone"));
    }
  }
  if (created) (void)fs::FsyncDirAt(root.fd());
}

namespace {

// Fails the transaction before its commit point: the rollback ladder undoes what was done
// (ladder.h) and the error says the active state is unchanged. A disk-full failure deletes
// the candidate instead of quarantining it, so its space comes back.
absl::Status Fail(MachineRoot& root, const SwitchContext& ctx, const Options& o,
                  const absl::Status& cause) {
  // Rolling back reads the database, which a background diff may still be using.
  if (ctx.settle_changes) ctx.settle_changes().IgnoreError();
  std::vector<std::string> actions;
  absl::Status undone = RollBack(root, ctx, o, absl::IsResourceExhausted(cause), actions);
  for (const auto& a : actions) Log(o, a);
  if (!undone.ok()) {
    return Annotate(cause, StrCat("state ", ctx.fstx, " (rolling back failed too: ",
                                  undone.message(), "; run moss state recover)"));
  }
  return Annotate(cause,
                  StrCat("state ", ctx.fstx, " (rolled back; the active state is", " unchanged)"));
}

// From the exchange intent to completion, shared by Apply and Activate. Pre-condition: the
// candidate tree is at .moss/root/staging/usr, durable, with its .fstx; the journal's first
// record is written. A failure of the exchange is rolled back; after it, the ladder goes on.
absl::Status Switch(MachineRoot& root, SwitchContext& ctx, const Options& o,
                    std::vector<std::string>& warnings, std::vector<etcmerge::EtcChange>& etc) {
  // From here to the end a Ctrl-C is held until we are done: stopping half-way through the
  // post-commit phases would only leave work for recovery.
  DeferSignals defer;
  absl::Status exchanged = ExchangeUsr(root, ctx);
  if (!exchanged.ok()) return Fail(root, ctx, o, exchanged);
  // Past the commit point an error cannot undo the switch: say so, and what finishes it.
  return Annotate(FinishForward(root, ctx, PhaseIndex("root-links"), o, warnings, etc),
                  StrCat("state ", ctx.fstx, " is active, but finishing the switch failed (",
                         "moss state recover completes it)"));
}

// Phase "tx triggers done": tx.d triggers of the candidate whose globs match a changed path
// run sandboxed against staging/usr. Nothing outside staging changes, so a crash or a
// failure leaves the old /usr active; the caller rolls the candidate back on failure.
absl::Status RunTxTriggers(MachineRoot& root, SwitchContext& ctx, int staging_usr_fd,
                           const Options& o) {
  ONIX_ASSIGN_OR_RETURN(std::vector<triggers::Trigger> list,
                        triggers::LoadTriggers(staging_usr_fd, triggers::kTxDir));
  std::vector<const triggers::Trigger*> firing;
  for (const auto& t : list) {
    if (triggers::Fires(t, ctx.changed)) firing.push_back(&t);
  }
  if (!firing.empty()) ONIX_RETURN_IF_ERROR(BeginPhase(root, ctx, "tx-triggers-done"));
  CrashPoint("tx-triggers-intent");
  ONIX_RETURN_IF_ERROR(FailPoint("tx-triggers-intent"));
  for (const triggers::Trigger* t : firing) {
    ONIX_RETURN_IF_ERROR(EnsureDir(root.states_fd(), kSandbox));
    Log(o, StrCat("running transaction trigger ", t->name));
    triggers::SandboxSpec spec;
    spec.usr_dir = StrCat(root.path(), "/.moss/root/", kStagingUsr);
    spec.scratch_dir = StrCat(root.path(), "/.moss/root/", kSandbox);
    ONIX_RETURN_IF_ERROR_CTX(triggers::RunSandboxed(spec, t->run),
                             StrCat("transaction trigger ", t->name, " (", t->file, ")"));
  }
  if (!firing.empty()) ONIX_RETURN_IF_ERROR(root.store().Sync());
  CrashPoint("tx-triggers-done");
  EndPhase(ctx, "tx-triggers-done");
  return absl::OkStatus();
}

}  // namespace

std::map<std::string, std::string> HistoryFiles(
    const state::Manifest& m, const std::string& fstx, const std::string& parent,
    const std::map<std::string, const std::vector<stone::LayoutEntry>*>& layouts) {
  std::map<std::string, std::string> files;
  files["manifest.json"] = m.ToJson();
  files["state"] = StrCat("fstx ", fstx, "\nparent ", parent.empty() ? "-" : parent, "\n");
  for (const auto& p : m.packages) {
    std::string text = StrCat("name ", p.meta.name, "\nversion ", state::VersionRelease(p.meta),
                              "\nbuild ", p.meta.build_release, "\nstone ", p.stone_digest.Hex(),
                              "\nexplicit ", p.is_explicit ? "yes" : "no", "\n\n");
    auto it = layouts.find(p.meta.name);
    if (it != layouts.end()) text += state::LayoutText(*it->second);
    files[StrCat("packages/", p.meta.name)] = std::move(text);
  }
  return files;
}

absl::Status RecoverFirst(MachineRoot& root, const Options& o) {
  ONIX_ASSIGN_OR_RETURN(RecoverReport report, Recover(root, o));
  for (const auto& a : report.actions) Log(o, a);
  return absl::OkStatus();
}

std::string HistoryMessage(const Plan& plan) {
  std::string body;
  for (const auto& c : plan.packages) {
    body += c.from.empty() ? StrCat("+ ", c.name, " ", c.to, "\n")
            : c.to.empty() ? StrCat("- ", c.name, " ", c.from, "\n")
                           : StrCat("~ ", c.name, " ", c.from, " -> ", c.to, "\n");
  }
  return StrCat(plan.message, "\n\n", body, "\nstate ", plan.to_fstx,
                plan.from_fstx.empty() ? "" : StrCat(" from ", plan.from_fstx), "\n");
}

std::vector<PackageChange> DiffPackages(const state::Manifest& from, const state::Manifest& to) {
  std::map<std::string, PackageChange> changes;
  for (const auto& p : from.packages) {
    changes[p.meta.name] = {p.meta.name, state::VersionRelease(p.meta), ""};
  }
  for (const auto& p : to.packages) {
    const state::PackageRecord* old = from.Find(p.meta.name);
    if (old && old->stone_digest == p.stone_digest) {
      changes.erase(p.meta.name);
      continue;
    }
    changes[p.meta.name].name = p.meta.name;
    changes[p.meta.name].to = state::VersionRelease(p.meta);
  }
  std::vector<PackageChange> out;
  for (auto& [name, c] : changes) out.push_back(std::move(c));
  return out;
}

namespace {

// The package and file changes of an activation, from the packages the two states do not
// share: reading them must not cost the size of the trees.
absl::Status ComparePlan(MachineRoot& root, std::optional<uint64_t> from, uint64_t to, Plan& plan) {
  // One read transaction: both diffs see one snapshot, and SQLite takes its locks once.
  return root.db().InTransaction([&]() -> absl::Status {
    ONIX_ASSIGN_OR_RETURN(const db::PackageSetDiff packages, root.db().DiffPackageSets(from, to));
    plan.packages = PackageChanges(packages);
    ONIX_ASSIGN_OR_RETURN(plan.files, root.DiffStates(from, to, packages));
    return absl::OkStatus();
  });
}

// ComparePlan on a worker thread. An activation's diff is read only by its report and by the
// system triggers, which run after the exchange, so it need not hold up the syncs that make
// the switch's intent durable: on a second core it costs nothing. The caller joins before it
// touches the database or the plan's packages and files again (a connection runs one
// transaction at a time, whichever thread uses it).
class BackgroundPlan {
 public:
  BackgroundPlan(MachineRoot& root, std::optional<uint64_t> from, uint64_t to, Plan& plan)
      : worker_([this, &root, from, to, &plan] { status_ = ComparePlan(root, from, to, plan); }) {}
  ~BackgroundPlan() { Join().IgnoreError(); }
  BackgroundPlan(const BackgroundPlan&) = delete;
  BackgroundPlan& operator=(const BackgroundPlan&) = delete;

  absl::Status Join() {
    if (worker_.joinable()) worker_.join();
    return status_;
  }

 private:
  absl::Status status_;  // before worker_: set by it
  std::thread worker_;
};

}  // namespace

std::vector<PackageChange> PackageChanges(const db::PackageSetDiff& d) {
  std::map<std::string, PackageChange> changes;
  for (const auto& p : d.only_in_from) changes[p.name] = {p.name, p.version_release, ""};
  for (const auto& p : d.only_in_to) {
    changes[p.name].name = p.name;
    changes[p.name].to = p.version_release;
  }
  std::vector<PackageChange> out;
  for (auto& [name, c] : changes) out.push_back(std::move(c));
  return out;
}

std::string ChangeMessage(const std::vector<PackageChange>& changes) {
  int added = 0, removed = 0, updated = 0;
  for (const auto& c : changes) {
    if (c.from.empty()) {
      ++added;
    } else if (c.to.empty()) {
      ++removed;
    } else {
      ++updated;
    }
  }
  if (changes.size() == 1) {
    const PackageChange& c = changes[0];
    if (added) return StrCat("install ", c.name, " ", c.to);
    if (removed) return StrCat("remove ", c.name);
    return StrCat("update ", c.name, " ", c.from, " -> ", c.to);
  }
  if (changes.empty()) return "no package changes";
  std::string msg = StrCat("+", added, " -", removed);
  if (updated) msg += StrCat(" ~", updated);
  return msg + " packages";
}

absl::StatusOr<Result> Apply(MachineRoot& root, const Selection& selection, const Options& o) {
  ONIX_CHECK(root.writable() || o.dry_run) << "Apply needs the root lock";
  Result result;
  Plan& plan = result.plan;
  // An interrupted transaction is finished or undone first (its staging tree may be the
  // previous state's only copy), so planning sees a consistent root.
  if (!o.dry_run) ONIX_RETURN_IF_ERROR(RecoverFirst(root, o));

  // --- Planning: everything that can be refused is refused here, before any write. ---
  ONIX_ASSIGN_OR_RETURN(std::optional<db::StateRecord> active, root.ActiveState());
  state::Manifest old_manifest;
  std::vector<stone::LayoutEntry> old_layout;
  if (active) {
    plan.from_fstx = active->fstx;
    ONIX_ASSIGN_OR_RETURN(old_manifest, root.ManifestOf(*active));
    ONIX_ASSIGN_OR_RETURN(std::vector<state::OwnedEntry> merged, root.LayoutOf(old_manifest));
    old_layout = state::Entries(merged);
  }
  ONIX_ASSIGN_OR_RETURN(Previous previous, InspectUsr(root));

  std::vector<std::unique_ptr<stone::StoneReader>> readers(selection.size());
  std::vector<std::vector<stone::LayoutEntry>> layouts(selection.size());
  std::set<std::string> names;
  for (size_t i = 0; i < selection.size(); ++i) {
    const SelectedPackage& pkg = selection[i];
    if (!names.insert(pkg.meta.name).second) {
      return InvalidArgument(StrCat("package ", pkg.meta.name, " is selected twice"));
    }
    if (!pkg.stone_path.empty()) {
      absl::StatusOr<stone::StoneReader> r = stone::StoneReader::Open(pkg.stone_path);
      if (!r.ok()) return Annotate(r.status(), StrCat("reading stone ", pkg.stone_path));
      readers[i] = std::make_unique<stone::StoneReader>(std::move(*r));
      layouts[i] = readers[i]->layout();
    } else {
      absl::StatusOr<db::LayoutPtr> l = root.db().Layout(pkg.stone_digest);
      if (!l.ok()) {
        return Annotate(l.status(), StrCat("package ", pkg.meta.name,
                                           ": its stone is not known here; give the .stone file"));
      }
      layouts[i] = **l;
    }
  }
  std::vector<state::PackageLayout> inputs;
  std::map<std::string, const std::vector<stone::LayoutEntry>*> layout_by_name;
  for (size_t i = 0; i < selection.size(); ++i) {
    inputs.push_back({selection[i].meta.name, &layouts[i]});
    layout_by_name[selection[i].meta.name] = &layouts[i];
  }
  absl::StatusOr<std::vector<state::OwnedEntry>> merged = state::MergeLayouts(inputs);
  if (!merged.ok()) return Annotate(merged.status(), "refusing the transaction");
  const std::vector<stone::LayoutEntry> new_layout = state::Entries(*merged);
  // The path rules hold per stone (the reader checked each), but two valid stones can still
  // combine into an escape: `q -> ../../lib/zz/../..` in one plus `lib/zz -> /usr` in another
  // resolves to /. So the candidate state's merged tree is checked as one layout, before
  // anything is written. Setuid bits were already allowed or refused per stone.
  if (absl::Status s = stone::ValidateLayout(new_layout, /*allow_setid=*/true); !s.ok()) {
    return Annotate(s, "refusing the transaction: the packages' layouts combined");
  }

  state::Manifest manifest;
  for (size_t i = 0; i < selection.size(); ++i) {
    manifest.packages.push_back({selection[i].meta, selection[i].stone_digest,
                                 selection[i].is_explicit, state::LayoutDigest(layouts[i])});
  }
  std::sort(manifest.packages.begin(), manifest.packages.end(),
            [](const auto& a, const auto& b) { return a.meta.name < b.meta.name; });
  manifest.layout_digest = state::LayoutDigest(new_layout);
  plan.packages = DiffPackages(old_manifest, manifest);
  plan.files = state::DiffLayouts(old_layout, new_layout);
  plan.message = o.message.empty() ? ChangeMessage(plan.packages) : o.message;
  const std::string manifest_json = manifest.ToJson();
  if (active && manifest_json == old_manifest.ToJson()) {
    plan.noop = true;
    plan.to_fstx = plan.from_fstx;
    return result;
  }
  ONIX_ASSIGN_OR_RETURN(const uint64_t number, root.db().NextStateNumber());
  plan.to_fstx = state::Fstx::Make(number, manifest.ContentDigest()).ToString();
  if (o.dry_run) return result;

  // The journal's first record (durable) comes before the first effect, naming both trees by
  // their tokens, so recovery can tell them apart from here on.
  const std::string token = state::NewToken();
  const int64_t now = static_cast<int64_t>(::time(nullptr));
  ONIX_ASSIGN_OR_RETURN(const std::string root_id, RootId(root.moss_fd()));
  SwitchContext ctx;
  ctx.fstx = plan.to_fstx;
  ctx.new_state_number = number;
  ctx.previous = previous;
  // Every new tree has a new identity, so ".fstx" is always among the changes: a trigger that
  // stamps the state (branding's BUILD_ID in os-release) fires even when no file changed.
  ctx.changed = ChangedPaths(plan.files);
  ctx.changed.push_back(".fstx");
  ctx.history_files = HistoryFiles(manifest, plan.to_fstx, plan.from_fstx, layout_by_name);
  ctx.history_message = HistoryMessage(plan);
  ctx.parent_fstx = plan.from_fstx;
  ctx.created_unix = now;
  ctx.journal = {root_id, "install", "", plan.from_fstx, plan.to_fstx, token};
  ctx.journal.from_token = previous.kind == Previous::kTree ? previous.id.token : "";
  ctx.journal.state_number = number;
  ONIX_RETURN_IF_ERROR(BeginPhase(root, ctx, "candidate-prepared"));
  CrashPoint("candidate-intent");

  // --- Phase "candidate prepared": stones recorded and cached, content in the store, the
  // candidate tree at staging/usr with its .fstx, a candidate row, one syncfs. Nothing the
  // active state uses is touched: a failure or crash is rolled back (ladder.h), leaving the
  // old /usr active. ---
  Log(o, StrCat("preparing state ", plan.to_fstx, " (", new_layout.size(), " paths)"));
  UniqueFd staging_usr;
  auto prepare = [&]() -> absl::Status {
    ONIX_RETURN_IF_ERROR(FailPoint("candidate-intent"));
    std::vector<const stone::StoneReader*> sources;
    // One database commit for all new stones (a first install records ~1,500).
    ONIX_RETURN_IF_ERROR(root.db().InTransaction([&]() -> absl::Status {
      for (size_t i = 0; i < selection.size(); ++i) {
        if (!readers[i]) continue;
        sources.push_back(readers[i].get());
        ONIX_RETURN_IF_ERROR(
            root.db().PutStone(selection[i].stone_digest, readers[i]->meta(), layouts[i]));
        ONIX_RETURN_IF_ERROR(CacheStone(root, selection[i].stone_path, selection[i].stone_digest));
      }
      return absl::OkStatus();
    }));
    ONIX_ASSIGN_OR_RETURN(NeededObjects needed, MissingObjects(root.store(), new_layout));
    ONIX_RETURN_IF_ERROR(FetchObjects(root, needed, sources));
    ONIX_RETURN_IF_ERROR(fs::RemoveTreeAt(root.states_fd(), kStaging));
    ONIX_RETURN_IF_ERROR(fs::MkdirAt(root.states_fd(), kStaging, 0755));
    ONIX_RETURN_IF_ERROR(fs::MkdirAt(root.states_fd(), kStagingUsr, 0755));
    ONIX_ASSIGN_OR_RETURN(staging_usr, fs::OpenDirAt(root.states_fd(), kStagingUsr));
    ONIX_RETURN_IF_ERROR(state::BuildTree(root.store(), new_layout, staging_usr.get()));
    ONIX_RETURN_IF_ERROR(state::WriteTreeId(staging_usr.get(), {plan.to_fstx, token}));
    db::StateRecord record{number, plan.to_fstx, plan.from_fstx, now, plan.message, false};
    std::vector<db::StatePackage> packages;
    for (const auto& p : manifest.packages) packages.push_back({p.stone_digest, p.is_explicit});
    ONIX_RETURN_IF_ERROR(root.db().AddState(record, manifest_json, packages));
    return root.store().Sync();
  };
  absl::Status prepared = prepare();
  if (!prepared.ok()) return Fail(root, ctx, o, Annotate(prepared, "preparing the new tree"));
  CrashPoint("candidate-prepared");
  EndPhase(ctx, "candidate-prepared");

  absl::Status triggered = RunTxTriggers(root, ctx, staging_usr.get(), o);
  if (!triggered.ok()) return Fail(root, ctx, o, triggered);

  ONIX_RETURN_IF_ERROR(Switch(root, ctx, o, result.warnings, result.etc));
  return result;
}

absl::StatusOr<Result> Activate(MachineRoot& root, std::string_view id, const Options& o) {
  ONIX_CHECK(root.writable() || o.dry_run) << "Activate needs the root lock";
  Result result;
  Plan& plan = result.plan;
  if (!o.dry_run) ONIX_RETURN_IF_ERROR(RecoverFirst(root, o));
  ONIX_ASSIGN_OR_RETURN(db::StateRecord target, root.ResolveState(id));
  ONIX_ASSIGN_OR_RETURN(std::optional<db::StateRecord> active, root.ActiveState());
  ONIX_ASSIGN_OR_RETURN(Previous previous, InspectUsr(root));
  if (active && active->fstx == target.fstx) {
    return FailedPrecondition(StrCat("state ", target.fstx, " is already active"));
  }
  const std::string archived = MachineRoot::ArchivedUsr(target.fstx);
  std::string target_token;
  {
    absl::StatusOr<UniqueFd> tree = fs::OpenDirAt(root.states_fd(), archived);
    absl::StatusOr<state::TreeId> tree_id =
        tree.ok() ? state::ReadTreeId(tree->get()) : absl::StatusOr<state::TreeId>(tree.status());
    if (!tree_id.ok() || tree_id->fstx != target.fstx) {
      return FailedPrecondition(StrCat("the tree of state ", target.fstx, " (", root.path(),
                                       "/.moss/root/", archived,
                                       ") is missing or not that state; run moss state verify"));
    }
    target_token = tree_id->token;
  }
  std::optional<uint64_t> from_number;
  if (active) {
    plan.from_fstx = active->fstx;
    from_number = active->number;
  }
  plan.to_fstx = target.fstx;
  plan.message = StrCat("activate ", target.fstx);
  // From here until it is joined, this thread touches neither the database nor
  // plan.packages and plan.files.
  BackgroundPlan compared(root, from_number, target.number, plan);
  if (o.dry_run) {
    ONIX_RETURN_IF_ERROR(compared.Join());
    return result;
  }

  // Phase "candidate prepared": the archived tree moves to staging/usr (one rename; the
  // tree's .fstx still names it, so a crash leaves it identifiable there). Its triggers ran
  // when it was built, so the "tx triggers done" phase has nothing to do.
  Log(o, StrCat("activating state ", target.fstx));
  ONIX_ASSIGN_OR_RETURN(const std::string root_id, RootId(root.moss_fd()));
  SwitchContext ctx;
  ctx.fstx = target.fstx;
  ctx.previous = previous;
  ctx.journal = {root_id, "activate", "", plan.from_fstx, target.fstx, target_token};
  ctx.journal.from_token = previous.kind == Previous::kTree ? previous.id.token : "";
  // The diff is joined when the system triggers need it, after the exchange (a diff that
  // could not be read then fires them all), or before a rollback.
  bool settled = false;
  ctx.settle_changes = [&]() -> absl::Status {
    ONIX_RETURN_IF_ERROR(compared.Join());
    if (!settled) ctx.changed = ChangedPaths(plan.files);
    settled = true;
    return absl::OkStatus();
  };
  ONIX_RETURN_IF_ERROR(BeginPhase(root, ctx, "candidate-prepared"));
  CrashPoint("candidate-intent");
  auto prepare = [&]() -> absl::Status {
    ONIX_RETURN_IF_ERROR(FailPoint("candidate-intent"));
    ONIX_RETURN_IF_ERROR(fs::RemoveTreeAt(root.states_fd(), kStaging));
    ONIX_RETURN_IF_ERROR(fs::MkdirAt(root.states_fd(), kStaging, 0755));
    ONIX_RETURN_IF_ERROR(fs::RenameAt(root.states_fd(), archived, root.states_fd(), kStagingUsr));
    ONIX_RETURN_IF_ERROR(fs::RmdirAt(root.states_fd(), target.fstx));
    ONIX_RETURN_IF_ERROR(fs::FsyncDirAt(root.states_fd()));
    return fs::FsyncDirAt(root.states_fd(), kStaging);
  };
  absl::Status prepared = prepare();
  if (!prepared.ok()) return Fail(root, ctx, o, Annotate(prepared, "moving the tree to staging"));
  CrashPoint("candidate-prepared");
  EndPhase(ctx, "candidate-prepared");
  CrashPoint("tx-triggers-intent");
  CrashPoint("tx-triggers-done");
  EndPhase(ctx, "tx-triggers-done");

  ONIX_RETURN_IF_ERROR(Switch(root, ctx, o, result.warnings, result.etc));
  return result;
}

}  // namespace onix::moss::transaction

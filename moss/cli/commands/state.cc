// `moss state list|active|show|activate|remove|prune|verify|diff`: machine states.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "moss/base/json.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/bootsync/bootsync.h"
#include "moss/cli/commands.h"
#include "moss/cli/tx_options.h"
#include "moss/state/manifest.h"
#include "moss/transaction/maintenance.h"
#include "moss/transaction/queries.h"
#include "moss/transaction/recover.h"
#include "moss/transaction/report.h"
#include "moss/transaction/transaction.h"

namespace onix::moss_cli {
namespace {

namespace tx = ::onix::moss::transaction;

struct StateArgs {
  std::string id;
  std::string other;
  std::vector<std::string> ids;
  size_t keep = 0;
  bool repair = false;
  bool no_boot_sync = false;
};

void PrintJson(const nlohmann::json& j) { std::printf("%s\n", DumpJson(j, 2).c_str()); }

absl::Status List(const GlobalOptions& g) {
  ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root, tx::OpenForCommand(g.root, false, false));
  ONIX_ASSIGN_OR_RETURN(std::vector<tx::RetainedState> states, root.RetainedStates());
  if (g.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& s : states) j.push_back(tx::StateJson(s));
    PrintJson(j);
    return absl::OkStatus();
  }
  for (const auto& s : states) {
    std::printf("%s %-12s %s  %s\n", s.active ? "*" : " ", s.fstx.c_str(),
                tx::FormatTime(s.created_unix).c_str(), s.summary.c_str());
  }
  return absl::OkStatus();
}

absl::Status Active(const GlobalOptions& g) {
  ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root, tx::OpenForCommand(g.root, false, false));
  ONIX_ASSIGN_OR_RETURN(std::optional<std::string> fstx, root.ActiveFstx());
  if (g.json) {
    PrintJson({{"active", fstx ? nlohmann::json(*fstx) : nlohmann::json(nullptr)}});
  } else {
    std::printf("%s\n", fstx ? fstx->c_str() : "none");
  }
  return absl::OkStatus();
}

absl::Status Show(const GlobalOptions& g, const std::string& id) {
  ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root, tx::OpenForCommand(g.root, false, false));
  ONIX_ASSIGN_OR_RETURN(moss::db::StateRecord st, root.ResolveState(id));
  ONIX_ASSIGN_OR_RETURN(moss::state::Manifest m, root.ManifestOf(st));
  ONIX_ASSIGN_OR_RETURN(std::optional<std::string> active, root.ActiveFstx());
  const bool is_active = active && *active == st.fstx;
  if (g.json) {
    nlohmann::json j = nlohmann::json::parse(m.ToJson());
    j["fstx"] = st.fstx;
    j["parent"] = st.parent_fstx;
    j["created_unix"] = st.created_unix;
    j["summary"] = st.summary;
    j["active"] = is_active;
    PrintJson(j);
    return absl::OkStatus();
  }
  std::printf("State:    %s%s\n", st.fstx.c_str(), is_active ? " (active)" : "");
  std::printf("Parent:   %s\n", st.parent_fstx.empty() ? "-" : st.parent_fstx.c_str());
  std::printf("Created:  %s\n", tx::FormatTime(st.created_unix).c_str());
  std::printf("Summary:  %s\n", st.summary.c_str());
  std::printf("Tree:     %s\n", root.UsrDirOf(st.fstx, is_active).c_str());
  std::printf("Packages: %zu\n", m.packages.size());
  for (const auto& p : m.packages) {
    std::printf("  %-24s %s%s\n", p.meta.name.c_str(), moss::state::VersionRelease(p.meta).c_str(),
                p.is_explicit ? "" : " (dependency)");
  }
  return absl::OkStatus();
}

absl::Status ActivateState(const GlobalOptions& g, const std::string& id) {
  ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root, tx::OpenForCommand(g.root, true, g.dry_run));
  ONIX_ASSIGN_OR_RETURN(tx::Result result, tx::Activate(root, id, TransactionOptions(g)));
  if (g.json) {
    nlohmann::json j = tx::ResultJson(result);
    j["dry_run"] = g.dry_run;
    PrintJson(j);
    return absl::OkStatus();
  }
  std::printf("%s", tx::FormatPlan(result.plan).c_str());
  for (const auto& w : result.warnings) {
    std::fprintf(stderr, "moss: warning: %s\n", EscapeLines(w, 14).c_str());
  }
  std::printf(g.dry_run ? "dry run: state %s would become active (now %s); nothing changed\n"
                        : "state %s is active (was %s)\n",
              result.plan.to_fstx.c_str(), result.plan.from_fstx.c_str());
  return absl::OkStatus();
}

absl::Status PrintRemoval(const GlobalOptions& g, const tx::RemoveResult& r) {
  if (g.json) {
    nlohmann::json j = tx::RemoveJson(r);
    j["dry_run"] = g.dry_run;
    PrintJson(j);
    return absl::OkStatus();
  }
  for (const auto& f : r.removed) {
    std::printf("%s state %s\n", g.dry_run ? "would remove" : "removed", f.c_str());
  }
  if (!g.dry_run) {
    std::printf("freed %zu store objects (%llu bytes) and %zu cached stones\n",
                r.gc.objects_removed, static_cast<unsigned long long>(r.gc.bytes_freed),
                r.gc.stones_removed);
  }
  for (const auto& w : r.warnings) {
    std::fprintf(stderr, "moss: warning: %s\n", EscapeLines(w, 14).c_str());
  }
  return absl::OkStatus();
}

absl::Status Remove(const GlobalOptions& g, const std::vector<std::string>& ids) {
  ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root, tx::OpenForCommand(g.root, true, g.dry_run));
  if (!g.dry_run) {
    // Check every id before asking (and before removing anything).
    ONIX_ASSIGN_OR_RETURN(tx::RemoveResult preview, tx::RemoveStates(root, ids, true));
    if (!tx::Confirm(g.yes, StrCat("remove ", preview.removed.size(), " state(s)?"))) {
      return absl::CancelledError("not confirmed; nothing removed");
    }
  }
  ONIX_ASSIGN_OR_RETURN(tx::RemoveResult r,
                        tx::RemoveStates(root, ids, g.dry_run, moss::bootsync::MakeBootHook()));
  return PrintRemoval(g, r);
}

absl::Status Prune(const GlobalOptions& g, size_t keep) {
  ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root, tx::OpenForCommand(g.root, true, g.dry_run));
  if (!g.dry_run) {
    ONIX_ASSIGN_OR_RETURN(tx::RemoveResult preview, tx::Prune(root, keep, true));
    if (!preview.removed.empty() &&
        !tx::Confirm(g.yes, StrCat("remove ", preview.removed.size(), " state(s)?"))) {
      return absl::CancelledError("not confirmed; nothing removed");
    }
  }
  ONIX_ASSIGN_OR_RETURN(tx::RemoveResult r,
                        tx::Prune(root, keep, g.dry_run, moss::bootsync::MakeBootHook()));
  return PrintRemoval(g, r);
}

absl::Status VerifyStates(const GlobalOptions& g, bool repair) {
  ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root, tx::OpenForCommand(g.root, repair, g.dry_run));
  ONIX_ASSIGN_OR_RETURN(tx::VerifyReport report, tx::Verify(root, repair && !g.dry_run));
  if (g.json) {
    PrintJson(tx::VerifyJson(report));
  } else {
    for (const auto& p : report.problems) {
      std::printf("%s: %s%s%s\n", p.where.c_str(), p.path.c_str(), p.path.empty() ? "" : ": ",
                  p.problem.c_str());
    }
    std::printf("checked %zu store objects and %zu states: %zu problem(s)", report.objects_checked,
                report.states_checked, report.problems.size());
    if (repair && !g.dry_run) std::printf(", %zu repaired", report.repaired);
    std::printf("\n");
  }
  if (!report.clean_after) {
    return absl::DataLossError(repair ? "some damage could not be repaired"
                                      : "damage found; run moss state verify --repair");
  }
  return absl::OkStatus();
}

absl::Status Diff(const GlobalOptions& g, const std::string& a, const std::string& b) {
  ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root, tx::OpenForCommand(g.root, false, false));
  ONIX_ASSIGN_OR_RETURN(tx::StateDiff d, tx::DiffStates(root, a, b));
  if (g.json) {
    tx::Plan plan;
    plan.from_fstx = d.from;
    plan.to_fstx = d.to;
    plan.packages = d.packages;
    plan.files = d.files;
    nlohmann::json j = tx::PlanJson(plan);
    j.erase("noop");
    j.erase("message");
    PrintJson(j);
    return absl::OkStatus();
  }
  std::printf("from %s to %s\n", d.from.c_str(), d.to.c_str());
  tx::Plan plan;
  plan.packages = d.packages;
  plan.files = d.files;
  std::printf("%s", tx::FormatPlan(plan).c_str());
  for (const auto& p : d.files.added) std::printf("  A /usr/%s\n", p.c_str());
  for (const auto& p : d.files.removed) std::printf("  D /usr/%s\n", p.c_str());
  for (const auto& p : d.files.changed) std::printf("  M /usr/%s\n", p.c_str());
  return absl::OkStatus();
}

absl::Status RecoverRoot(const GlobalOptions& g, bool boot_sync) {
  ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root,
                        tx::MachineRoot::Open(g.root, tx::Access::kWrite, LockWait::kWait));
  // With the boot hook, so the boot entries end up matching the recovered states; without it
  // in the initramfs, where the ESP is not mounted and ROOT/boot is only its mount point.
  tx::Options options;
  if (boot_sync) options.boot_hook = moss::bootsync::MakeBootHook();
  ONIX_ASSIGN_OR_RETURN(tx::RecoverReport report, tx::Recover(root, options));
  ONIX_ASSIGN_OR_RETURN(std::optional<std::string> active, root.ActiveFstx());
  if (g.json) {
    PrintJson({{"actions", report.actions},
               {"warnings", report.warnings},
               {"active", active ? nlohmann::json(*active) : nlohmann::json(nullptr)}});
    return absl::OkStatus();
  }
  for (const auto& a : report.actions) std::printf("%s\n", a.c_str());
  for (const auto& w : report.warnings) {
    std::fprintf(stderr, "moss: warning: %s\n", EscapeLines(w, 14).c_str());
  }
  std::printf("%s; active state: %s\n", report.actions.empty() ? "nothing to recover" : "recovered",
              active ? active->c_str() : "none");
  return absl::OkStatus();
}

// Adds the per-subcommand copies of the global flags (so they work after the subcommand too).
void Flags(CLI::App* cmd, Context& ctx, bool mutating) {
  cmd->add_flag("--json", ctx.global.json, "Machine-readable output");
  if (mutating) {
    cmd->add_flag("--dry-run", ctx.global.dry_run, "Show what would change, change nothing");
    cmd->add_flag("-y,--yes", ctx.global.yes, "Do not ask for confirmation");
  }
}

}  // namespace

void AddStateCommand(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<StateArgs>();
  CLI::App* state = app.add_subcommand("state", "List, inspect, switch and maintain states");
  state->require_subcommand(1);
  Context* c = &ctx;

  CLI::App* list = state->add_subcommand("list", "Retained states (* = active)");
  DryRunSafe(ctx, list);
  Flags(list, ctx, false);
  list->callback([c] { c->action = [c] { return List(c->global); }; });

  CLI::App* active = state->add_subcommand("active", "The active state's fstx");
  DryRunSafe(ctx, active);
  Flags(active, ctx, false);
  active->callback([c] { c->action = [c] { return Active(c->global); }; });

  CLI::App* show = state->add_subcommand("show", "A state's packages");
  DryRunSafe(ctx, show);
  show->add_option("id", args->id, "State number or fstx")->required();
  Flags(show, ctx, false);
  show->callback([c, args] { c->action = [c, args] { return Show(c->global, args->id); }; });

  CLI::App* activate = state->add_subcommand("activate", "Switch /usr to an archived state");
  DryRunSafe(ctx, activate);
  activate->add_option("id", args->id, "State number or fstx")->required();
  Flags(activate, ctx, true);
  activate->callback(
      [c, args] { c->action = [c, args] { return ActivateState(c->global, args->id); }; });

  CLI::App* remove = state->add_subcommand("remove", "Delete archived states");
  DryRunSafe(ctx, remove);
  remove->add_option("ids", args->ids, "State numbers or fstx ids")->required();
  Flags(remove, ctx, true);
  remove->callback([c, args] { c->action = [c, args] { return Remove(c->global, args->ids); }; });

  CLI::App* prune = state->add_subcommand("prune", "Keep the active and newest states only");
  DryRunSafe(ctx, prune);
  prune->add_option("--keep", args->keep, "States to keep, the active one included")->required();
  Flags(prune, ctx, true);
  prune->callback([c, args] { c->action = [c, args] { return Prune(c->global, args->keep); }; });

  CLI::App* verify = state->add_subcommand("verify", "Re-hash the store and check every tree");
  DryRunSafe(ctx, verify);
  verify->add_flag("--repair", args->repair, "Rebuild damaged objects and trees");
  Flags(verify, ctx, true);
  verify->callback(
      [c, args] { c->action = [c, args] { return VerifyStates(c->global, args->repair); }; });

  CLI::App* recover = state->add_subcommand("recover", "Finish or undo an interrupted transaction");
  recover->add_flag("--no-boot-sync", args->no_boot_sync,
                    "Leave the boot entries alone (the initramfs: no ESP mounted)");
  Flags(recover, ctx, false);
  recover->callback(
      [c, args] { c->action = [c, args] { return RecoverRoot(c->global, !args->no_boot_sync); }; });

  CLI::App* diff = state->add_subcommand("diff", "Packages and files changed from A to B");
  DryRunSafe(ctx, diff);
  diff->add_option("a", args->id, "State A")->required();
  diff->add_option("b", args->other, "State B")->required();
  Flags(diff, ctx, false);
  diff->callback(
      [c, args] { c->action = [c, args] { return Diff(c->global, args->id, args->other); }; });
}

}  // namespace onix::moss_cli

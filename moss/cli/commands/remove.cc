// `moss remove NAME...`: drops installed packages from the active selection and switches to
// the resulting state.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "moss/base/json.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/cli/commands.h"
#include "moss/cli/tx_options.h"
#include "moss/transaction/report.h"
#include "moss/transaction/selection.h"
#include "moss/transaction/transaction.h"

namespace onix::moss_cli {
namespace {

namespace tx = ::onix::moss::transaction;

// With --autoremove the request goes through the solver, which also drops dependency-only
// packages nothing needs any more; --debug-solver also sends it there, so the testcase shows
// the removal the solver would make.
absl::Status RunSolverRemove(const GlobalOptions& g, const std::vector<std::string>& names,
                             bool autoremove, const std::string& debug_solver) {
  moss::solver::Request request;
  request.remove = names;
  request.autoremove = autoremove;
  request.debug_dir = debug_solver;
  return RunSolverRequest(g, request);
}

absl::Status RunRemove(const GlobalOptions& g, const std::vector<std::string>& names) {
  ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root, tx::OpenForCommand(g.root, true, g.dry_run));
  ONIX_ASSIGN_OR_RETURN(tx::Selection selection, tx::RemoveSelection(root, names));
  ONIX_ASSIGN_OR_RETURN(tx::Result result, tx::Apply(root, selection, TransactionOptions(g)));
  PrintTransactionResult(g, "remove", result);
  return absl::OkStatus();
}

}  // namespace

void AddRemoveCommand(CLI::App& app, Context& ctx) {
  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand("remove", "Remove installed packages as a new state");
  DryRunSafe(ctx, cmd);
  cmd->add_option("names", *names, "Package names")->required();
  cmd->add_flag("--dry-run", ctx.global.dry_run, "Print the transaction, change nothing");
  cmd->add_flag("--json", ctx.global.json, "Machine-readable output");
  cmd->add_flag("-y,--yes", ctx.global.yes, "Do not ask for confirmation");
  auto autoremove = std::make_shared<bool>(false);
  cmd->add_flag("--autoremove", *autoremove,
                "Also remove dependency-only packages nothing needs any more");
  auto debug_solver = std::make_shared<std::string>();
  cmd->add_option("--debug-solver", *debug_solver,
                  "Resolve through the solver and write libsolv's testcase to DIR");
  cmd->callback([&ctx, names, autoremove, debug_solver] {
    ctx.action = [&ctx, names, autoremove, debug_solver] {
      if (*autoremove || !debug_solver->empty()) {
        return RunSolverRemove(ctx.global, *names, *autoremove, *debug_solver);
      }
      return RunRemove(ctx.global, *names);
    };
  });
}

}  // namespace onix::moss_cli

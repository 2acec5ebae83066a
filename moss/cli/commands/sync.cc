// `moss sync [--autoremove] [--dry-run] [--debug-solver DIR]`: brings every installed package
// to the best candidate of the enabled repositories (downgrading when a repository went back)
// and applies the result as one transaction.
#include <cstdio>
#include <memory>
#include <string>

#include "moss/base/status.h"
#include "moss/cli/commands.h"
#include "moss/cli/tx_options.h"
#include "moss/repo/driver.h"
#include "moss/transaction/report.h"

namespace onix::moss_cli {
namespace {

struct SyncRequest {
  bool autoremove = false;
  std::string debug_solver;
};

}  // namespace

void AddSyncCommand(CLI::App& app, Context& ctx) {
  auto req = std::make_shared<SyncRequest>();
  CLI::App* cmd = app.add_subcommand(
      "sync", "Bring installed packages up to the repositories (incl. downgrades)");
  DryRunSafe(ctx, cmd);
  cmd->add_flag("--autoremove", req->autoremove, "Also remove dependencies nothing needs");
  cmd->add_flag("--dry-run", ctx.global.dry_run, "Print the transaction, change nothing");
  cmd->add_option("--debug-solver", req->debug_solver, "Write libsolv's testcase to DIR");
  cmd->callback([&ctx, req] {
    ctx.action = [&ctx, req] {
      moss::solver::Request request;
      request.sync = true;
      request.autoremove = req->autoremove;
      request.debug_dir = req->debug_solver;
      return RunSolverRequest(ctx.global, request, "sync");
    };
  });
}

}  // namespace onix::moss_cli

// `moss install FILE.stone...`: adds local stones (replacing installed packages of the same
// name) to the active selection and switches to the resulting state.
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

// An argument ending in ".stone" or holding a '/' is a file (a missing one is an error about
// that file); anything else is a package name or a typed provider such as
// "soname(libz.so.1(x86_64))", resolved from the repositories.
bool IsStoneFile(const std::string& arg) {
  return arg.find('/') != std::string::npos ||
         (arg.size() > 6 && arg.compare(arg.size() - 6, 6, ".stone") == 0);
}

absl::Status RunInstallByName(const GlobalOptions& g, const std::vector<std::string>& names,
                              const std::string& debug_solver) {
  moss::solver::Request request;
  request.install = names;
  request.debug_dir = debug_solver;
  return RunSolverRequest(g, request);
}

absl::Status RunInstall(const GlobalOptions& g, const std::vector<std::string>& args,
                        const std::string& debug_solver) {
  std::vector<std::string> files, names;
  for (const auto& a : args) (IsStoneFile(a) ? files : names).push_back(a);
  if (!names.empty() && !files.empty()) {
    return InvalidArgument(StrCat("give either .stone files or package names, not both ('",
                                  files.front(), "' is a file, '", names.front(), "' a name)"));
  }
  if (!names.empty()) return RunInstallByName(g, names, debug_solver);
  if (!debug_solver.empty()) {
    return InvalidArgument(StrCat("--debug-solver applies to installs by name; '", files.front(),
                                  "' is a .stone file, which the solver does not see"));
  }
  ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root, tx::OpenForCommand(g.root, true, g.dry_run));
  ONIX_ASSIGN_OR_RETURN(tx::Selection selection, tx::InstallSelection(root, files));
  ONIX_ASSIGN_OR_RETURN(tx::Result result, tx::Apply(root, selection, TransactionOptions(g)));
  PrintTransactionResult(g, "install", result);
  return absl::OkStatus();
}

}  // namespace

void AddInstallCommand(CLI::App& app, Context& ctx) {
  auto files = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand(
      "install", "Install packages by name from the repositories, or local .stone files");
  DryRunSafe(ctx, cmd);
  cmd->add_option("packages", *files, "Package names, typed providers or .stone files")->required();
  cmd->add_flag("--dry-run", ctx.global.dry_run, "Print the transaction, change nothing");
  cmd->add_flag("--json", ctx.global.json, "Machine-readable output");
  cmd->add_flag("-y,--yes", ctx.global.yes, "Do not ask for confirmation");
  auto debug_solver = std::make_shared<std::string>();
  cmd->add_option("--debug-solver", *debug_solver, "Write libsolv's testcase to DIR");
  cmd->callback([&ctx, files, debug_solver] {
    ctx.action = [&ctx, files, debug_solver] {
      return RunInstall(ctx.global, *files, *debug_solver);
    };
  });
}

}  // namespace onix::moss_cli

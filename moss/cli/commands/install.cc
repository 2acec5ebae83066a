// `moss install FILE.stone...`: adds local stones (replacing installed packages of the same
// name) to the active selection and switches to the resulting state.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/cli/commands.h"
#include "moss/transaction/report.h"
#include "moss/transaction/selection.h"
#include "moss/transaction/transaction.h"

namespace onix::moss_cli {
namespace {

namespace tx = ::onix::moss::transaction;

absl::Status RunInstall(const GlobalOptions& g, const std::vector<std::string>& files) {
  ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root, tx::OpenForCommand(g.root, true, g.dry_run));
  ONIX_ASSIGN_OR_RETURN(tx::Selection selection, tx::InstallSelection(root, files));
  ONIX_ASSIGN_OR_RETURN(tx::Result result,
                        tx::Apply(root, selection, tx::CommandOptions(g.dry_run, g.json)));
  if (g.json) {
    nlohmann::json j = tx::ResultJson(result);
    j["dry_run"] = g.dry_run;
    std::printf("%s\n", j.dump(2).c_str());
    return absl::OkStatus();
  }
  if (result.plan.noop) {
    std::printf("nothing to do: state %s already has these packages\n",
                result.plan.from_fstx.c_str());
    return absl::OkStatus();
  }
  std::printf("%s%s", g.dry_run ? "would install:\n" : "", tx::FormatPlan(result.plan).c_str());
  for (const auto& w : result.warnings) std::fprintf(stderr, "moss: warning: %s\n", w.c_str());
  if (g.dry_run) {
    std::printf("dry run: state %s would become active; nothing changed\n",
                result.plan.to_fstx.c_str());
  } else {
    std::printf(
        "state %s is active%s\n", result.plan.to_fstx.c_str(),
        result.plan.from_fstx.empty() ? "" : StrCat(" (was ", result.plan.from_fstx, ")").c_str());
  }
  return absl::OkStatus();
}

}  // namespace

void AddInstallCommand(CLI::App& app, Context& ctx) {
  auto files = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand("install", "Install local .stone files as a new state");
  cmd->add_option("files", *files, "Stone files to install")->required();
  cmd->add_flag("--dry-run", ctx.global.dry_run, "Print the transaction, change nothing");
  cmd->add_flag("--json", ctx.global.json, "Machine-readable output");
  cmd->add_flag("-y,--yes", ctx.global.yes, "Do not ask for confirmation");
  cmd->callback(
      [&ctx, files] { ctx.action = [&ctx, files] { return RunInstall(ctx.global, *files); }; });
}

}  // namespace onix::moss_cli

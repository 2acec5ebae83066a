// `moss search-file PATH`: which installed package ships a path.
#include <cstdio>
#include <memory>
#include <string>

#include "moss/base/json.h"
#include "moss/base/status.h"
#include "moss/cli/commands.h"
#include "moss/transaction/queries.h"
#include "moss/transaction/report.h"

namespace onix::moss_cli {
namespace {

namespace tx = ::onix::moss::transaction;

absl::Status RunSearchFile(const GlobalOptions& g, const std::string& path) {
  ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root, tx::OpenForCommand(g.root, false, false));
  ONIX_ASSIGN_OR_RETURN(std::vector<moss::db::PathOwner> owners, tx::SearchFile(root, path));
  if (g.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& o : owners)
      j.push_back({{"package", o.package}, {"path", "/usr/" + o.entry.path}});
    std::printf("%s\n", DumpJson(j, 2).c_str());
    return absl::OkStatus();
  }
  for (const auto& o : owners)
    std::printf("/usr/%s: %s\n", o.entry.path.c_str(), o.package.c_str());
  return absl::OkStatus();
}

}  // namespace

void AddSearchFileCommand(CLI::App& app, Context& ctx) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("search-file", "Find the installed package shipping PATH");
  DryRunSafe(ctx, cmd);
  cmd->add_option("path", *path, "/usr/... path")->required();
  cmd->add_flag("--json", ctx.global.json, "Machine-readable output");
  cmd->callback(
      [&ctx, path] { ctx.action = [&ctx, path] { return RunSearchFile(ctx.global, *path); }; });
}

}  // namespace onix::moss_cli

// `moss list installed`: the packages of the active state.
#include <cstdio>
#include <string>

#include "moss/base/json.h"
#include "moss/base/status.h"
#include "moss/cli/commands.h"
#include "moss/state/manifest.h"
#include "moss/transaction/queries.h"
#include "moss/transaction/report.h"

namespace onix::moss_cli {
namespace {

namespace tx = ::onix::moss::transaction;

absl::Status RunListInstalled(const GlobalOptions& g) {
  ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root, tx::OpenForCommand(g.root, false, false));
  ONIX_ASSIGN_OR_RETURN(std::vector<moss::state::PackageRecord> pkgs, tx::InstalledPackages(root));
  if (g.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& p : pkgs) {
      j.push_back({{"name", p.meta.name},
                   {"version", p.meta.version},
                   {"source_release", p.meta.source_release},
                   {"build_release", p.meta.build_release},
                   {"stone_digest", p.stone_digest.Hex()},
                   {"explicit", p.is_explicit},
                   {"summary", p.meta.summary}});
    }
    std::printf("%s\n", DumpJson(j, 2).c_str());
    return absl::OkStatus();
  }
  for (const auto& p : pkgs) {
    std::printf("%-24s %-16s %s%s\n", p.meta.name.c_str(),
                moss::state::VersionRelease(p.meta).c_str(), p.meta.summary.c_str(),
                p.is_explicit ? "" : " (dependency)");
  }
  return absl::OkStatus();
}

}  // namespace

void AddListCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand("list", "List packages");
  DryRunSafe(ctx, cmd);
  cmd->require_subcommand(1);
  CLI::App* installed = cmd->add_subcommand("installed", "Packages of the active state");
  DryRunSafe(ctx, installed);
  installed->add_flag("--json", ctx.global.json, "Machine-readable output");
  installed->callback([&ctx] { ctx.action = [&ctx] { return RunListInstalled(ctx.global); }; });
}

}  // namespace onix::moss_cli

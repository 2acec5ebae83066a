// `moss cache size|clean`: the download cache under ROOT/.moss/cache.
#include <cstdio>

#include "moss/base/json.h"
#include "moss/base/status.h"
#include "moss/cli/commands.h"
#include "moss/repo/report.h"
#include "moss/repo/repository.h"
#include "nlohmann/json.hpp"

namespace onix::moss_cli {
namespace {

namespace repo = onix::moss::repo;

absl::Status RunSize(const GlobalOptions& g) {
  ONIX_ASSIGN_OR_RETURN(repo::CacheUsage u, repo::CacheSize(g.root));
  if (g.json) {
    nlohmann::json j = {
        {"stones", u.stones}, {"stone_bytes", u.stone_bytes}, {"index_bytes", u.index_bytes}};
    std::printf("%s\n", DumpJson(j, 2).c_str());
    return absl::OkStatus();
  }
  std::printf("stones:  %zu files, %s\nindexes: %s\n", u.stones,
              repo::HumanSize(u.stone_bytes).c_str(), repo::HumanSize(u.index_bytes).c_str());
  return absl::OkStatus();
}

}  // namespace

void AddCacheCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand("cache", "Inspect or clean the download cache");
  cmd->require_subcommand(1);
  CLI::App* size = cmd->add_subcommand("size", "Show the size of the cache");
  DryRunSafe(ctx, size);
  size->add_flag("--json", ctx.global.json, "Machine-readable output");
  size->callback([&ctx] { ctx.action = [&ctx] { return RunSize(ctx.global); }; });
  cmd->add_subcommand("clean", "Remove downloaded stones (indexes stay)")->callback([&ctx] {
    ctx.action = [&ctx]() -> absl::Status {
      ONIX_ASSIGN_OR_RETURN(uint64_t freed, repo::CacheClean(ctx.global.root));
      std::printf("freed %s\n", repo::HumanSize(freed).c_str());
      return absl::OkStatus();
    };
  });
}

}  // namespace onix::moss_cli

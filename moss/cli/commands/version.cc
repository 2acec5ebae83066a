#include <cstdio>

#include "moss/cli/commands.h"

namespace onix::moss_cli {

void AddVersionCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand("version", "Print the moss version and stone format");
  DryRunSafe(ctx, cmd);
  cmd->callback([&ctx] {
    ctx.action = [] {
      std::printf("moss 0.1.0 (ONIX)\n");
      return absl::OkStatus();
    };
  });
}

}  // namespace onix::moss_cli

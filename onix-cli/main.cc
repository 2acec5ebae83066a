#include <cstdio>

#include "moss/base/status.h"
#include "onix-cli/command.h"
#include "tools/clidoc/clidoc.h"

namespace onix::cli {

void BuildApp(CLI::App& app, Context& ctx) {
  app.description(
      "onix: the workstation view of an ONIX machine. moss controls the machine, Nix controls "
      "the toolbox; every command says which plane it moved and which stayed still.");
  app.require_subcommand(1);
  app.add_option("--root", ctx.global.root, "Machine root to operate on")->capture_default_str();
  app.add_flag("--json", ctx.global.json, "Machine-readable output");
  app.add_flag("-y,--yes", ctx.global.yes, "Do not ask for confirmation");
  app.footer(
      "Exit codes: 0 success; 1 the operation failed; 2 bad input (unknown state, missing file, "
      "bad option).");
  for (size_t i = 0; i < kCommandCount; ++i) kCommands[i].add(app, ctx);
}

int RunMain(int argc, char** argv) {
  CLI::App app;
  Context ctx;
  BuildApp(app, ctx);
  if (int rc = clidoc::MaybeGenerate(app, "onix", argc, argv); rc >= 0) return rc;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (!ctx.action) return ReportStatus("onix", absl::InternalError("no command chosen"));
  return ReportStatus("onix", ctx.action());
}

}  // namespace onix::cli

int main(int argc, char** argv) { return onix::cli::RunMain(argc, argv); }

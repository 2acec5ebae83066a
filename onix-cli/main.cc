#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "onix-cli/command.h"
#include "tools/clidoc/clidoc.h"

namespace onix::cli {

void BuildApp(CLI::App& app, Context& ctx) {
  app.description(
      "onix: the workstation view of an ONIX machine. moss controls the machine, Nix controls "
      "the toolbox; every command says which plane it moved and which stayed still.");
  app.require_subcommand(1);
  // Global options are accepted before or after the subcommand: an option a subcommand does
  // not know falls through to its parent (CLI11), as in moss.
  app.fallthrough();
  app.add_option("-D,--root", ctx.global.root, "Machine root to operate on")->capture_default_str();
  app.add_flag("--json", ctx.global.json, "Machine-readable output");
  app.add_flag("-y,--yes", ctx.global.yes, "Do not ask for confirmation");
  app.add_flag("--dry-run", ctx.global.dry_run,
               "Say what would change, change nothing (gc, rollback, update; the queries "
               "change nothing anyway; other commands refuse it)");
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
  if (ctx.global.dry_run) {
    // Every command honours --dry-run or refuses it before it runs (issue 22).
    static const std::set<std::string> kHonoured = {"status", "history",  "diff",
                                                    "gc",     "rollback", "update"};
    const std::vector<CLI::App*> chosen = app.get_subcommands();
    const std::string name = chosen.empty() ? "" : chosen.front()->get_name();
    if (kHonoured.count(name) == 0) {
      return ReportStatus(
          "onix", absl::InvalidArgumentError(
                      StrCat("onix ", name, " does not support --dry-run; nothing was run")));
    }
  }
  return ReportStatus("onix", ctx.action());
}

}  // namespace onix::cli

int main(int argc, char** argv) { return onix::cli::RunMain(argc, argv); }

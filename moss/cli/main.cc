#include <cstdio>

#include "moss/base/status.h"
#include "moss/cli/command.h"
#include "tools/clidoc/clidoc.h"

namespace onix::moss_cli {

int RunMain(int argc, char** argv) {
  CLI::App app{"moss: the ONIX transaction engine. Owns /usr, /.moss and /boot of a machine root."};
  app.require_subcommand(1);
  Context ctx;
  app.add_option("-D,--root", ctx.global.root, "Machine root to operate on (like rpm --root)")
      ->capture_default_str();
  app.add_flag("--json", ctx.global.json, "Machine-readable output for listings");
  app.add_flag("-y,--yes", ctx.global.yes, "Do not ask for confirmation");
  app.add_flag("--dry-run", ctx.global.dry_run, "Show what would change, change nothing");
  for (size_t i = 0; i < kCommandCount; ++i) kCommands[i].add(app, ctx);
  if (int rc = clidoc::MaybeGenerate(app, "moss", argc, argv); rc >= 0) return rc;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!ctx.action) return ReportStatus("moss", absl::InternalError("no command chosen"));
  return ReportStatus("moss", ctx.action());
}

}  // namespace onix::moss_cli

int main(int argc, char** argv) { return onix::moss_cli::RunMain(argc, argv); }

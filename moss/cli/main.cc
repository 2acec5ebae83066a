#include <cstdio>

#include "moss/base/status.h"
#include "moss/cli/command.h"
#include "tools/clidoc/clidoc.h"

namespace onix::moss_cli {
namespace {

// Examples shown by `moss CMD --help` and in moss.1, kept in one table so every command has
// them and they read alike.
struct Examples {
  const char* command;
  const char* text;
};
constexpr Examples kExamples[] = {
    {"install",
     "moss -D /mnt/onix install busybox zstd\n  moss install 'soname(libz.so.1(x86_64))'\n"
     "  moss install ./zlib-1.3-1-1-x86_64.stone --dry-run"},
    {"remove", "moss remove zstd\n  moss remove curl --autoremove"},
    {"sync", "moss sync --dry-run\n  moss sync --autoremove"},
    {"list", "moss list installed\n  moss list installed --json"},
    {"info", "moss info busybox"},
    {"search", "moss search zstd\n  moss search --provides 'soname(libzstd.so.1(x86_64))'"},
    {"search-file", "moss search-file /usr/bin/sh"},
    {"state",
     "moss state list\n  moss state diff 1 2\n  moss state activate 1-e0fd\n"
     "  moss state prune --keep 3\n  moss state verify --repair\n  moss state recover"},
    {"boot", "moss boot status\n  moss boot sync\n  moss boot install\n  moss boot mark-good"},
    {"repo",
     "moss repo add local file:///srv/onix/repo --key repo.pub\n  moss repo update\n"
     "  moss repo list --json"},
    {"index", "moss index /srv/onix/repo --sign repo.key"},
    {"keygen", "moss keygen repo    # writes repo.key and repo.pub"},
    {"cache", "moss cache size\n  moss cache clean"},
    {"inspect", "moss inspect zstd-1.5.4-1-1-x86_64.stone --layout\n  moss inspect FILE --check"},
    {"extract", "moss extract zstd-1.5.4-1-1-x86_64.stone /tmp/zstd"},
    {"version", "moss version"},
};

void AddExamples(CLI::App& app) {
  for (const auto& e : kExamples) {
    for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      if (sub->get_name() == e.command && sub->get_footer().empty()) {
        sub->footer(std::string("Examples:\n  ") + e.text);
      }
    }
  }
}

}  // namespace

int RunMain(int argc, char** argv) {
  CLI::App app{"moss: the ONIX transaction engine. Owns /usr, /.moss and /boot of a machine root."};
  app.require_subcommand(1);
  // Global options are accepted before or after the subcommand: an option a subcommand does
  // not know falls through to its parent (CLI11), as in onix.
  app.fallthrough();
  Context ctx;
  app.add_option("-D,--root", ctx.global.root, "Machine root to operate on (like rpm --root)")
      ->capture_default_str();
  app.add_flag("--json", ctx.global.json, "Machine-readable output for listings");
  app.add_flag("-y,--yes", ctx.global.yes, "Do not ask for confirmation");
  app.add_flag("--dry-run", ctx.global.dry_run, "Show what would change, change nothing");
  for (size_t i = 0; i < kCommandCount; ++i) kCommands[i].add(app, ctx);
  AddExamples(app);
  if (int rc = clidoc::MaybeGenerate(app, "moss", argc, argv); rc >= 0) return rc;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and --version exit 0; every parse error is bad input, exit 2 (CLI11's own codes,
    // 104-109, are not moss's exit table).
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!ctx.action) return ReportStatus("moss", absl::InternalError("no command chosen"));
  if (ctx.global.dry_run) {
    // The command chosen is the innermost subcommand parsed.
    const CLI::App* chosen = &app;
    std::string path = "moss";
    while (!chosen->get_subcommands().empty()) {
      chosen = chosen->get_subcommands().front();
      path += " " + chosen->get_name();
    }
    if (!ctx.dry_run_safe.count(chosen)) {
      return ReportStatus("moss", absl::InvalidArgumentError(path + " does not support --dry-run; "
                                                                    "nothing was run"));
    }
  }
  return ReportStatus("moss", ctx.action());
}

}  // namespace onix::moss_cli

int main(int argc, char** argv) { return onix::moss_cli::RunMain(argc, argv); }

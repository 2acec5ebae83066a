// `onix rollback [FSTX]`: back to the previous (or given) machine state; /nix is verified
// untouched, not assumed.
#include "onix-cli/machine/rollback.h"

#include <cstdio>
#include <memory>

#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "nlohmann/json.hpp"
#include "onix-cli/commands.h"

namespace onix::cli {
namespace {

absl::Status RunRollback(const GlobalOptions& g, RollbackRequest req) {
  req.root = g.root;
  ONIX_ASSIGN_OR_RETURN(RollbackResult result, Rollback(req));
  if (g.json) {
    nlohmann::json j = {{"from", result.from_fstx},
                        {"to", result.to_fstx},
                        {"plane", "machine"},
                        {"warnings", result.warnings},
                        {"nix_untouched", result.nix_changes.empty()},
                        {"nix_changes", result.nix_changes},
                        {"dry_run", req.dry_run}};
    std::printf("%s\n", j.dump(2).c_str());
  } else if (req.dry_run) {
    std::printf("would roll back: %s -> %s\n", result.from_fstx.c_str(), result.to_fstx.c_str());
  } else {
    std::fputs(FormatRollback(result).c_str(), stdout);
  }
  if (!result.nix_changes.empty()) {
    return Internal(StrCat("the Nix plane changed during the machine rollback (",
                           result.nix_changes.size(), " differences listed above)"));
  }
  return absl::OkStatus();
}

}  // namespace

void AddRollbackCommand(CLI::App& app, Context& ctx) {
  auto req = std::make_shared<RollbackRequest>();
  CLI::App* cmd = app.add_subcommand(
      "rollback", "Activate the previous (or given) machine state; verify /nix is untouched");
  cmd->add_option("fstx", req->target,
                  "State to activate, as N or N-xxxx (default: the previous one)");
  cmd->add_option("--run-dir", req->run_dir,
                  "Graphics bridge directory (default: ROOT/run/opengl-driver)");
  cmd->add_flag("--force", req->force,
                "Roll back even to a Nix older than the one that last wrote /nix");
  cmd->add_flag("--dry-run", req->dry_run, "Say which state would become active; change nothing");
  cmd->footer(
      "Moves the machine plane only: /usr, /boot and /run/opengl-driver. /nix is fingerprinted\n"
      "before and after; any difference is reported and the exit status is 1.\n"
      "Examples:\n  onix rollback\n  onix rollback 6648-03be\n  onix rollback --dry-run");
  cmd->callback([&ctx, req] {
    ctx.action = [&ctx, req] {
      // The global --dry-run (before or after the subcommand) means the same as its own.
      req->dry_run = req->dry_run || ctx.global.dry_run;
      return RunRollback(ctx.global, *req);
    };
  });
}

}  // namespace onix::cli

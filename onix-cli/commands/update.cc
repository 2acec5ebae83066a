// `onix update`: moss sync + boot sync + bridge refresh; says when to reboot and what happened
// to every changed factory default of /etc.
#include "onix-cli/machine/update.h"

#include <cstdio>
#include <memory>

#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "nlohmann/json.hpp"
#include "onix-cli/commands.h"

namespace onix::cli {
namespace {

absl::Status RunUpdate(const GlobalOptions& g, UpdateRequest req) {
  req.root = g.root;
  ONIX_ASSIGN_OR_RETURN(UpdateResult r, Update(req));
  if (g.json) {
    nlohmann::json etc = nlohmann::json::array();
    for (const auto& e : r.etc)
      etc.push_back({{"path", "/etc/" + e.path},
                     {"action", std::string(moss::etcmerge::ActionWord(e.action))}});
    nlohmann::json j = {
        {"from", r.from_fstx},
        {"to", r.to_fstx},
        {"reboot_for_kernel", r.old_kernel != r.new_kernel && !r.new_kernel.empty()},
        {"kernel", r.new_kernel},
        {"etc", etc},
        {"warnings", r.warnings},
        {"plane", "machine"},
        {"nix_untouched", r.nix_changes.empty()},
        {"nix_changes", r.nix_changes}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::fputs(r.plan.c_str(), stdout);
    if (!req.dry_run) std::fputs(FormatUpdate(r).c_str(), stdout);
  }
  if (!r.nix_changes.empty()) {
    return Internal(StrCat("the Nix plane changed during the machine update (",
                           r.nix_changes.size(), " differences listed above)"));
  }
  return absl::OkStatus();
}

}  // namespace

void AddUpdateCommand(CLI::App& app, Context& ctx) {
  auto req = std::make_shared<UpdateRequest>();
  CLI::App* cmd = app.add_subcommand(
      "update", "Bring the machine to its repositories (moss sync), resync boot and the bridge");
  cmd->add_option("--run-dir", req->run_dir,
                  "Graphics bridge directory (default: ROOT/run/opengl-driver)");
  cmd->add_flag("--dry-run", req->dry_run, "Print the exact transaction; change nothing");
  cmd->footer(
      "Local edits of /etc are never overwritten: a changed factory default of a file you\n"
      "edited is reported, with `onix etc diff --upstream PATH` to see what changed.\n"
      "Examples:\n  onix update --dry-run\n  onix update");
  cmd->callback([&ctx, req] {
    ctx.action = [&ctx, req] {
      // The global --dry-run (before or after the subcommand) means the same as its own.
      req->dry_run = req->dry_run || ctx.global.dry_run;
      return RunUpdate(ctx.global, *req);
    };
  });
}

}  // namespace onix::cli

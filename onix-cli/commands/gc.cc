// `onix gc`: moss state prune, then nix store gc, each plane's result reported.
#include "onix-cli/machine/gc.h"

#include <cstdio>
#include <memory>

#include "absl/strings/str_format.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "nlohmann/json.hpp"
#include "onix-cli/commands.h"

namespace onix::cli {
namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += StrCat(out.empty() ? "" : ", ", s);
  return out;
}

absl::Status RunGc(const GlobalOptions& g, GcRequest req) {
  req.root = g.root;
  ONIX_ASSIGN_OR_RETURN(GcResult r, Gc(req));
  if (g.json) {
    nlohmann::json j = {{"removed_states", r.removed_states},
                        {"kept_states", r.kept_states},
                        {"machine_bytes_freed", r.machine_bytes_freed},
                        {"nix", r.nix_summary},
                        {"nix_ran", r.nix_ran},
                        {"dry_run", req.dry_run}};
    std::printf("%s\n", j.dump(2).c_str());
    return absl::OkStatus();
  }
  const char* verb = req.dry_run ? "would remove" : "removed";
  if (r.removed_states.empty()) {
    std::printf("machine:     nothing to prune (kept %s)\n", Join(r.kept_states).c_str());
  } else {
    std::printf("machine:     %s %zu states (%s), %s %.1f MiB; kept %s\n", verb,
                r.removed_states.size(), Join(r.removed_states).c_str(),
                req.dry_run ? "would free" : "freed", r.machine_bytes_freed / 1048576.0,
                Join(r.kept_states).c_str());
  }
  std::printf("nix:         %s\n", r.nix_summary.c_str());
  return absl::OkStatus();
}

}  // namespace

void AddGcCommand(CLI::App& app, Context& ctx) {
  auto req = std::make_shared<GcRequest>();
  CLI::App* cmd = app.add_subcommand("gc", "Prune old machine states, then collect the Nix store");
  cmd->add_option("--keep", req->keep,
                  "Machine states to keep (the active and default-boot ones always stay)")
      ->capture_default_str();
  cmd->add_flag("--dry-run", req->dry_run, "Say what would be removed; remove nothing");
  cmd->add_flag("--machine-only", req->skip_nix,
                "Prune machine states only; leave the Nix store alone");
  cmd->footer(
      "Order: moss first, then nix. Refused while a moss transaction is in flight.\n"
      "Examples:\n  onix gc\n  onix gc --keep 2 --dry-run");
  cmd->callback([&ctx, req] {
    ctx.action = [&ctx, req] {
      // The global --dry-run (before or after the subcommand) means the same as its own.
      req->dry_run = req->dry_run || ctx.global.dry_run;
      return RunGc(ctx.global, *req);
    };
  });
}

}  // namespace onix::cli

// `onix doctor`: every live composition check, pass or fail.
#include "onix-cli/machine/doctor.h"

#include <cstdio>

#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "nlohmann/json.hpp"
#include "onix-cli/commands.h"

namespace onix::cli {
namespace {

absl::Status RunDoctorCommand(const GlobalOptions& g) {
  StatusOptions options;
  options.root = g.root;
  const std::vector<Check> checks = RunDoctor(options);
  size_t failed = 0;
  for (const auto& c : checks) failed += !c.pass;
  if (g.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& c : checks)
      out.push_back({{"check", c.name}, {"pass", c.pass}, {"detail", c.detail}});
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::fputs(FormatChecks(checks).c_str(), stdout);
  }
  if (failed > 0) return absl::FailedPreconditionError(StrCat(failed, " checks failed"));
  return absl::OkStatus();
}

}  // namespace

void AddDoctorCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand("doctor", "Run the composition checks of a live machine");
  cmd->footer(
      "Checks: journal, store, boot entries, graphics bridge, nix daemon, /etc/nix drift.\n"
      "Exit status 1 when any check fails.\nExamples:\n  onix doctor\n  onix doctor --json");
  cmd->callback([&ctx] { ctx.action = [&ctx] { return RunDoctorCommand(ctx.global); }; });
}

}  // namespace onix::cli

// `onix status`: the machine state, its boot entry, the Nix daemon, /etc drift and the
// graphics bridge, each computed (see status/collect.h).
#include "moss/base/status.h"

#include <cstdio>
#include <memory>

#include "onix-cli/commands.h"
#include "onix-cli/status/collect.h"

namespace onix::cli {
namespace {

struct StatusRequest {
  std::string nix_socket;
  std::string run_dir;
  double timeout_seconds = 2;
};

absl::Status RunStatus(const GlobalOptions& g, const StatusRequest& req) {
  StatusOptions options;
  options.root = g.root;
  options.nix_socket = req.nix_socket;
  options.run_dir = req.run_dir;
  options.daemon_timeout = absl::Seconds(req.timeout_seconds);
  ONIX_ASSIGN_OR_RETURN(MachineStatus status, CollectStatus(options));
  if (g.json) {
    std::printf("%s\n", StatusJson(status).dump(2).c_str());
  } else {
    std::fputs(FormatStatusText(status).c_str(), stdout);
  }
  return absl::OkStatus();
}

}  // namespace

void AddStatusCommand(CLI::App& app, Context& ctx) {
  auto req = std::make_shared<StatusRequest>();
  CLI::App* cmd = app.add_subcommand(
      "status", "Show the machine state, boot entry, Nix daemon, /etc drift and graphics bridge");
  cmd->add_option("--nix-socket", req->nix_socket,
                  "Nix daemon socket (default: ROOT/nix/var/nix/daemon-socket/socket)");
  cmd->add_option("--run-dir", req->run_dir,
                  "Graphics bridge directory (default: ROOT/run/opengl-driver)");
  cmd->add_option("--timeout", req->timeout_seconds,
                  "Seconds to wait for the Nix daemon's handshake")
      ->capture_default_str();
  cmd->footer("Examples:\n  onix status\n  onix status --json\n  onix --root /mnt/onix status");
  cmd->callback([&ctx, req] { ctx.action = [&ctx, req] { return RunStatus(ctx.global, *req); }; });
}

}  // namespace onix::cli

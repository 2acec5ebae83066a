// onix-nix-integration: seeds and unseeds the Nix plane in a machine root, rebuilds the
// graphics bridge, and reports the plane's status. Run at boot and after every moss switch.
#include <sys/stat.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "nix-integration/daemon/fingerprint.h"
#include "nix-integration/daemon/health.h"
#include "nix-integration/opengl_bridge/bridge.h"
#include "nix-integration/seed/seed.h"
#include "nlohmann/json.hpp"

namespace onix::nixplane {
namespace {

constexpr char kProgram[] = "onix-nix-integration";

std::string Parent(const std::string& path) { return path.substr(0, path.rfind('/')); }

std::string RootPath(const std::string& root, const std::string& abs) {
  return root == "/" ? abs : StrCat(root, abs);
}

absl::Status RunSeed(const std::string& root) {
  ONIX_ASSIGN_OR_RETURN(SeedReport report, Seed(root));
  for (const auto& c : report.changed) std::cout << "seeded " << c << "\n";
  for (const auto& d : report.drift) std::cout << "kept local override " << d.ToString() << "\n";
  std::cout << report.changed.size() << " changed, " << report.drift.size() << " drift\n";
  return absl::OkStatus();
}

absl::Status RunUnseed(const std::string& root) {
  ONIX_ASSIGN_OR_RETURN(UnseedReport report, Unseed(root));
  for (const auto& r : report.removed) std::cout << "removed " << r << "\n";
  for (const auto& k : report.kept) std::cout << "kept (changed since seeding) " << k << "\n";
  std::cout << "/nix left untouched\n";
  return absl::OkStatus();
}

absl::Status RunBridge(const std::string& root, const std::string& run_dir,
                       const std::string& fstx) {
  ONIX_ASSIGN_OR_RETURN(bridge::RebuildReport report, bridge::Rebuild(root, run_dir, fstx));
  std::cout << run_dir << ": " << report.links << " links, " << report.rewritten
            << " manifests rewritten\n";
  return absl::OkStatus();
}

// What the boot unit and the moss system trigger run: converge the seam, then the bridge.
absl::Status RunSync(const std::string& root, const std::string& run_dir) {
  ONIX_RETURN_IF_ERROR(RunSeed(root));
  // A root without /run (an image being built) has no bridge to keep.
  struct stat st;
  if (::stat(Parent(run_dir).c_str(), &st) != 0) {
    std::cout << "no " << Parent(run_dir) << ": bridge not built\n";
    return absl::OkStatus();
  }
  return RunBridge(root, run_dir, "");
}

// Each line is computed on its own, so one failing check still leaves the others readable;
// the first failure becomes the exit status.
absl::Status RunStatus(const std::string& root, const std::string& run_dir, const std::string& fstx,
                       const std::string& socket, int timeout_ms, bool json) {
  absl::Status first_error;
  auto keep = [&](const absl::Status& s) {
    if (first_error.ok()) first_error = s;
    return StrCat("error: ", s.message());
  };
  const DaemonHealth health = CheckDaemon(socket, absl::Milliseconds(timeout_ms));
  auto drift = EtcNixDrift(root);
  auto opengl = bridge::Check(root, run_dir, fstx);
  auto schema = DbSchemaVersion(RootPath(root, "/nix"));

  std::string drift_text, opengl_text, schema_text;
  if (drift.ok()) {
    drift_text = StrCat(drift->size(), drift->size() == 1 ? " local override" : " local overrides");
  } else {
    drift_text = keep(drift.status());
  }
  opengl_text = opengl.ok() ? opengl->ToString() : keep(opengl.status());
  if (schema.ok()) {
    schema_text = StrCat("schema ", *schema);
  } else if (absl::IsNotFound(schema.status())) {
    schema_text = "not created yet";
  } else {
    schema_text = keep(schema.status());
  }

  if (json) {
    nlohmann::json j;
    j["nix_daemon"] = health.ToString();
    j["nix_version"] = health.nix_version;
    j["etc_drift"] = nlohmann::json::array();
    if (drift.ok()) {
      for (const auto& d : *drift) j["etc_drift"].push_back(d.ToString());
    }
    j["opengl"] = opengl_text;
    j["nix_db"] = schema_text;
    std::cout << j.dump(2) << "\n";
    return first_error;
  }
  std::cout << "nix daemon:  " << health.ToString() << "\n";
  std::cout << "etc drift:   " << drift_text << "\n";
  if (drift.ok()) {
    for (const auto& d : *drift) std::cout << "  " << d.ToString() << "\n";
  }
  std::cout << "opengl:      " << opengl_text << "\n";
  std::cout << "nix db:      " << schema_text << "\n";
  return first_error;
}

int RunMain(int argc, char** argv) {
  CLI::App app{
      "Seeds the Nix plane into a machine root and keeps its seam with the machine "
      "(nixbld users, /etc/nix, hooks, units, /run/opengl-driver) converged.",
      kProgram};
  app.require_subcommand(1);
  std::string root = "/", run_dir, fstx, socket, data_dir;
  bool json = false;
  int timeout_ms = 2000;

  auto* seed = app.add_subcommand("seed", "create or converge the Nix plane's seam in ROOT");
  seed->add_option("--root", root, "machine root")->capture_default_str();
  seed->footer("Example: onix-nix-integration seed --root /");
  auto* unseed = app.add_subcommand("unseed", "remove what seeding created; /nix stays");
  unseed->add_option("--root", root, "machine root")->capture_default_str();
  auto* br = app.add_subcommand("bridge", "rebuild /run/opengl-driver from the active state");
  br->add_option("--root", root, "machine root")->capture_default_str();
  br->add_option("--run-dir", run_dir, "bridge directory (default ROOT/run/opengl-driver)");
  br->add_option("--fstx", fstx, "the active state's fstx (default: from ROOT/usr/.fstx)");
  auto* sync = app.add_subcommand(
      "sync", "seed, then rebuild the bridge for ROOT/usr's state (boot and after every switch)");
  sync->add_option("--root", root, "machine root")->capture_default_str();
  sync->add_option("--run-dir", run_dir, "bridge directory (default ROOT/run/opengl-driver)");
  auto* st = app.add_subcommand("status", "daemon health, /etc/nix drift, bridge coherence");
  st->add_option("--root", root, "machine root")->capture_default_str();
  st->add_option("--run-dir", run_dir, "bridge directory (default ROOT/run/opengl-driver)");
  st->add_option("--fstx", fstx, "the active state's fstx (default: from ROOT/usr/.fstx)");
  st->add_option("--socket", socket,
                 "daemon socket (default ROOT/nix/var/nix/daemon-socket/socket)");
  st->add_option("--timeout-ms", timeout_ms, "handshake timeout")->capture_default_str();
  st->add_flag("--json", json, "machine-readable output");
  auto* inst = app.add_subcommand(
      "install-data", "copy the stone's data files into ROOT/usr (tests and image builds only)");
  inst->add_option("--root", root, "machine root")->required();
  inst->add_option("--data", data_dir, "nix-integration/data directory")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a success; every other parse error is bad input (exit 2, as ReportStatus).
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (run_dir.empty()) run_dir = bridge::DefaultRunDir(root);
  if (socket.empty()) socket = RootPath(root, kDefaultDaemonSocket);

  absl::Status status;
  if (seed->parsed()) {
    status = RunSeed(root);
  } else if (unseed->parsed()) {
    status = RunUnseed(root);
  } else if (br->parsed()) {
    status = RunBridge(root, run_dir, fstx);
  } else if (sync->parsed()) {
    status = RunSync(root, run_dir);
  } else if (st->parsed()) {
    status = RunStatus(root, run_dir, fstx, socket, timeout_ms, json);
  } else if (inst->parsed()) {
    status = InstallShippedData(root, data_dir);
  }
  std::cout.flush();
  return ReportStatus(kProgram, status);
}

}  // namespace
}  // namespace onix::nixplane

int main(int argc, char** argv) { return onix::nixplane::RunMain(argc, argv); }

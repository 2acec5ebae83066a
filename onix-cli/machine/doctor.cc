#include "onix-cli/machine/doctor.h"

#include <set>

#include "absl/strings/str_format.h"
#include "boot/bls/sync.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/transaction/journal.h"
#include "moss/transaction/maintenance.h"
#include "moss/transaction/root.h"
#include "nix-integration/daemon/health.h"
#include "nix-integration/opengl_bridge/bridge.h"
#include "nix-integration/seed/seed.h"

namespace onix::cli {
namespace {

using moss::transaction::Access;
using moss::transaction::MachineRoot;

Check Fail(std::string name, const absl::Status& status) {
  return {std::move(name), false, std::string(status.message())};
}

Check StoreCheck(MachineRoot& machine) {
  auto report = moss::transaction::Verify(machine, /*repair=*/false);
  if (!report.ok()) return Fail("store", report.status());
  if (!report->problems.empty()) {
    const auto& p = report->problems.front();
    return {"store", false,
            StrCat(report->problems.size(), " problems, first: ", p.where, " ", p.path,
                   " (run `moss state verify --repair`)")};
  }
  return {"store", true,
          StrCat(report->objects_checked, " objects and ", report->states_checked,
                 " state trees verified")};
}

Check JournalCheck(MachineRoot& machine) {
  auto journal = moss::transaction::ReadJournal(machine.moss_fd());
  if (!journal.ok()) return Fail("journal", journal.status());
  if (*journal) {
    return {"journal", false,
            StrCat("a ", (*journal)->operation, " to ", (*journal)->to_fstx,
                   " was interrupted; run `moss state recover`")};
  }
  return {"journal", true, "no transaction in flight"};
}

Check BootCheck(MachineRoot& machine, const std::string& root) {
  auto states = machine.RetainedStates();
  if (!states.ok()) return Fail("boot entries", states.status());
  auto entries = FstxsWithBootEntries(root);
  if (!entries.ok()) return Fail("boot entries", entries.status());
  std::set<std::string> retained;
  std::string active, active_kernel_missing;
  for (const auto& s : *states) {
    retained.insert(s.fstx);
    if (s.active) {
      active = s.fstx;
      if (!boot::FindStateKernel(s.usr_dir).ok()) active_kernel_missing = s.fstx;
    }
  }
  for (const auto& e : *entries) {
    if (!retained.count(e)) return {"boot entries", false, StrCat("entry for removed state ", e)};
  }
  if (!active_kernel_missing.empty()) {
    return {"boot entries", entries->empty(),
            StrCat("active state ", active, " ships no kernel; ", entries->size(), " entries")};
  }
  if (!entries->count(active)) {
    return {"boot entries", false, StrCat("no entry boots the active state ", active)};
  }
  auto def = DefaultBootEntry(root);
  if (!def.ok()) return Fail("boot entries", def.status());
  if (!*def || (*def)->name.fstx != active) {
    return {
        "boot entries", false,
        StrCat("the default entry boots ", *def ? (*def)->name.fstx : "nothing", ", not ", active)};
  }
  return {"boot entries", true, StrCat(entries->size(), " entries; the default boots ", active)};
}

}  // namespace

std::vector<Check> RunDoctor(const StatusOptions& options) {
  std::vector<Check> checks;
  auto machine = MachineRoot::Open(options.root, Access::kRead);
  if (!machine.ok()) {
    checks.push_back(Fail("machine root", machine.status()));
  } else {
    checks.push_back(JournalCheck(*machine));
    checks.push_back(StoreCheck(*machine));
    checks.push_back(BootCheck(*machine, options.root));
  }
  auto bridge = bridge::Check(options.root, RunDirOf(options));
  if (!bridge.ok()) {
    checks.push_back(Fail("graphics bridge", bridge.status()));
  } else {
    checks.push_back({"graphics bridge", bridge->state == bridge::BridgeStatus::State::kCoherent,
                      bridge->ToString()});
  }
  const nixplane::DaemonHealth health =
      nixplane::CheckDaemon(NixSocketOf(options), options.daemon_timeout);
  checks.push_back(
      {"nix daemon", health.healthy(),
       health.healthy() ? StrCat("handshake ok, Nix ", health.nix_version) : health.ToString()});
  auto drift = nixplane::EtcNixDrift(options.root);
  if (!drift.ok()) {
    checks.push_back(Fail("/etc/nix drift", drift.status()));
  } else if (drift->empty()) {
    checks.push_back({"/etc/nix drift", true, "matches the declared defaults"});
  } else {
    checks.push_back({"/etc/nix drift", false,
                      StrCat(drift->front().ToString(),
                             drift->size() > 1 ? StrCat(" (+", drift->size() - 1, " more)") : "")});
  }
  return checks;
}

std::string FormatChecks(const std::vector<Check>& checks) {
  std::string out;
  int passed = 0;
  for (const auto& c : checks) {
    out += absl::StrFormat("%s  %-16s %s\n", c.pass ? "PASS" : "FAIL", c.name, c.detail);
    passed += c.pass;
  }
  out += StrCat(passed, " passed, ", checks.size() - passed, " failed\n");
  return out;
}

}  // namespace onix::cli

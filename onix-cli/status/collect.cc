#include "onix-cli/status/collect.h"

#include <set>

#include "boot/bls/states.h"
#include "boot/bls/sync.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/transaction/root.h"
#include "nix-integration/daemon/health.h"
#include "nix-integration/opengl_bridge/bridge.h"
#include "nix-integration/seed/seed.h"
#include "onix-cli/etc/etc_drift.h"

namespace onix::cli {
namespace {

std::string UnderRoot(const std::string& root, std::string_view rel) {
  if (root.empty() || root == "/") return StrCat("/", rel);
  return StrCat(root.back() == '/' ? root.substr(0, root.size() - 1) : root, "/", rel);
}

absl::StatusOr<std::string> ActiveFstx(const std::string& root) {
  auto machine = moss::transaction::MachineRoot::Open(root, moss::transaction::Access::kRead);
  if (!machine.ok()) {
    // A directory moss has never installed into is not a machine to report on: saying
    // "active fstx: none" there hid a mistyped --root (issue 22).
    if (absl::IsNotFound(machine.status())) {
      return absl::InvalidArgumentError(
          StrCat(root, " is not a moss root (", machine.status().message(),
                 "); give --root a machine root, a directory with a .moss"));
    }
    return machine.status();
  }
  ONIX_ASSIGN_OR_RETURN(std::optional<std::string> fstx, machine->ActiveFstx());
  return fstx.value_or("none");
}

// Files of /etc that differ from the active state's factory defaults, and the seeded
// /etc/nix files against nix-integration's declared ones; a path counted once.
absl::StatusOr<int> EtcOverrides(const std::string& root) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd root_fd, fs::OpenDir(root));
  ONIX_ASSIGN_OR_RETURN(std::vector<EtcDrift> drift, ComputeEtcDrift(root_fd.get()));
  std::set<std::string> paths;
  for (const auto& d : drift) paths.insert(StrCat("/etc/", d.path));
  auto nix = nixplane::EtcNixDrift(root);
  if (nix.ok()) {
    for (const auto& d : *nix) paths.insert(d.path);
  } else if (!absl::IsNotFound(nix.status())) {
    // NotFound: this state ships no nix-integration defaults, so there is nothing to drift from.
    return nix.status();
  }
  return static_cast<int>(paths.size());
}

}  // namespace

std::string NixSocketOf(const StatusOptions& options) {
  return options.nix_socket.empty() ? UnderRoot(options.root, "nix/var/nix/daemon-socket/socket")
                                    : options.nix_socket;
}

std::string RunDirOf(const StatusOptions& options) {
  return options.run_dir.empty() ? bridge::DefaultRunDir(options.root) : options.run_dir;
}

std::string NixRootOf(const std::string& root) { return UnderRoot(root, "nix"); }

absl::StatusOr<std::optional<boot::BootEntry>> DefaultBootEntry(const std::string& root) {
  const boot::BootConfig config = boot::WithDefaults(boot::DetectBootConfig(root));
  ONIX_ASSIGN_OR_RETURN(std::vector<boot::BootEntry> entries,
                        boot::ListOnixEntries(boot::EntriesPartition(config)));
  for (const auto& e : entries) {
    if (e.name.tries_left != 0 && e.sort_key == "onix-0") return e;
  }
  return std::nullopt;
}

absl::StatusOr<std::set<std::string>> FstxsWithBootEntries(const std::string& root) {
  const boot::BootConfig config = boot::WithDefaults(boot::DetectBootConfig(root));
  ONIX_ASSIGN_OR_RETURN(std::vector<boot::BootEntry> entries,
                        boot::ListOnixEntries(boot::EntriesPartition(config)));
  std::set<std::string> out;
  for (const auto& e : entries) out.insert(e.name.fstx);
  return out;
}

absl::StatusOr<MachineStatus> CollectStatus(const StatusOptions& options) {
  MachineStatus s;
  ONIX_ASSIGN_OR_RETURN(s.active_fstx, ActiveFstx(options.root));

  ONIX_ASSIGN_OR_RETURN(std::optional<boot::BootEntry> entry, DefaultBootEntry(options.root));
  if (!entry) {
    s.boot_entry = "missing";
    if (s.active_fstx != "none") {
      s.warnings.push_back(StrCat("no boot entry starts the active state ", s.active_fstx));
    }
  } else {
    s.boot_entry = entry->file;
    if (entry->name.fstx != s.active_fstx) {
      s.warnings.push_back(StrCat("the default entry boots ", entry->name.fstx,
                                  ", not the active state ", s.active_fstx, " (reboot pending)"));
    }
  }

  // Entries whose boot tries are used up (systemd-boot boot assessment): an update that did
  // not finish booting, which the machine fell back from.
  const boot::BootConfig boot_config = boot::WithDefaults(boot::DetectBootConfig(options.root));
  absl::StatusOr<std::vector<boot::BootEntry>> all_entries =
      boot::ListOnixEntries(boot::EntriesPartition(boot_config));
  if (all_entries.ok()) {
    for (const auto& e : *all_entries) {
      if (e.name.tries_left == 0) {
        s.warnings.push_back(StrCat("boot entry ", e.file, " of state ", e.name.fstx,
                                    " is bad: it used up its boot tries without a good boot"));
      }
    }
  }

  s.nix_daemon = nixplane::CheckDaemon(NixSocketOf(options), options.daemon_timeout).ToString();
  ONIX_ASSIGN_OR_RETURN(s.etc_overrides, EtcOverrides(options.root));
  ONIX_ASSIGN_OR_RETURN(bridge::BridgeStatus bridge,
                        bridge::Check(options.root, RunDirOf(options),
                                      s.active_fstx == "none" ? std::string_view()
                                                              : std::string_view(s.active_fstx)));
  s.opengl = bridge.ToString();
  return s;
}

}  // namespace onix::cli

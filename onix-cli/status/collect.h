// Computes each value of `onix status` from the library that owns it: moss (active state),
// boot/bls (default entry), nix-integration (daemon handshake, /etc/nix drift, bridge).
#pragma once

#include <optional>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "boot/bls/entries.h"
#include "onix-cli/status/report.h"

namespace onix::cli {

struct StatusOptions {
  std::string root = "/";
  std::string nix_socket;  // default: ROOT/nix/var/nix/daemon-socket/socket
  std::string run_dir;     // default: ROOT/run/opengl-driver
  absl::Duration daemon_timeout = absl::Seconds(2);
};

// The daemon socket and bridge dir of `options`, with the defaults applied.
std::string NixSocketOf(const StatusOptions& options);
std::string RunDirOf(const StatusOptions& options);
// ROOT/nix ("/nix" for "/"), where the Nix plane of the root lives.
std::string NixRootOf(const std::string& root);

// The BLS entry systemd-boot starts by default on `root`: ONIX writes `default onix-*` and
// gives the active state's entry the first sort key, and systemd-boot passes over entries
// whose boot counter reached zero. nullopt when no entry qualifies.
absl::StatusOr<std::optional<boot::BootEntry>> DefaultBootEntry(const std::string& root);

// The states that have a BLS entry on `root`'s boot partition.
absl::StatusOr<std::set<std::string>> FstxsWithBootEntries(const std::string& root);

// Collects every value. Read-only: nothing on disk changes, and the daemon handshake changes
// nothing in the store. Fails only when the root itself cannot be read.
absl::StatusOr<MachineStatus> CollectStatus(const StatusOptions& options);

}  // namespace onix::cli

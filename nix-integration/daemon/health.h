// A health check of the Nix daemon over its Unix socket: the worker-protocol handshake
// (magic, version exchange) done in C++ with Boost.Asio under one overall timeout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"

namespace onix::nixplane {

inline constexpr char kDefaultDaemonSocket[] = "/nix/var/nix/daemon-socket/socket";

struct DaemonHealth {
  enum class State {
    kHealthy,        // the daemon answered the handshake (and the probe, when asked)
    kNotRunning,     // the socket file exists but nobody accepts connections on it
    kSocketMissing,  // no socket file at the path
    kTimeout,        // connected, but no complete answer before the deadline
    kProtocolError,  // it answered something that is not the Nix worker protocol
  };
  State state = State::kSocketMissing;
  std::string detail;               // for kProtocolError: what was wrong
  uint64_t daemon_protocol = 0;     // e.g. 0x122 for 1.34 (Nix 2.8)
  std::string nix_version;          // e.g. "2.8.0" (daemons speaking >= 1.33)
  std::optional<bool> probe_valid;  // wopIsValidPath answer for `probe_path`

  // The exact words `onix status` prints: "healthy", "not running", "socket missing",
  // "not responding (timeout)", "protocol error: <detail>".
  std::string ToString() const;
  bool healthy() const { return state == State::kHealthy; }
};

// Connects to `socket_path`, performs the client side of the worker-protocol handshake
// (WORKER_MAGIC_1/2, protocol 1.34, obsolete affinity/reserveSpace words, version string,
// the daemon's stderr stream up to STDERR_LAST), and when `probe_path` is not empty asks
// wopIsValidPath about it. Everything, connecting included, must finish within `timeout`.
// A socket served by a process not running as root (SO_PEERCRED) is a protocol error before
// anything is sent.
// Read-only: it changes nothing in the store. The connection is closed on return, and the
// daemon's per-connection child exits on EOF. Never fails: every outcome is a state.
DaemonHealth CheckDaemon(const std::string& socket_path, absl::Duration timeout,
                         const std::string& probe_path = "");

}  // namespace onix::nixplane

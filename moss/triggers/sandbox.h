// Running trigger commands isolated: a child process in new user + mount (+ network)
// namespaces, so a trigger sees only what it is meant to change.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace onix::moss::triggers {

struct SandboxSpec {
  // Host path of the tree mounted read-write at /usr (the staging tree).
  std::string usr_dir;
  // An empty host directory used as the sandbox's mount point (ROOT/.moss/root/sandbox). It
  // gets a private read-only tmpfs holding /usr, the merged-usr links and a private /tmp;
  // nothing of the host is visible.
  std::string scratch_dir;
  // A new network namespace (only loopback, down): no network.
  bool isolate_network = true;
};

// Runs `argv` (argv[0] absolute, inside the sandbox) with PATH=/usr/bin:/usr/sbin and
// nothing else of our environment. Returns OK on exit status 0, otherwise Aborted naming the
// command, the status and the last lines of its output. `output` (optional) receives
// stdout+stderr. The host is never modified except through usr_dir.
absl::Status RunSandboxed(const SandboxSpec& spec, const std::vector<std::string>& argv,
                          std::string* output = nullptr);

// Runs `argv` chrooted into the machine root `root_dir` (user + mount namespace; the
// network is kept: system triggers may talk to services). Same result convention.
absl::Status RunInRoot(const std::string& root_dir, const std::vector<std::string>& argv,
                       std::string* output = nullptr);

}  // namespace onix::moss::triggers

// The build sandbox: a process in fresh user (when unprivileged), mount, PID, network
// (loopback only), IPC and UTS namespaces, on a new root the caller describes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace onix::boulder {

// A host path made visible inside the sandbox.
struct BindMount {
  std::string source;  // host path (directory or file)
  std::string target;  // absolute path inside the sandbox
  bool writable = false;
};

struct SandboxConfig {
  // What the new root holds besides the fixed skeleton (/dev minimal, /proc, private /tmp,
  // /etc with passwd/group/hosts). Read-only unless `writable`.
  std::vector<BindMount> binds;
  // Symlinks created in the root: {link path, target}, e.g. {"/bin", "usr/bin"}.
  std::vector<std::pair<std::string, std::string>> symlinks;
  std::vector<std::string> argv;  // argv[0] is an absolute path inside the sandbox
  std::vector<std::string> env;   // the complete environment, KEY=VALUE
  std::string cwd = "/";
  std::string hostname = "boulder";
  // Resource limits (0: leave the inherited one).
  uint64_t max_file_size = 16ull << 30;
  uint64_t max_open_files = 4096;
  uint64_t max_cpu_seconds = 0;
  // Host scratch directory for the root's mount point (default $TMPDIR or /tmp).
  std::string scratch_dir;
  // When false, stdin is /dev/null; `boulder chroot` passes the terminal through.
  bool inherit_stdin = false;
};

// Runs cfg.argv in the sandbox and waits for it. Returns its exit code (128+signal when
// killed). Setup failures (a bind source missing, namespaces refused) are errors naming the
// step. Inside: uid 0 of its own user namespace (or real root with every capability
// dropped), PR_SET_NO_NEW_PRIVS, umask 022, no route but loopback, "/" read-only.
// Nothing stays mounted on the host afterwards: every mount lives in the dead namespace.
// Must be called from a single-threaded process (it forks and the child allocates).
absl::StatusOr<int> RunSandboxed(const SandboxConfig& cfg);

}  // namespace onix::boulder

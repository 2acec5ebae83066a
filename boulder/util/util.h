// Small host-side helpers boulder shares: whole-file reads/writes by path and running a
// host command (tar, objcopy, apt-get) with its output captured.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace onix::boulder {

// Reads the regular file at `path` (absolute or cwd-relative); errors name the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes `data` to `path` (created or truncated) with `mode`.
absl::Status WriteFile(const std::string& path, std::string_view data, mode_t mode = 0644);

// mkdir -p: creates `path` and missing parents with `mode`.
absl::Status MakeDirs(const std::string& path, mode_t mode = 0755);

// Removes `path` recursively (missing is fine).
absl::Status RemoveTree(const std::string& path);

// The result of a finished host command.
struct CommandResult {
  int exit_code = 0;   // 128+signal when killed by a signal
  std::string output;  // stdout and stderr, interleaved
};

// Runs argv[0] (looked up in PATH) with `argv` in `cwd` (empty: the current directory),
// waits, and returns its exit code and combined output. Fails only when it cannot start.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const std::string& cwd = "");

// Like RunCommand, but a non-zero exit is an error naming the command and its output.
absl::StatusOr<std::string> RunCommandOk(const std::vector<std::string>& argv,
                                         const std::string& cwd = "");

// "a b 'c d'": argv as a shell would show it, for messages.
std::string ShellJoin(const std::vector<std::string>& argv);

}  // namespace onix::boulder

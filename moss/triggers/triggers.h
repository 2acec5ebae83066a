// Package triggers: small declarative files under /usr/share/moss/triggers/{tx.d,sys.d}/
// that name path globs and a command. Transaction triggers (tx.d) run against the staging
// tree in a sandbox before the switch; system triggers (sys.d) run in the machine root after.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace onix::moss::triggers {

// One trigger file, "<name>.trigger":
//
//   # Regenerate the dynamic linker cache when a library changes.
//   name = ldconfig
//   match = /usr/lib/*.so* /usr/lib64/*.so*
//   run = /usr/bin/ldconfig -X
//   order = 10
//
// `match` is one or more whitespace-separated fnmatch(3) globs over absolute paths ("*"
// also crosses "/"); `run` is an argv split on whitespace (no shell, no quoting), its first
// word an absolute path inside the machine; `order` (default 50) sorts triggers, then name.
struct Trigger {
  std::string name;
  std::vector<std::string> match;
  std::vector<std::string> run;
  int order = 50;
  std::string file;  // where it was defined, for messages
};

// Parses one trigger file; InvalidArgument naming `file`, the line and the problem.
absl::StatusOr<Trigger> ParseTrigger(std::string_view text, std::string_view file);

inline constexpr std::string_view kTxDir = "share/moss/triggers/tx.d";
inline constexpr std::string_view kSysDir = "share/moss/triggers/sys.d";

// Loads every "*.trigger" in `subdir` (kTxDir or kSysDir, relative to a /usr tree open as
// `usr_dirfd`), sorted by (order, name). A missing directory means no triggers.
absl::StatusOr<std::vector<Trigger>> LoadTriggers(int usr_dirfd, std::string_view subdir);

// True when any of `changed` (paths relative to /usr) matches one of the trigger's globs.
bool Fires(const Trigger& trigger, const std::vector<std::string_view>& changed);

}  // namespace onix::moss::triggers

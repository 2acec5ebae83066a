// How a `moss` subcommand plugs into the binary: one file per command, each with an
// Add*Command function listed in the static table in commands.cc (ostree's commands[]).
#pragma once

#include <functional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace onix::moss_cli {

// Options every command understands.
struct GlobalOptions {
  std::string root = "/";  // -D/--root: the machine root every path is relative to
  bool json = false;       // --json on listings
  bool yes = false;        // --yes: skip confirmations
  bool dry_run = false;    // --dry-run on mutating commands
};

// Filled in by the chosen subcommand's callback; run by main after parsing.
using Action = std::function<absl::Status()>;

struct Context {
  GlobalOptions global;
  Action action;
};

// Signature of a command registration: adds a subcommand (and its options) to `app` and
// makes its callback set `ctx.action`.
using AddCommandFn = void (*)(CLI::App& app, Context& ctx);

struct CommandEntry {
  const char* name;
  AddCommandFn add;
};

// The static table (commands.cc).
extern const CommandEntry kCommands[];
extern const size_t kCommandCount;

// Parses argv and runs the chosen command; returns the process exit code.
int RunMain(int argc, char** argv);

}  // namespace onix::moss_cli

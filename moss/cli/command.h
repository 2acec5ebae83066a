// How a `moss` subcommand plugs into the binary: one file per command, each with an
// Add*Command function listed in the static table in commands.cc (ostree's commands[]).
#pragma once

#include <functional>
#include <set>
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
  // The commands that may run under --dry-run: those that honour it (print what they would do
  // and change nothing) and those that never change anything. Every other command refuses
  // --dry-run with exit 2 before it runs, so a dry run can never quietly become a real one.
  std::set<const CLI::App*> dry_run_safe;
};

// Marks `cmd` as safe under --dry-run (see Context::dry_run_safe); returns it for chaining.
inline CLI::App* DryRunSafe(Context& ctx, CLI::App* cmd) {
  ctx.dry_run_safe.insert(cmd);
  return cmd;
}

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

// How an `onix` subcommand plugs into the binary: one file per command under commands/, each
// with an Add*Command function listed in the static table in commands.cc.
#pragma once

#include <functional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace onix::cli {

struct GlobalOptions {
  std::string root = "/";  // --root: the machine root every path is relative to
  bool json = false;       // --json on every listing
  bool yes = false;
  bool dry_run = false;  // the global --dry-run; gc, rollback and update honour it
};

using Action = std::function<absl::Status()>;

struct Context {
  GlobalOptions global;
  Action action;
};

using AddCommandFn = void (*)(CLI::App& app, Context& ctx);

struct CommandEntry {
  const char* name;
  AddCommandFn add;
};

extern const CommandEntry kCommands[];
extern const size_t kCommandCount;

// Builds the whole command tree (also used to generate completions and man pages).
void BuildApp(CLI::App& app, Context& ctx);

// Parses argv and runs the chosen command; returns the process exit code.
int RunMain(int argc, char** argv);

}  // namespace onix::cli

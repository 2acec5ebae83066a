// Declarations of every onix subcommand registration (one per file in commands/).
#pragma once

#include "onix-cli/command.h"

namespace onix::cli {

void AddEtcCommand(CLI::App& app, Context& ctx);

}  // namespace onix::cli

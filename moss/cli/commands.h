// Declarations of every moss subcommand registration (one per file in commands/).
#pragma once

#include "moss/cli/command.h"

namespace onix::moss_cli {

void AddVersionCommand(CLI::App& app, Context& ctx);
void AddInspectCommand(CLI::App& app, Context& ctx);
void AddExtractCommand(CLI::App& app, Context& ctx);

}  // namespace onix::moss_cli

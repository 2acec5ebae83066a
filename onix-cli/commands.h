// Declarations of every onix subcommand registration (one per file in commands/).
#pragma once

#include "onix-cli/command.h"

namespace onix::cli {

void AddEtcCommand(CLI::App& app, Context& ctx);
void AddStatusCommand(CLI::App& app, Context& ctx);
void AddRollbackCommand(CLI::App& app, Context& ctx);
void AddHistoryCommand(CLI::App& app, Context& ctx);
void AddDiffCommand(CLI::App& app, Context& ctx);
void AddGcCommand(CLI::App& app, Context& ctx);
void AddDoctorCommand(CLI::App& app, Context& ctx);
void AddUpdateCommand(CLI::App& app, Context& ctx);

}  // namespace onix::cli

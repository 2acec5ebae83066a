// Declarations of every moss subcommand registration (one per file in commands/).
#pragma once

#include "moss/cli/command.h"

namespace onix::moss_cli {

void AddVersionCommand(CLI::App& app, Context& ctx);
// Transactions and states (issue 4).
void AddInstallCommand(CLI::App& app, Context& ctx);
void AddRemoveCommand(CLI::App& app, Context& ctx);
void AddListCommand(CLI::App& app, Context& ctx);
void AddInfoCommand(CLI::App& app, Context& ctx);
void AddSearchFileCommand(CLI::App& app, Context& ctx);
void AddStateCommand(CLI::App& app, Context& ctx);
void AddBootCommand(CLI::App& app, Context& ctx);
void AddInspectCommand(CLI::App& app, Context& ctx);
void AddExtractCommand(CLI::App& app, Context& ctx);
// Repositories and resolution (issue 6).
void AddIndexCommand(CLI::App& app, Context& ctx);
void AddKeygenCommand(CLI::App& app, Context& ctx);
void AddRepoCommand(CLI::App& app, Context& ctx);
void AddCacheCommand(CLI::App& app, Context& ctx);
void AddSearchCommand(CLI::App& app, Context& ctx);
void AddSyncCommand(CLI::App& app, Context& ctx);

}  // namespace onix::moss_cli

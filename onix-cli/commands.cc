// The table of onix subcommands; see command.h.
#include "onix-cli/commands.h"

namespace onix::cli {

const CommandEntry kCommands[] = {
    {"status", &AddStatusCommand}, {"rollback", &AddRollbackCommand},
    {"update", &AddUpdateCommand}, {"history", &AddHistoryCommand},
    {"diff", &AddDiffCommand},     {"gc", &AddGcCommand},
    {"doctor", &AddDoctorCommand}, {"etc", &AddEtcCommand},
};
const size_t kCommandCount = sizeof(kCommands) / sizeof(kCommands[0]);

}  // namespace onix::cli

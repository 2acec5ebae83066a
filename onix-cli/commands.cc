// The table of onix subcommands; see command.h.
#include "onix-cli/commands.h"

namespace onix::cli {

const CommandEntry kCommands[] = {
    {"etc", &AddEtcCommand},
};
const size_t kCommandCount = sizeof(kCommands) / sizeof(kCommands[0]);

}  // namespace onix::cli

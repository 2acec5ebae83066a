// The table of moss subcommands. Adding a command: write commands/<name>.cc with an
// Add<Name>Command function, declare it in commands.h, list it in kCommands, add its library to
// the :commands deps in BUILD.bazel.
#include "moss/cli/commands.h"

namespace onix::moss_cli {

const CommandEntry kCommands[] = {
    {"version", &AddVersionCommand}, {"install", &AddInstallCommand},
    {"remove", &AddRemoveCommand},   {"list", &AddListCommand},
    {"info", &AddInfoCommand},       {"search-file", &AddSearchFileCommand},
    {"state", &AddStateCommand},     {"boot", &AddBootCommand},
    {"inspect", &AddInspectCommand}, {"extract", &AddExtractCommand},
    {"index", &AddIndexCommand},     {"keygen", &AddKeygenCommand},
    {"repo", &AddRepoCommand},       {"cache", &AddCacheCommand},
    {"search", &AddSearchCommand},   {"sync", &AddSyncCommand},
};
const size_t kCommandCount = sizeof(kCommands) / sizeof(kCommands[0]);

}  // namespace onix::moss_cli

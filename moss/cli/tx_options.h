// Transaction options for moss commands: the engine's progress lines for people, and the boot
// hook, so every transaction, activation and prune from the command line resyncs /boot.
#pragma once

#include "moss/cli/command.h"
#include "moss/transaction/transaction.h"

namespace onix::moss_cli {

moss::transaction::Options TransactionOptions(const GlobalOptions& global);

}  // namespace onix::moss_cli

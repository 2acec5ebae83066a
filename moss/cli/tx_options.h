// Transaction options for moss commands: the engine's progress lines for people, and the boot
// hook, so every transaction, activation and prune from the command line resyncs /boot.
#pragma once

#include "moss/cli/command.h"
#include "moss/solver/solver.h"
#include "moss/transaction/transaction.h"

namespace onix::moss_cli {

moss::transaction::Options TransactionOptions(const GlobalOptions& global);

// Runs a request through the solver and the repositories (moss/repo RunByName) with those
// options; `--dry-run` prints the exact transaction only.
absl::Status RunSolverRequest(const GlobalOptions& global, const moss::solver::Request& request);

}  // namespace onix::moss_cli

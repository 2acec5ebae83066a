// Transaction options for moss commands: the engine's progress lines for people, and the boot
// hook, so every transaction, activation and prune from the command line resyncs /boot.
#pragma once

#include <string>
#include <string_view>

#include "moss/cli/command.h"
#include "moss/repo/driver.h"
#include "moss/solver/solver.h"
#include "moss/transaction/transaction.h"

namespace onix::moss_cli {

moss::transaction::Options TransactionOptions(const GlobalOptions& global);

// Runs a request through the solver and the repositories (moss/repo RunByName) with those
// options; `--dry-run` prints the exact transaction only.
// Prints the result (PrintByName).
absl::Status RunSolverRequest(const GlobalOptions& global, const moss::solver::Request& request,
                              const std::string& message = "");

// The one printer of transaction results, for people or (--json) as one JSON document on
// stdout; warnings go to stderr in text mode. `verb` is "install" or "remove" ("would
// install:" in a dry run).
void PrintTransactionResult(const GlobalOptions& global, std::string_view verb,
                            const moss::transaction::Result& result);
// The same for a by-name run: its exact transaction, then the state it made.
void PrintByName(const GlobalOptions& global, const moss::repo::ByNameResult& ran);

}  // namespace onix::moss_cli

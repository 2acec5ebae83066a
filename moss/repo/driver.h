// The by-name path of moss: request -> resolution against the root's repositories and
// installed selection -> printed transaction -> verified downloads -> transaction::Apply.
// `moss sync` uses it; `moss install NAME` / `moss remove NAME --autoremove` call it too.
#pragma once

#include <cstdio>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "moss/repo/fetch.h"
#include "moss/solver/solver.h"
#include "moss/transaction/root.h"
#include "moss/transaction/selection.h"
#include "moss/transaction/transaction.h"

namespace onix::moss::repo {

// A resolved request as the transaction engine takes it. `selection` is the full next
// selection: installed packages that stay (stone_path empty: the root knows them) and the
// repository packages to add (stone_path empty until FetchSelection fills it).
struct ResolvedSelection {
  solver::Plan plan;
  transaction::Selection selection;
};

// The root's installed packages (active state) as the solver's installed repository.
absl::StatusOr<std::vector<solver::InstalledPackage>> InstalledForSolver(
    transaction::MachineRoot& root);

// Resolves `request` against the enabled repositories of `root_path` and `installed`. A plan
// with problems is returned as is (selection empty); nothing is fetched or changed.
absl::StatusOr<ResolvedSelection> ResolveSelection(
    const std::string& root_path, const std::vector<solver::InstalledPackage>& installed,
    const solver::Request& request);

// Downloads (and verifies) the stones the plan adds and points their selection entries at
// the cached files, reading each stone's full metadata from the verified file.
absl::Status FetchSelection(const std::string& root_path, ResolvedSelection& resolved,
                            Progress* progress, int parallel = 4);

struct ByNameOptions {
  bool dry_run = false;
  // Download progress and, with a null apply.log, the engine's progress lines: never the
  // command's result, so stdout can carry one JSON document.
  FILE* progress = stderr;
  int parallel = 4;
  // Passed to transaction::Apply (boot hook, history message, progress log); dry_run is
  // taken from above.
  transaction::Options apply;
};

// What a by-name request did: the exact transaction, and the engine's result when it ran.
struct ByNameResult {
  solver::Plan plan;
  // Set when the plan was applied: not a dry run and not an empty plan.
  std::optional<transaction::Result> applied;
};

// Runs the whole by-name path and returns the plan and result; prints nothing but progress
// (to options.progress): the command prints the result (moss/cli PrintByName, onix update).
// Unsatisfiable requests return FailedPrecondition carrying the problems in plain words;
// nothing is changed. With dry_run nothing is fetched or written (the root is opened
// read-only; a root without /.moss counts as empty).
absl::StatusOr<ByNameResult> RunByName(const std::string& root_path, const solver::Request& request,
                                       const ByNameOptions& options);

}  // namespace onix::moss::repo

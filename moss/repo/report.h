// Text for people from solver results: the exact transaction a plan would run (what
// `--dry-run` prints) and unsatisfiable requests in plain words.
#pragma once

#include <cstdint>
#include <string>

#include "moss/solver/solver.h"

namespace onix::moss::repo {

// "1.5 KiB", "3.2 MiB".
std::string HumanSize(uint64_t bytes);

// Sections "install:", "upgrade:", "downgrade:", "remove:" (only those with entries), one
// package per line with version transitions and repository, then
// "download size: <human> (<n> stones)". "nothing to do" for an empty plan.
std::string FormatPlan(const solver::Plan& plan);

// "cannot satisfy the request:" then each problem as "  - <description>" with its solutions
// as "      solution: <text>".
std::string FormatProblems(const solver::Plan& plan);

}  // namespace onix::moss::repo

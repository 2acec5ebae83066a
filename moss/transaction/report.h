// How moss commands show transactions and states to people (text) and programs (--json).
#pragma once

#include <string>
#include <string_view>

#include "moss/transaction/maintenance.h"
#include "moss/transaction/root.h"
#include "moss/transaction/transaction.h"
#include "nlohmann/json.hpp"

namespace onix::moss::transaction {

// "+ foo 1.2-3", "- bar 1.0-1", "~ baz 1-1 -> 2-1" lines, then a files summary line.
std::string FormatPlan(const Plan& plan);
nlohmann::json PlanJson(const Plan& plan);
nlohmann::json ResultJson(const Result& result);
nlohmann::json StateJson(const RetainedState& state);
nlohmann::json RemoveJson(const RemoveResult& result);
nlohmann::json VerifyJson(const VerifyReport& report);

// "2026-11-24 13:57:01 UTC".
std::string FormatTime(int64_t unix_seconds);

// True when `yes`, when stdin is not a terminal (scripts), or when the person answers y.
bool Confirm(bool yes, std::string_view question);

// Opens the root for a command: queries and dry runs read (no lock, nothing created, unless
// the root has no .moss yet and a dry run needs one to plan against); mutations take the
// lock, waiting for another moss with a message. A query on a root with a journal notes on
// stderr that a transaction is in flight or was interrupted (it cannot reconcile unlocked).
absl::StatusOr<MachineRoot> OpenForCommand(const std::string& root, bool mutating, bool dry_run);

// Options for a command: progress lines go to stderr unless `json` (stdout stays parseable).
Options CommandOptions(bool dry_run, bool json);

}  // namespace onix::moss::transaction

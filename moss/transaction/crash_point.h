// Crash-point injection for the crash-safety proof (issue 5): compiled in, inert unless the
// environment variable MOSS_CRASH_AT (or MOSS_FAIL_AT, MOSS_PAUSE_AT) names the point.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace onix::moss::transaction {

// The phases of the transaction ladder as the journal names them (JournalRecord::phase and
// ::done), in order. The commit point is the effect of "usr-exchanged".
inline constexpr std::string_view kPhases[] = {
    "candidate-prepared",  "tx-triggers-done",  "usr-exchanged",
    "root-links",          "system-triggers",   "previous-archived",
    "boot-entries-synced", "history-committed", "complete",
};
inline constexpr size_t kCommitPhase = 2;  // kPhases[kCommitPhase] == "usr-exchanged"

// Every crash point of install, remove (of packages) and activate, in the order the ladder
// passes them. "<x>-intent" comes after the phase's intent record is written and before its
// effect; the phase name comes after the effect, before the done record. "usr-renamed" is right
// after renameat2, before the database marks the state committed. Points up to and including
// "usr-exchange-intent" roll back; from "usr-renamed" on, forward.
inline constexpr std::string_view kCrashPoints[] = {
    "candidate-intent",
    "candidate-prepared",
    "tx-triggers-intent",
    "tx-triggers-done",
    "usr-exchange-intent",
    "usr-renamed",
    "usr-exchanged",
    "root-links-intent",
    "root-links-linked",
    "root-links",
    "system-triggers-intent",
    "system-triggers",
    "previous-archive-intent",
    "previous-archived",
    "boot-sync-intent",
    "boot-entries-synced",
    "history-intent",
    "history-committed",
    "complete",
};
inline constexpr size_t kFirstForwardCrashPoint = 5;  // kCrashPoints[5] == "usr-renamed"

// The points of removing states (state remove / prune): the journal written, the tree renamed
// to .trash-<fstx> (the commit point of a removal), the records dropped, the tree deleted,
// garbage collected, before the boot hook.
inline constexpr std::string_view kRemoveCrashPoints[] = {
    "remove-intent", "remove-trashed", "remove-forgotten", "remove-deleted", "remove-collected"};

// The points of the rollback ladder (ladder.h RollBack), passed by a failing transaction and
// by recovery rolling one back. "rollback-exchanged" only when /usr held the candidate.
inline constexpr std::string_view kRollbackCrashPoints[] = {
    "rollback-exchanged", "rollback-candidate-gone", "rollback-row-dropped", "rollback-collected",
    "rollback-boot-synced"};

// SIGKILLs the calling process when $MOSS_CRASH_AT equals `name`; stops it (SIGSTOP, for a
// test to act while it is mid-transaction) when $MOSS_PAUSE_AT does; otherwise nothing.
// SIGKILL (not abort) because a real power cut runs no handlers and flushes nothing.
void CrashPoint(std::string_view name);

// An injected failure: Internal("injected failure at <name>") when $MOSS_FAIL_AT equals
// `name`, else OK. Lets tests drive the rollback ladder from any step before the commit point.
absl::Status FailPoint(std::string_view name);

}  // namespace onix::moss::transaction

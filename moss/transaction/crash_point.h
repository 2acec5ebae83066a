// Crash-point injection for the crash-safety proof (issue 5): compiled in, inert unless the
// environment variable MOSS_CRASH_AT names the point.
#pragma once

#include <string_view>

namespace onix::moss::transaction {

// The named points of the transaction ladder, in order (see docs/moss.md).
inline constexpr std::string_view kCrashPoints[] = {
    "candidate-prepared", "tx-triggers-done", "usr-exchange-intent", "usr-exchanged",
    "root-links",         "system-triggers",  "previous-archived",   "boot-entries-synced",
    "history-committed",  "complete",
};

// The points of removing states (state remove / prune): the tree renamed to .trash-<fstx>
// (the commit point of a removal), the records dropped, the tree deleted, garbage collected.
inline constexpr std::string_view kRemoveCrashPoints[] = {"remove-trashed", "remove-forgotten",
                                                          "remove-deleted", "remove-collected"};

// SIGKILLs the calling process when $MOSS_CRASH_AT equals `name`; otherwise does nothing.
// SIGKILL (not abort) because a real power cut runs no handlers and flushes nothing.
void CrashPoint(std::string_view name);

}  // namespace onix::moss::transaction

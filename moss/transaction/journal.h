// The transition journal (ROOT/.moss/journal): one small checksummed record describing the
// transaction in flight, so recovery knows what was being attempted and refuses a journal
// that is corrupt, of an unknown version or from another root.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace onix::moss::transaction {

// Version 2 added the done phase, the previous tree's token and the new state's number.
inline constexpr uint32_t kJournalVersion = 2;

// One record is both the *done* record of the phase before and the *intent* record of the
// phase after: it is written after `done`'s effect is durable and before `phase`'s effect
// begins (docs/crash-safety.md). All records of one transaction carry the same trees.
struct JournalRecord {
  std::string root_id;    // ROOT/.moss/root-id of the root it belongs to
  std::string operation;  // "install" (any Apply), "activate" or "remove" (states)
  std::string phase;      // intent: the phase whose effect may be under way (kPhases)
  std::string from_fstx;  // active before (empty on a first install)
  std::string to_fstx;    // the state being switched to (removal: the states, comma-separated)
  std::string to_token;   // the token in that tree's .fstx
  std::string done = {};  // the last phase whose effect is durable ("" = none yet)
  std::string from_token = {};  // the token in the previous tree's .fstx ("" = none)
  uint64_t state_number = 0;    // the new state's database row (0: activation, removal)

  friend bool operator==(const JournalRecord&, const JournalRecord&) = default;
};

// Encodes "MOSSJRNL" | u32 version | u64 payload length | 32-byte SHA-256 of the payload |
// payload (JSON), little-endian.
std::string EncodeJournal(const JournalRecord& record);
// DataLoss for a bad magic, length or checksum, or a field moss never writes (an unknown
// operation or phase, a state id that is not "N-xxxx": it could be a path), naming the field;
// FailedPrecondition for an unknown version.
absl::StatusOr<JournalRecord> DecodeJournal(std::string_view bytes);

// How much a journal write waits for the disk.
enum class JournalSync {
  // The record's data is fdatasynced before it is renamed over the old one, so it is never
  // seen torn, but the rename itself may be lost by a crash: recovery then reads the record
  // before it. Enough for every record after a transaction's first: each carries the same
  // trees and recovery redoes idempotent phases from `done`, so one phase behind is safe.
  kAtomic,
  // kAtomic plus an fsync of .moss: the record survives a crash (a transaction's first
  // record, so that its trees can be named by token from the first effect on).
  kDurable,
};

// Replaces ROOT/.moss/journal atomically (temp file .moss/journal.tmp, fdatasync, rename; see
// JournalSync). A crash leaves the previous record or the new one; a reader never sees a
// part, and the temp file is never read.
absl::Status WriteJournal(int moss_fd, const JournalRecord& record,
                          JournalSync sync = JournalSync::kDurable);
// nullopt when there is no journal; errors name the file and what is wrong with it
// (DataLoss: corrupt; FailedPrecondition: unknown version; others: unreadable).
absl::StatusOr<std::optional<JournalRecord>> ReadJournal(int moss_fd);
// Removes the journal (missing is OK). kDurable also fsyncs .moss; without it a crash may
// bring the record back, which recovery recognises as a finished transaction.
absl::Status ClearJournal(int moss_fd, JournalSync sync = JournalSync::kDurable);

// ROOT/.moss/root-id: a random id created once, so a journal copied from another root is
// recognised. Creates it when missing.
absl::StatusOr<std::string> RootId(int moss_fd);

}  // namespace onix::moss::transaction

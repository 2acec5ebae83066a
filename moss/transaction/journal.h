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

inline constexpr uint32_t kJournalVersion = 1;

struct JournalRecord {
  std::string root_id;    // ROOT/.moss/root-id of the root it belongs to
  std::string operation;  // "install" (any Apply) or "activate"
  std::string phase;      // the last phase started: a kCrashPoints name or "started"
  std::string from_fstx;  // active before (empty on a first install)
  std::string to_fstx;    // the state being switched to
  std::string to_token;   // the token in that tree's .fstx

  friend bool operator==(const JournalRecord&, const JournalRecord&) = default;
};

// Encodes "MOSSJRNL" | u32 version | u64 payload length | 32-byte SHA-256 of the payload |
// payload (JSON), little-endian.
std::string EncodeJournal(const JournalRecord& record);
// DataLoss for a bad magic, length or checksum; FailedPrecondition for an unknown version.
absl::StatusOr<JournalRecord> DecodeJournal(std::string_view bytes);

// Replaces ROOT/.moss/journal atomically and durably (temp file, fsync, rename, fsync of
// .moss). A crash leaves the previous record or the new one; a reader never sees a part.
absl::Status WriteJournal(int moss_fd, const JournalRecord& record);
// nullopt when there is no journal; errors name the file and what is wrong with it.
absl::StatusOr<std::optional<JournalRecord>> ReadJournal(int moss_fd);
// Removes the journal durably (missing is OK).
absl::Status ClearJournal(int moss_fd);

// ROOT/.moss/root-id: a random id created once, so a journal copied from another root is
// recognised. Creates it when missing.
absl::StatusOr<std::string> RootId(int moss_fd);

}  // namespace onix::moss::transaction

#include "moss/transaction/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "moss/base/fs_at.h"
#include "moss/base/json.h"
#include "moss/base/sha256.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/state/fstx.h"
#include "moss/state/tree.h"
#include "moss/transaction/crash_point.h"
#include "nlohmann/json.hpp"

namespace onix::moss::transaction {
namespace {

constexpr char kMagic[8] = {'M', 'O', 'S', 'S', 'J', 'R', 'N', 'L'};
constexpr size_t kHeader = 8 + 4 + 8 + 32;
constexpr uint64_t kMaxPayload = 1 << 20;
constexpr char kTempName[] = "journal.tmp";

template <typename T>
void PutLe(std::string& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

template <typename T>
T GetLe(std::string_view in, size_t at) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    v |= static_cast<T>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  }
  return v;
}

// The phases a journal may name: the ladder's, plus a removal's commit phase.
bool KnownPhase(std::string_view phase) {
  if (phase == "remove-trashed") return true;
  for (std::string_view p : kPhases) {
    if (p == phase) return true;
  }
  return false;
}

// A checksum only proves that the bytes are whole, not that moss wrote them: every field
// recovery acts on must be one moss could have written, so that no field leads recovery
// outside the state trees (a state id is a directory name under .moss/root).
absl::Status ValidateRecord(const JournalRecord& r) {
  auto bad = [](std::string_view field, std::string_view value, std::string_view why) {
    return DataLoss(StrCat("journal field '", field, "' is '", EscapeControl(value.substr(0, 64)),
                           value.size() > 64 ? "..." : "", "': ", EscapeControl(why)));
  };
  if (r.operation != "install" && r.operation != "activate" && r.operation != "remove") {
    return bad("operation", r.operation, "not an operation moss journals");
  }
  if (!KnownPhase(r.phase)) return bad("phase", r.phase, "not a phase moss journals");
  if (!r.done.empty() && !KnownPhase(r.done)) {
    return bad("done", r.done, "not a phase moss journals");
  }
  if (!r.from_fstx.empty()) {
    absl::Status s = state::Fstx::ParseExact(r.from_fstx).status();
    if (!s.ok()) return bad("from", r.from_fstx, std::string(s.message()));
  }
  // A removal names its states comma-separated; every other operation names one.
  std::string_view to = r.to_fstx;
  for (;;) {
    const size_t comma = r.operation == "remove" ? to.find(',') : std::string_view::npos;
    absl::Status s = state::Fstx::ParseExact(to.substr(0, comma)).status();
    if (!s.ok()) return bad("to", r.to_fstx, std::string(s.message()));
    if (comma == std::string_view::npos) return absl::OkStatus();
    to = to.substr(comma + 1);
  }
}

}  // namespace

std::string EncodeJournal(const JournalRecord& r) {
  const nlohmann::json j = {
      {"root_id", r.root_id}, {"operation", r.operation}, {"phase", r.phase},
      {"done", r.done},       {"from", r.from_fstx},      {"from_token", r.from_token},
      {"to", r.to_fstx},      {"to_token", r.to_token},   {"state_number", r.state_number}};
  const std::string payload = DumpJson(j);
  std::string out(kMagic, sizeof(kMagic));
  PutLe<uint32_t>(out, kJournalVersion);
  PutLe<uint64_t>(out, payload.size());
  const Digest d = Sha256Of(payload);
  out.append(reinterpret_cast<const char*>(d.bytes.data()), d.bytes.size());
  out += payload;
  return out;
}

absl::StatusOr<JournalRecord> DecodeJournal(std::string_view bytes) {
  if (bytes.size() < kHeader || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return DataLoss("not a moss journal (bad magic or truncated header)");
  }
  const uint32_t version = GetLe<uint32_t>(bytes, 8);
  if (version != kJournalVersion) {
    return FailedPrecondition(StrCat("journal version ", version, " is unknown to this moss (it",
                                     " knows ", kJournalVersion, "); use the moss that wrote it"));
  }
  const uint64_t length = GetLe<uint64_t>(bytes, 12);
  if (length > kMaxPayload || bytes.size() != kHeader + length) {
    return DataLoss("journal length does not match the file");
  }
  const std::string_view payload = bytes.substr(kHeader);
  const Digest got = Sha256Of(payload);
  if (std::memcmp(got.bytes.data(), bytes.data() + 20, 32) != 0) {
    return DataLoss("journal checksum does not match its payload");
  }
  try {
    const nlohmann::json j = nlohmann::json::parse(payload);
    JournalRecord r{j.at("root_id").get<std::string>(), j.at("operation").get<std::string>(),
                    j.at("phase").get<std::string>(),   j.at("from").get<std::string>(),
                    j.at("to").get<std::string>(),      j.at("to_token").get<std::string>()};
    r.done = j.at("done").get<std::string>();
    r.from_token = j.at("from_token").get<std::string>();
    r.state_number = j.at("state_number").get<uint64_t>();
    ONIX_RETURN_IF_ERROR(ValidateRecord(r));
    return r;
  } catch (const nlohmann::json::exception& e) {
    return DataLoss(StrCat("journal payload: ", e.what()));
  }
}

absl::Status WriteJournal(int moss_fd, const JournalRecord& record, JournalSync sync) {
  const std::string what = "writing .moss/journal";
  // A fixed temp name: a leftover from a crash is truncated by the next write and never read.
  {
    absl::StatusOr<UniqueFd> fd =
        fs::OpenAt(moss_fd, kTempName, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (!fd.ok()) return Annotate(fd.status(), what);
    ONIX_RETURN_IF_ERROR_CTX(fs::WriteAll(fd->get(), EncodeJournal(record), kTempName), what);
    if (::fdatasync(fd->get()) != 0) {
      const int err = errno;
      return Annotate(ErrnoError(err, "fdatasync(.moss/journal.tmp)"), what);
    }
  }
  ONIX_RETURN_IF_ERROR_CTX(fs::RenameAt(moss_fd, kTempName, moss_fd, "journal"), what);
  if (sync == JournalSync::kDurable) ONIX_RETURN_IF_ERROR_CTX(fs::FsyncDirAt(moss_fd), what);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<JournalRecord>> ReadJournal(int moss_fd) {
  absl::StatusOr<std::string> bytes = fs::ReadFileAt(moss_fd, "journal", kHeader + kMaxPayload);
  if (absl::IsNotFound(bytes.status())) return std::optional<JournalRecord>();
  if (!bytes.ok()) return Annotate(bytes.status(), "reading .moss/journal");
  absl::StatusOr<JournalRecord> r = DecodeJournal(*bytes);
  if (!r.ok()) return Annotate(r.status(), "reading .moss/journal");
  return std::optional<JournalRecord>(*r);
}

absl::Status ClearJournal(int moss_fd, JournalSync sync) {
  absl::Status s = fs::UnlinkAt(moss_fd, "journal");
  if (absl::IsNotFound(s)) return absl::OkStatus();
  ONIX_RETURN_IF_ERROR_CTX(s, "removing .moss/journal");
  if (sync == JournalSync::kAtomic) return absl::OkStatus();
  return fs::FsyncDirAt(moss_fd);
}

absl::StatusOr<std::string> RootId(int moss_fd) {
  absl::StatusOr<std::string> id = fs::ReadFileAt(moss_fd, "root-id", 256);
  if (id.ok()) return std::string(absl::StripAsciiWhitespace(*id));
  if (!absl::IsNotFound(id.status())) return Annotate(id.status(), "reading .moss/root-id");
  const std::string fresh = state::NewToken() + state::NewToken();
  ONIX_RETURN_IF_ERROR(
      fs::WriteFileAtomicAt(moss_fd, "root-id", fresh + "\n", 0644, fs::Durability::kFsync));
  return fresh;
}

}  // namespace onix::moss::transaction

// Internal to //moss/stone: the byte-level encoding of stone v1 (docs/stone-format.md),
// shared by the writer, the reader and the fuzzer. Not a public API.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "moss/stone/stone.h"
#include "moss/stone/types.h"

namespace onix::stone::internal {

inline constexpr char kMagic[8] = {'\x89', 'S', 'T', 'N', '\r', '\n', '\x1a', '\n'};
inline constexpr size_t kHeaderSize = 32;
inline constexpr size_t kPayloadHeaderSize = 64;
inline constexpr size_t kLayoutFixedSize = 64;
inline constexpr size_t kIndexRecordSize = 48;
inline constexpr size_t kMaxPathLength = 4095;
inline constexpr uint16_t kMaxPayloads = 16;

// Payload positions in a binary stone. Content precedes Layout and Index so the writer can
// read every file once: digests are known only after their bytes went into Content.
inline constexpr size_t kBinaryMeta = 0;
inline constexpr size_t kBinaryContent = 1;
inline constexpr size_t kBinaryLayout = 2;
inline constexpr size_t kBinaryIndex = 3;

// Meta record tags (docs/stone-format.md, "Meta").
enum class MetaTag : uint16_t {
  kName = 1,
  kVersion = 2,
  kSourceRelease = 3,
  kBuildRelease = 4,
  kArchitecture = 5,
  kSummary = 6,
  kDescription = 7,
  kHomepage = 8,
  kLicense = 9,
  kSourceId = 10,
  kDepends = 11,
  kProvides = 12,
  kConflicts = 13,
  kReplaces = 14,
  kAllowSetid = 15,
  kBuildTime = 16,
  kInput = 17,
};
inline constexpr uint16_t kLastMetaTag = 17;
enum class MetaType : uint8_t { kString = 1, kU64 = 2, kDependency = 3, kBool = 4 };

struct FileHeader {
  uint32_t version = kFormatVersion;
  uint16_t payload_count = 0;
  StoneType type = StoneType::kBinary;
  uint64_t file_size = 0;
};

// Little-endian appender.
class ByteWriter {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { Le(v, 2); }
  void U32(uint32_t v) { Le(v, 4); }
  void U64(uint64_t v) { Le(v, 8); }
  void Bytes(std::string_view b) { out_.append(b.data(), b.size()); }
  void Zeros(size_t n) { out_.append(n, '\0'); }
  std::string& str() { return out_; }

 private:
  void Le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string out_;
};

// Bounds-checked little-endian cursor: every getter returns false instead of reading past
// the end, and leaves the cursor where it was.
class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}
  bool U8(uint8_t* v) { return Le(v, 1); }
  bool U16(uint16_t* v) { return Le(v, 2); }
  bool U32(uint32_t* v) { return Le(v, 4); }
  bool U64(uint64_t* v) { return Le(v, 8); }
  bool Bytes(size_t n, std::string_view* out) {
    if (n > remaining()) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  size_t remaining() const { return data_.size() - pos_; }
  size_t pos() const { return pos_; }

 private:
  template <typename T>
  bool Le(T* v, size_t n) {
    if (n > remaining()) return false;
    uint64_t r = 0;
    for (size_t i = 0; i < n; ++i) r |= uint64_t{static_cast<uint8_t>(data_[pos_ + i])} << (8 * i);
    *v = static_cast<T>(r);
    pos_ += n;
    return true;
  }
  std::string_view data_;
  size_t pos_ = 0;
};

std::string EncodeFileHeader(const FileHeader& h);
// Errors are InvalidArgument without the file name (the caller annotates).
absl::StatusOr<FileHeader> DecodeFileHeader(std::string_view bytes);

std::string EncodePayloadHeader(const PayloadInfo& p);
absl::StatusOr<PayloadInfo> DecodePayloadHeader(std::string_view bytes);

// Meta payload: records; `count` receives the record count.
std::string EncodeMeta(const Meta& meta, uint64_t build_time, uint32_t* count);
// Decodes Meta records and checks them with ValidateMeta (names, versions, UTF-8, string
// caps); the bytes must be at most kMaxMetaPlainSize. `records` receives the number of
// records found (unknown tags included), for the caller to compare with a declared count.
absl::Status DecodeMeta(std::string_view bytes, Meta* meta, uint64_t* build_time,
                        uint32_t* records = nullptr);

std::string EncodeLayout(const std::vector<LayoutEntry>& layout);
absl::StatusOr<std::vector<LayoutEntry>> DecodeLayout(std::string_view bytes, uint32_t count);

// A layout record read in place: `path` and `target` point into the encoded bytes, which
// must outlive it. Comparing two states' layouts this way allocates nothing per path.
struct LayoutRecord {
  std::string_view path;
  FileKind kind = FileKind::kRegular;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string_view target;
  Digest digest;
  uint64_t size = 0;

  friend bool operator==(const LayoutRecord&, const LayoutRecord&) = default;
  LayoutEntry ToEntry() const;
};
// The same checks as DecodeLayout.
absl::StatusOr<std::vector<LayoutRecord>> DecodeLayoutRecords(std::string_view bytes,
                                                              uint32_t count);

std::string EncodeIndex(const std::vector<ContentRange>& index);
absl::StatusOr<std::vector<ContentRange>> DecodeIndex(std::string_view bytes, uint32_t count);

std::string EncodePackages(const std::vector<IndexRecord>& records);
absl::StatusOr<std::vector<IndexRecord>> DecodePackages(std::string_view bytes, uint32_t count);

// One-shot zstd of a metadata payload.
absl::StatusOr<std::string> ZstdCompress(std::string_view plain, int level);
// Decompresses exactly `plain_length` bytes; more or fewer is an error.
absl::StatusOr<std::string> ZstdDecompress(std::string_view stored, uint64_t plain_length);

// Orders records the way the format requires (by name, version, releases, file name).
bool IndexRecordLess(const IndexRecord& a, const IndexRecord& b);

}  // namespace onix::stone::internal

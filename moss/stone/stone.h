// The stone package format v1 (docs/stone-format.md): a versioned binary container of typed,
// checksummed, zstd-compressed payloads (Meta, Layout, Index, Content), its writer and reader.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "moss/base/fd.h"
#include "moss/base/sha256.h"
#include "moss/stone/types.h"

namespace onix::stone {

inline constexpr uint32_t kFormatVersion = 1;

// What a stone file is. Stored in the fixed header.
enum class StoneType : uint8_t {
  kBinary = 1,    // one package: Meta, Layout, Index, Content
  kIndex = 2,     // a repository index: one Packages payload of IndexRecords
  kManifest = 3,  // a build manifest: Meta, Layout (no content)
};
std::string_view StoneTypeName(StoneType type);

// The kind of a payload. Each payload carries its own header, so readers skip what they do
// not need. A binary stone holds Meta, Content, Layout, Index in this order (the writer reads
// every file once; digests are known after their bytes are in Content).
enum class PayloadKind : uint8_t {
  kMeta = 1,      // typed key/values of Meta
  kLayout = 2,    // one record per path below /usr
  kIndex = 3,     // content digest -> (offset, length) into Content
  kContent = 4,   // unique file contents, in the order of their first path
  kPackages = 5,  // repository index records (index stones only)
};
std::string_view PayloadKindName(PayloadKind kind);

enum class Compression : uint8_t { kNone = 0, kZstd = 1 };

struct WriteOptions {
  int zstd_level = 3;  // 1..19
  // Compression workers for the Content payload when it is "big" (>= kMultithreadThreshold
  // plain bytes): 0 = one per CPU. zstd's output is identical for every worker count >= 1,
  // so the stone's bytes do not depend on the machine; only the threshold decides the mode.
  int threads = 0;
  // Recorded in Meta as the build time when non-zero; no other timestamp is ever stored.
  uint64_t source_date_epoch = 0;
  // Record the tree's uid/gid instead of root:root (0:0). Off by default so a package built
  // by an unprivileged user installs root-owned.
  bool keep_owner = false;
  // fsync the stone before the rename that publishes it (and its directory after).
  bool fsync = true;
};

// Plain-content size at and above which Content is compressed with zstd workers.
inline constexpr uint64_t kMultithreadThreshold = 16u << 20;

// One package of a repository index.
struct IndexRecord {
  Meta meta;
  Digest stone_digest;  // SHA-256 of the whole .stone file
  uint64_t stone_size = 0;
  std::string file_name;  // relative to the repository root, e.g. "zlib-1.3-1-1-x86_64.stone"

  friend bool operator==(const IndexRecord&, const IndexRecord&) = default;
};

// One entry of the Index payload: where a digest's bytes are in the plain Content.
struct ContentRange {
  Digest digest;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// Header fields of one payload as found in a stone.
struct PayloadInfo {
  PayloadKind kind = PayloadKind::kMeta;
  Compression compression = Compression::kNone;
  uint32_t record_count = 0;
  uint64_t file_offset = 0;  // of the stored bytes
  uint64_t stored_length = 0;
  uint64_t plain_length = 0;
  Digest checksum;  // SHA-256 of the stored bytes
};

// Bounds a reader enforces on top of the ones derived from the file itself.
struct ReadLimits {
  uint64_t max_metadata_payload = 256u << 20;  // plain bytes of Meta/Layout/Index/Packages
  uint64_t max_content = 64ull << 30;          // plain bytes of Content
  uint64_t max_records = 4u << 20;             // layout/index/package records
};

// Checks a layout against the v1 path rules: sorted by path, no duplicates, clean relative
// paths (no absolute, "", "." or ".." component, no NUL, at most 4095 bytes), every parent a
// directory record (so nothing lives below a symlink), symlink targets that stay inside /usr
// when resolved from the link's directory (absolute targets must be below /usr; chains
// through other symlinks of the layout are followed), permission bits only, and no
// setuid/setgid unless `allow_setid`. InvalidArgument naming the path and the rule.
absl::Status ValidateLayout(const std::vector<LayoutEntry>& layout, bool allow_setid);

// Walks the tree below `tree_dirfd` (it becomes /usr) into a sorted layout, hashing regular
// files (in parallel). Never follows symlinks. Device nodes, fifos and sockets are refused
// with InvalidArgument naming the path. uid/gid are 0 unless options.keep_owner.
absl::StatusOr<std::vector<LayoutEntry>> ScanTree(int tree_dirfd, const WriteOptions& options = {});

// Supplies the bytes of a regular layout entry by calling `emit` with consecutive chunks.
using ContentSource = std::function<absl::Status(
    const LayoutEntry& entry, const std::function<absl::Status(std::string_view chunk)>& emit)>;

// Packs the tree below `tree_dirfd` (it becomes /usr) with `meta` into `out_path`, reading
// every file once (files over 8 MiB twice: hashed, then compressed if new). A second thread
// walks the tree while the calling thread packs the files found so far, so compression
// starts before the scan ends; both threads are joined before it returns.
// Deterministic: the same tree, meta and options give byte-identical files (records sorted,
// no timestamps but options.source_date_epoch). Atomic: the stone is written to a temporary
// file beside `out_path` and renamed over it (fsynced first unless !options.fsync), so a
// failure or crash never leaves a partial stone at `out_path` (a crash may leave a
// ".<name>.tmp-*" file). Refuses device nodes, fifos and sockets, layouts breaking the path
// rules, and files that grow or change between reads while packing (FailedPrecondition).
// The tree must not be modified concurrently for the stone to describe one moment of it.
absl::Status WriteBinaryStone(const Meta& meta, int tree_dirfd, const std::string& out_path,
                              const WriteOptions& options = {});

// Same from an explicit layout (validated with ValidateLayout; sorted by the writer) and a
// content source, for boulder, tests and benchmarks. `content` is called once per unique
// digest, for the first entry (in path order) carrying it; its bytes must hash to the digest.
absl::Status WriteBinaryStoneFrom(const Meta& meta, std::vector<LayoutEntry> layout,
                                  const ContentSource& content, const std::string& out_path,
                                  const WriteOptions& options = {});

// Writes a build manifest (Meta + Layout, no content), atomically as above.
absl::Status WriteManifestStone(const Meta& meta, std::vector<LayoutEntry> layout,
                                const std::string& out_path, const WriteOptions& options = {});

// Writes a repository index stone, records sorted by (name, version, releases, file name),
// atomically as above.
absl::Status WriteIndexStone(std::vector<IndexRecord> records, const std::string& out_path,
                             const WriteOptions& options = {});

class StoneReader {
 public:
  // Opens and validates the header, every payload header (kinds expected for the type,
  // bounds, sizes within `limits`), the checksums of the metadata payloads and their records
  // (Meta, Layout with ValidateLayout and meta.allow_setid, Index ranges contiguous and
  // covering Content exactly, one range per layout digest). Content is only read by
  // ForEachContent/ExtractTo/Verify. Errors name the file, the payload and the problem:
  // InvalidArgument for malformed/hostile input, DataLoss for checksum mismatches.
  static absl::StatusOr<StoneReader> Open(const std::string& path, const ReadLimits& limits = {});
  // Same on an open fd (read with pread; the reader takes ownership). `name` is for messages.
  static absl::StatusOr<StoneReader> OpenFd(UniqueFd fd, std::string name,
                                            const ReadLimits& limits = {});

  StoneReader(StoneReader&&) = default;
  StoneReader& operator=(StoneReader&&) = default;

  const std::string& path() const { return path_; }
  StoneType type() const { return type_; }
  uint32_t format_version() const { return version_; }
  uint64_t file_size() const { return file_size_; }
  const std::vector<PayloadInfo>& payloads() const { return payloads_; }

  // Binary and manifest stones.
  const Meta& meta() const { return meta_; }
  uint64_t source_date_epoch() const { return source_date_epoch_; }
  const std::vector<LayoutEntry>& layout() const { return layout_; }  // sorted, validated
  // Binary stones: the Index payload, in content order (each digest once).
  const std::vector<ContentRange>& content_index() const { return content_index_; }
  // Index stones.
  const std::vector<IndexRecord>& index_records() const { return index_records_; }

  // Streams Content (checksum of the stored bytes verified, decompression bounded by the
  // declared plain length) and calls `fn` once per unique digest, in content order, with
  // the bytes, after verifying they hash to the digest. DataLoss on any mismatch; an error
  // from `fn` stops the stream and is returned. Holds at most one file's bytes in memory.
  absl::Status ForEachContent(
      const std::function<absl::Status(const Digest&, std::string_view bytes)>& fn) const;

  // Chunked form of ForEachContent for consumers that must not buffer a whole file (the
  // store, ExtractTo): for each range in content order, `begin`, then `chunk` any number of
  // times with consecutive bytes, then `end` only after the bytes hashed to the digest. A
  // mismatch returns DataLoss without calling `end`. The stored-bytes checksum is verified
  // when the stream ends, so a consumer must treat its output as provisional until the call
  // returns OK.
  absl::Status StreamContent(const std::function<absl::Status(const ContentRange&)>& begin,
                             const std::function<absl::Status(std::string_view)>& chunk,
                             const std::function<absl::Status(const ContentRange&)>& end) const;

  // Verifies everything (ForEachContent without a consumer): `moss inspect --check`.
  absl::Status Verify() const;

  // Materialises the layout below `dirfd` as a plain tree: directories, regular files
  // (duplicates as separate copies) with verified digests, symlinks; modes applied (files
  // and directories get their final modes last); ownership applied only when running as
  // root. Never writes outside `dirfd`: every creation is beneath it without following
  // symlinks, and existing entries are never replaced (AlreadyExists; an existing directory
  // where the layout has one is reused). On failure `dirfd` holds a partial tree the caller
  // discards (moss extract extracts into a temporary sibling and renames it into place).
  absl::Status ExtractTo(int dirfd) const;

 private:
  StoneReader() = default;

  std::string path_;
  UniqueFd fd_;
  ReadLimits limits_;
  StoneType type_ = StoneType::kBinary;
  uint32_t version_ = 0;
  uint64_t file_size_ = 0;
  std::vector<PayloadInfo> payloads_;
  Meta meta_;
  uint64_t source_date_epoch_ = 0;
  std::vector<LayoutEntry> layout_;
  std::vector<ContentRange> content_index_;
  std::vector<IndexRecord> index_records_;
};

}  // namespace onix::stone

#include "moss/stone/format.h"

#include <zstd.h>

#include <algorithm>
#include <memory>
#include <tuple>

#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::stone::internal {
namespace {

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
  void operator()(ZSTD_DCtx* c) const noexcept { ZSTD_freeDCtx(c); }
};

void PutDigest(ByteWriter& w, const Digest& d) {
  w.Bytes(std::string_view(reinterpret_cast<const char*>(d.bytes.data()), d.bytes.size()));
}

bool GetDigest(ByteReader& r, Digest* d) {
  std::string_view b;
  if (!r.Bytes(32, &b)) return false;
  std::memcpy(d->bytes.data(), b.data(), 32);
  return true;
}

void PutRecord(ByteWriter& w, MetaTag tag, MetaType type, std::string_view value) {
  w.U16(static_cast<uint16_t>(tag));
  w.U8(static_cast<uint8_t>(type));
  w.U8(0);
  w.U32(static_cast<uint32_t>(value.size()));
  w.Bytes(value);
}

std::string U64Bytes(uint64_t v) {
  ByteWriter w;
  w.U64(v);
  return std::move(w.str());
}

std::string DependencyBytes(const Dependency& d) {
  ByteWriter w;
  w.U8(static_cast<uint8_t>(d.kind));
  w.U8(static_cast<uint8_t>(d.op));
  w.U16(static_cast<uint16_t>(d.name.size()));
  w.Bytes(d.name);
  w.Bytes(d.version);
  return std::move(w.str());
}

absl::StatusOr<Dependency> ParseDependency(std::string_view value) {
  ByteReader r(value);
  uint8_t kind, op;
  uint16_t name_len;
  std::string_view name;
  if (!r.U8(&kind) || !r.U8(&op) || !r.U16(&name_len) || !r.Bytes(name_len, &name)) {
    return InvalidArgument("truncated dependency record");
  }
  if (kind < 1 || kind > 5) return InvalidArgument(StrCat("unknown dependency kind ", kind));
  if (op > 3) return InvalidArgument(StrCat("unknown version operator ", op));
  Dependency d;
  d.kind = static_cast<DepKind>(kind);
  d.op = static_cast<VersionOp>(op);
  d.name = std::string(name);
  std::string_view version;
  (void)r.Bytes(r.remaining(), &version);
  d.version = std::string(version);
  if (d.name.empty()) return InvalidArgument("dependency with an empty name");
  if ((d.op == VersionOp::kAny) != d.version.empty()) {
    return InvalidArgument(StrCat("dependency '", d.name, "' has a mismatched version constraint"));
  }
  return d;
}

bool ValidUtf8ish(std::string_view s) { return s.find('\0') == std::string_view::npos; }

}  // namespace

std::string EncodeFileHeader(const FileHeader& h) {
  ByteWriter w;
  w.Bytes(std::string_view(kMagic, sizeof(kMagic)));
  w.U32(h.version);
  w.U16(h.payload_count);
  w.U8(static_cast<uint8_t>(h.type));
  w.U8(0);
  w.U64(h.file_size);
  w.U64(0);
  return std::move(w.str());
}

absl::StatusOr<FileHeader> DecodeFileHeader(std::string_view bytes) {
  if (bytes.size() < kHeaderSize) {
    return InvalidArgument(
        StrCat("file is ", bytes.size(), " bytes, shorter than the ", kHeaderSize, "-byte header"));
  }
  if (bytes.substr(0, 8) != std::string_view(kMagic, 8)) {
    return InvalidArgument("not a stone (bad magic)");
  }
  ByteReader r(bytes.substr(8, kHeaderSize - 8));
  FileHeader h;
  uint8_t type, reserved8;
  uint64_t reserved64;
  (void)(r.U32(&h.version) && r.U16(&h.payload_count) && r.U8(&type) && r.U8(&reserved8) &&
         r.U64(&h.file_size) && r.U64(&reserved64));
  if (h.version != kFormatVersion) {
    return InvalidArgument(StrCat("unsupported format version ", h.version, " (this moss reads ",
                                  kFormatVersion, ")"));
  }
  if (type < 1 || type > 3) return InvalidArgument(StrCat("unknown stone type ", type));
  h.type = static_cast<StoneType>(type);
  if (reserved8 != 0 || reserved64 != 0) return InvalidArgument("reserved header bytes not zero");
  if (h.payload_count > kMaxPayloads) {
    return InvalidArgument(
        StrCat("header declares ", h.payload_count, " payloads (at most ", kMaxPayloads, ")"));
  }
  return h;
}

std::string EncodePayloadHeader(const PayloadInfo& p) {
  ByteWriter w;
  w.U8(static_cast<uint8_t>(p.kind));
  w.U8(static_cast<uint8_t>(p.compression));
  w.U16(0);
  w.U32(p.record_count);
  w.U64(p.stored_length);
  w.U64(p.plain_length);
  PutDigest(w, p.checksum);
  w.U64(0);
  return std::move(w.str());
}

absl::StatusOr<PayloadInfo> DecodePayloadHeader(std::string_view bytes) {
  if (bytes.size() < kPayloadHeaderSize) return InvalidArgument("truncated payload header");
  ByteReader r(bytes);
  PayloadInfo p;
  // Zero-initialised: the size check above guarantees every read succeeds, but the compiler
  // cannot see it through the && chain (-Wmaybe-uninitialized at -O1).
  uint8_t kind = 0, compression = 0;
  uint16_t reserved16 = 0;
  uint64_t reserved64 = 0;
  (void)(r.U8(&kind) && r.U8(&compression) && r.U16(&reserved16) && r.U32(&p.record_count) &&
         r.U64(&p.stored_length) && r.U64(&p.plain_length) && GetDigest(r, &p.checksum) &&
         r.U64(&reserved64));
  if (kind < 1 || kind > 5) return InvalidArgument(StrCat("unknown payload kind ", kind));
  p.kind = static_cast<PayloadKind>(kind);
  if (compression > 1) return InvalidArgument(StrCat("unknown compression ", compression));
  p.compression = static_cast<Compression>(compression);
  if (reserved16 != 0 || reserved64 != 0) {
    return InvalidArgument("reserved payload header bytes not zero");
  }
  if (p.compression == Compression::kNone && p.stored_length != p.plain_length) {
    return InvalidArgument(StrCat("uncompressed payload stores ", p.stored_length,
                                  " bytes but declares ", p.plain_length, " plain bytes"));
  }
  return p;
}

std::string EncodeMeta(const Meta& meta, uint64_t build_time, uint32_t* count) {
  ByteWriter w;
  uint32_t n = 0;
  auto str = [&](MetaTag tag, const std::string& s) {
    if (s.empty()) return;
    PutRecord(w, tag, MetaType::kString, s);
    ++n;
  };
  auto u64 = [&](MetaTag tag, uint64_t v) {
    PutRecord(w, tag, MetaType::kU64, U64Bytes(v));
    ++n;
  };
  auto deps = [&](MetaTag tag, const std::vector<Dependency>& ds) {
    for (const auto& d : ds) {
      PutRecord(w, tag, MetaType::kDependency, DependencyBytes(d));
      ++n;
    }
  };
  str(MetaTag::kName, meta.name);
  str(MetaTag::kVersion, meta.version);
  u64(MetaTag::kSourceRelease, meta.source_release);
  u64(MetaTag::kBuildRelease, meta.build_release);
  str(MetaTag::kArchitecture, meta.architecture);
  str(MetaTag::kSummary, meta.summary);
  str(MetaTag::kDescription, meta.description);
  str(MetaTag::kHomepage, meta.homepage);
  for (const auto& l : meta.licenses) {
    PutRecord(w, MetaTag::kLicense, MetaType::kString, l);
    ++n;
  }
  str(MetaTag::kSourceId, meta.source_id);
  deps(MetaTag::kDepends, meta.depends);
  deps(MetaTag::kProvides, meta.provides);
  deps(MetaTag::kConflicts, meta.conflicts);
  deps(MetaTag::kReplaces, meta.replaces);
  if (meta.allow_setid) {
    PutRecord(w, MetaTag::kAllowSetid, MetaType::kBool, std::string_view("\1", 1));
    ++n;
  }
  if (build_time != 0) u64(MetaTag::kBuildTime, build_time);
  for (const auto& in : meta.inputs) {
    PutRecord(w, MetaTag::kInput, MetaType::kString, in);
    ++n;
  }
  if (count) *count = n;
  return std::move(w.str());
}

absl::Status DecodeMeta(std::string_view bytes, Meta* meta, uint64_t* build_time,
                        uint32_t* records) {
  ByteReader r(bytes);
  *meta = Meta{};
  meta->build_release = 0;
  *build_time = 0;
  if (bytes.size() > kMaxMetaPlainSize) {
    return InvalidArgument(
        StrCat("meta is ", bytes.size(), " bytes, more than the limit of ", kMaxMetaPlainSize));
  }
  uint32_t seen = 0;  // bit per scalar tag, to refuse repeats
  uint32_t found = 0;
  while (r.remaining() > 0) {
    ++found;
    const size_t at = r.pos();
    uint16_t tag;
    uint8_t type, reserved;
    uint32_t len;
    std::string_view value;
    if (!r.U16(&tag) || !r.U8(&type) || !r.U8(&reserved) || !r.U32(&len) || !r.Bytes(len, &value)) {
      return InvalidArgument(StrCat("meta record at offset ", at, " runs past the payload"));
    }
    auto bad = [&](std::string_view why) {
      return InvalidArgument(StrCat("meta record ", tag, " at offset ", at, ": ", why));
    };
    if (reserved != 0) return bad("reserved byte not zero");
    const bool repeatable = tag == static_cast<uint16_t>(MetaTag::kLicense) ||
                            tag == static_cast<uint16_t>(MetaTag::kInput) ||
                            (tag >= static_cast<uint16_t>(MetaTag::kDepends) &&
                             tag <= static_cast<uint16_t>(MetaTag::kReplaces));
    if (tag >= 1 && tag <= kLastMetaTag && !repeatable) {
      if (seen & (1u << tag)) return bad("repeated");
      seen |= 1u << tag;
    }
    MetaType expected;
    switch (static_cast<MetaTag>(tag)) {
      case MetaTag::kSourceRelease:
      case MetaTag::kBuildRelease:
      case MetaTag::kBuildTime:
        expected = MetaType::kU64;
        break;
      case MetaTag::kDepends:
      case MetaTag::kProvides:
      case MetaTag::kConflicts:
      case MetaTag::kReplaces:
        expected = MetaType::kDependency;
        break;
      case MetaTag::kAllowSetid:
        expected = MetaType::kBool;
        break;
      default:
        expected = MetaType::kString;
    }
    if (tag < 1 || tag > kLastMetaTag) {
      // A later v1 writer may add tags; a reader skips what it does not know.
      if (type < 1 || type > 4) return bad(StrCat("unknown value type ", type));
      continue;
    }
    if (type != static_cast<uint8_t>(expected)) return bad(StrCat("wrong value type ", type));
    uint64_t num = 0;
    if (expected == MetaType::kU64) {
      if (len != 8) return bad("integer value is not 8 bytes");
      ByteReader v(value);
      (void)v.U64(&num);
    }
    if (expected == MetaType::kBool && (len != 1 || value[0] > 1)) return bad("malformed bool");
    if (expected == MetaType::kString && !ValidUtf8ish(value)) return bad("string contains NUL");
    std::string s(value);
    switch (static_cast<MetaTag>(tag)) {
      case MetaTag::kName:
        meta->name = s;
        break;
      case MetaTag::kVersion:
        meta->version = s;
        break;
      case MetaTag::kSourceRelease:
        meta->source_release = num;
        break;
      case MetaTag::kBuildRelease:
        meta->build_release = num;
        break;
      case MetaTag::kArchitecture:
        meta->architecture = s;
        break;
      case MetaTag::kSummary:
        meta->summary = s;
        break;
      case MetaTag::kDescription:
        meta->description = s;
        break;
      case MetaTag::kHomepage:
        meta->homepage = s;
        break;
      case MetaTag::kLicense:
        meta->licenses.push_back(s);
        break;
      case MetaTag::kSourceId:
        meta->source_id = s;
        break;
      case MetaTag::kDepends:
      case MetaTag::kProvides:
      case MetaTag::kConflicts:
      case MetaTag::kReplaces: {
        auto d = ParseDependency(value);
        if (!d.ok()) return bad(std::string(d.status().message()));
        auto& list = tag == 11   ? meta->depends
                     : tag == 12 ? meta->provides
                     : tag == 13 ? meta->conflicts
                                 : meta->replaces;
        list.push_back(*std::move(d));
        break;
      }
      case MetaTag::kAllowSetid:
        meta->allow_setid = value[0] == 1;
        break;
      case MetaTag::kBuildTime:
        *build_time = num;
        break;
      case MetaTag::kInput:
        meta->inputs.push_back(s);
        break;
    }
  }
  if (records) *records = found;
  if (meta->name.empty()) return InvalidArgument("meta has no name");
  if (meta->version.empty()) {
    return InvalidArgument(StrCat("meta of '", EscapeControl(meta->name), "' has no version"));
  }
  return ValidateMeta(*meta);
}

std::string EncodeLayout(const std::vector<LayoutEntry>& layout) {
  ByteWriter w;
  for (const auto& e : layout) {
    w.U8(static_cast<uint8_t>(e.kind));
    w.U8(0);
    w.U16(static_cast<uint16_t>(e.path.size()));
    w.U16(static_cast<uint16_t>(e.kind == FileKind::kSymlink ? e.target.size() : 0));
    w.U16(0);
    w.U32(e.mode);
    w.U32(e.uid);
    w.U32(e.gid);
    w.U32(0);
    w.U64(e.kind == FileKind::kRegular ? e.size : 0);
    PutDigest(w, e.kind == FileKind::kRegular ? e.digest : Digest{});
    w.Bytes(e.path);
    if (e.kind == FileKind::kSymlink) w.Bytes(e.target);
  }
  return std::move(w.str());
}

LayoutEntry LayoutRecord::ToEntry() const {
  LayoutEntry e;
  e.path = std::string(path);
  e.kind = kind;
  e.mode = mode;
  e.uid = uid;
  e.gid = gid;
  e.target = std::string(target);
  e.digest = digest;
  e.size = size;
  return e;
}

absl::StatusOr<std::vector<LayoutRecord>> DecodeLayoutRecords(std::string_view bytes,
                                                              uint32_t count) {
  // Every record takes at least kLayoutFixedSize bytes: bound the allocation by the payload.
  if (uint64_t{count} * kLayoutFixedSize > bytes.size()) {
    return InvalidArgument(
        StrCat("declares ", count, " records but holds only ", bytes.size(), " bytes"));
  }
  ByteReader r(bytes);
  std::vector<LayoutRecord> out;
  out.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t kind, r8;
    uint16_t path_len, target_len, r16;
    uint32_t r32;
    LayoutRecord e;
    if (!(r.U8(&kind) && r.U8(&r8) && r.U16(&path_len) && r.U16(&target_len) && r.U16(&r16) &&
          r.U32(&e.mode) && r.U32(&e.uid) && r.U32(&e.gid) && r.U32(&r32) && r.U64(&e.size) &&
          GetDigest(r, &e.digest) && r.Bytes(path_len, &e.path) &&
          r.Bytes(target_len, &e.target))) {
      return InvalidArgument(StrCat("record ", i, " runs past the payload"));
    }
    if (kind < 1 || kind > 3) {
      return InvalidArgument(StrCat("record ", i, " has unknown file type ", kind,
                                    " (device nodes, fifos and sockets are not allowed)"));
    }
    if (r8 != 0 || r16 != 0 || r32 != 0) {
      return InvalidArgument(StrCat("record ", i, " has non-zero reserved bytes"));
    }
    e.kind = static_cast<FileKind>(kind);
    if (e.kind != FileKind::kSymlink && !e.target.empty()) {
      return InvalidArgument(StrCat("'", e.path, "' is not a symlink but has a target"));
    }
    if (e.kind != FileKind::kRegular && (e.size != 0 || e.digest != Digest{})) {
      return InvalidArgument(StrCat("'", e.path, "' is not a regular file but has content"));
    }
    out.push_back(e);
  }
  if (r.remaining() != 0) {
    return InvalidArgument(StrCat(r.remaining(), " trailing bytes after ", count, " records"));
  }
  return out;
}

absl::StatusOr<std::vector<LayoutEntry>> DecodeLayout(std::string_view bytes, uint32_t count) {
  ONIX_ASSIGN_OR_RETURN(const std::vector<LayoutRecord> records, DecodeLayoutRecords(bytes, count));
  std::vector<LayoutEntry> out;
  out.reserve(records.size());
  for (const auto& rec : records) out.push_back(rec.ToEntry());
  return out;
}

std::string EncodeIndex(const std::vector<ContentRange>& index) {
  ByteWriter w;
  for (const auto& c : index) {
    PutDigest(w, c.digest);
    w.U64(c.offset);
    w.U64(c.length);
  }
  return std::move(w.str());
}

absl::StatusOr<std::vector<ContentRange>> DecodeIndex(std::string_view bytes, uint32_t count) {
  if (uint64_t{count} * kIndexRecordSize != bytes.size()) {
    return InvalidArgument(StrCat("declares ", count, " records of ", kIndexRecordSize,
                                  " bytes but holds ", bytes.size(), " bytes"));
  }
  ByteReader r(bytes);
  std::vector<ContentRange> out(count);
  for (auto& c : out) (void)(GetDigest(r, &c.digest) && r.U64(&c.offset) && r.U64(&c.length));
  return out;
}

std::string EncodePackages(const std::vector<IndexRecord>& records) {
  ByteWriter w;
  for (const auto& rec : records) {
    std::string meta = EncodeMeta(rec.meta, 0, nullptr);
    w.U32(static_cast<uint32_t>(meta.size()));
    w.Bytes(meta);
    PutDigest(w, rec.stone_digest);
    w.U64(rec.stone_size);
    w.U16(static_cast<uint16_t>(rec.file_name.size()));
    w.Bytes(rec.file_name);
  }
  return std::move(w.str());
}

absl::StatusOr<std::vector<IndexRecord>> DecodePackages(std::string_view bytes, uint32_t count) {
  if (uint64_t{count} * 46 > bytes.size()) {
    return InvalidArgument(
        StrCat("declares ", count, " records but holds only ", bytes.size(), " bytes"));
  }
  ByteReader r(bytes);
  std::vector<IndexRecord> out;
  out.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t meta_len;
    uint16_t name_len;
    std::string_view meta, name;
    IndexRecord rec;
    if (!(r.U32(&meta_len) && r.Bytes(meta_len, &meta) && GetDigest(r, &rec.stone_digest) &&
          r.U64(&rec.stone_size) && r.U16(&name_len) && r.Bytes(name_len, &name))) {
      return InvalidArgument(StrCat("package record ", i, " runs past the payload"));
    }
    uint64_t unused;
    ONIX_RETURN_IF_ERROR_CTX(DecodeMeta(meta, &rec.meta, &unused), StrCat("package record ", i));
    rec.file_name = std::string(name);
    auto valid = [](std::string_view n) {
      return !n.empty() && n.find('\0') == std::string_view::npos && n.front() != '/' &&
             n != ".." && n.find("../") == std::string_view::npos &&
             n.find("/..") == std::string_view::npos;
    };
    if (!valid(rec.file_name)) {
      return InvalidArgument(StrCat("package record ", i, " ('", rec.meta.name,
                                    "') has an unsafe file name '", rec.file_name, "'"));
    }
    // The spec's order (the writer sorts): a reader that met an unsorted or repeated package
    // could otherwise pick a different record than the one signed off.
    if (!out.empty()) {
      const IndexRecord& prev = out.back();
      if (std::tie(prev.meta.name, prev.meta.version, prev.meta.source_release,
                   prev.meta.build_release) == std::tie(rec.meta.name, rec.meta.version,
                                                        rec.meta.source_release,
                                                        rec.meta.build_release)) {
        return InvalidArgument(StrCat("package record ", i, " repeats ", rec.meta.Nvr()));
      }
      if (!IndexRecordLess(prev, rec)) {
        return InvalidArgument(StrCat("package record ", i, " (", rec.meta.Nvr(),
                                      ") is not sorted after ", prev.meta.Nvr()));
      }
    }
    out.push_back(std::move(rec));
  }
  if (r.remaining() != 0) {
    return InvalidArgument(StrCat(r.remaining(), " trailing bytes after ", count, " records"));
  }
  return out;
}

absl::StatusOr<std::string> ZstdCompress(std::string_view plain, int level) {
  std::unique_ptr<ZSTD_CCtx, CCtxFree> cctx(ZSTD_createCCtx());
  if (!cctx) return Internal("ZSTD_createCCtx failed");
  (void)ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level);
  std::string out(ZSTD_compressBound(plain.size()), '\0');
  size_t n = ZSTD_compress2(cctx.get(), out.data(), out.size(), plain.data(), plain.size());
  if (ZSTD_isError(n)) return Internal(StrCat("zstd compression: ", ZSTD_getErrorName(n)));
  out.resize(n);
  return out;
}

absl::StatusOr<std::string> ZstdDecompress(std::string_view stored, uint64_t plain_length) {
  std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx(ZSTD_createDCtx());
  if (!dctx) return Internal("ZSTD_createDCtx failed");
  // Memory follows what the data really decodes to, not what the header claims: a tiny
  // payload declaring a huge plain length costs nothing until it proves it.
  std::string out;
  std::string buf(ZSTD_DStreamOutSize(), '\0');
  ZSTD_inBuffer in{stored.data(), stored.size(), 0};
  size_t ret = 1;
  while (in.pos < in.size || ret != 0) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    const size_t before_in = in.pos;
    ret = ZSTD_decompressStream(dctx.get(), &o, &in);
    if (ZSTD_isError(ret)) {
      return InvalidArgument(StrCat("corrupt zstd data: ", ZSTD_getErrorName(ret)));
    }
    if (o.pos > plain_length - out.size()) {
      return InvalidArgument(
          StrCat("decompresses beyond its declared plain length ", plain_length));
    }
    out.append(buf.data(), o.pos);
    if (ret != 0 && in.pos == in.size && o.pos == 0 && in.pos == before_in) {
      return InvalidArgument("truncated zstd data");
    }
  }
  if (out.size() != plain_length) {
    return InvalidArgument(
        StrCat("decompresses to ", out.size(), " bytes, not the declared ", plain_length));
  }
  return out;
}

bool IndexRecordLess(const IndexRecord& a, const IndexRecord& b) {
  return std::tie(a.meta.name, a.meta.version, a.meta.source_release, a.meta.build_release,
                  a.file_name) < std::tie(b.meta.name, b.meta.version, b.meta.source_release,
                                          b.meta.build_release, b.file_name);
}

}  // namespace onix::stone::internal

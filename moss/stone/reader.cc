// The stone reader: header and payload validation at Open, bounded streaming of Content.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <memory>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/stone/format.h"
#include "moss/stone/stone.h"

namespace onix::stone {
namespace {

constexpr size_t kReadChunk = 1 << 20;

struct DCtxFree {
  void operator()(ZSTD_DCtx* c) const noexcept { ZSTD_freeDCtx(c); }
};

absl::Status PRead(int fd, char* buf, size_t len, uint64_t offset) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::pread(fd, buf + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return ErrnoError(err, "pread");
    }
    if (n == 0) return InvalidArgument("file shrank while reading");
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

std::string PayloadName(size_t i, PayloadKind kind) {
  return StrCat("payload ", i, " (", PayloadKindName(kind), ")");
}

}  // namespace

std::string_view StoneTypeName(StoneType type) {
  switch (type) {
    case StoneType::kBinary:
      return "binary";
    case StoneType::kIndex:
      return "index";
    case StoneType::kManifest:
      return "manifest";
  }
  return "unknown";
}

std::string_view PayloadKindName(PayloadKind kind) {
  switch (kind) {
    case PayloadKind::kMeta:
      return "meta";
    case PayloadKind::kLayout:
      return "layout";
    case PayloadKind::kIndex:
      return "index";
    case PayloadKind::kContent:
      return "content";
    case PayloadKind::kPackages:
      return "packages";
  }
  return "unknown";
}

absl::StatusOr<StoneReader> StoneReader::Open(const std::string& path, const ReadLimits& limits) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("opening stone ", path));
  }
  return OpenFd(UniqueFd(fd), path, limits);
}

absl::StatusOr<StoneReader> StoneReader::OpenFd(UniqueFd fd, std::string name,
                                                const ReadLimits& limits) {
  StoneReader r;
  r.path_ = std::move(name);
  r.fd_ = std::move(fd);
  r.limits_ = limits;
  auto run = [&r]() -> absl::Status {
    struct stat st;
    if (::fstat(r.fd_.get(), &st) != 0) {
      const int err = errno;
      return ErrnoError(err, "fstat");
    }
    if (!S_ISREG(st.st_mode)) return InvalidArgument("not a regular file");
    r.file_size_ = static_cast<uint64_t>(st.st_size);
    std::string header(std::min<uint64_t>(r.file_size_, internal::kHeaderSize), '\0');
    ONIX_RETURN_IF_ERROR(PRead(r.fd_.get(), header.data(), header.size(), 0));
    ONIX_ASSIGN_OR_RETURN(internal::FileHeader h, internal::DecodeFileHeader(header));
    if (h.file_size != r.file_size_) {
      return InvalidArgument(StrCat("header declares ", h.file_size, " bytes but the file has ",
                                    r.file_size_, " (truncated or extended)"));
    }
    r.type_ = h.type;
    r.version_ = h.version;
    uint64_t offset = internal::kHeaderSize;
    for (uint16_t i = 0; i < h.payload_count; ++i) {
      if (r.file_size_ - offset < internal::kPayloadHeaderSize) {
        return InvalidArgument(
            StrCat("payload header ", i, " at offset ", offset, " runs past the end of the file"));
      }
      std::string ph(internal::kPayloadHeaderSize, '\0');
      ONIX_RETURN_IF_ERROR(PRead(r.fd_.get(), ph.data(), ph.size(), offset));
      auto p = internal::DecodePayloadHeader(ph);
      if (!p.ok()) return Annotate(p.status(), StrCat("payload header ", i));
      p->file_offset = offset + internal::kPayloadHeaderSize;
      if (p->stored_length > r.file_size_ - p->file_offset) {
        return InvalidArgument(StrCat(PayloadName(i, p->kind), " stores ", p->stored_length,
                                      " bytes, past the end of the file"));
      }
      offset = p->file_offset + p->stored_length;
      r.payloads_.push_back(*p);
    }
    if (offset != r.file_size_) {
      return InvalidArgument(
          StrCat(r.file_size_ - offset, " trailing bytes after the last payload"));
    }
    std::vector<PayloadKind> expected;
    switch (r.type_) {
      case StoneType::kBinary:
        expected = {PayloadKind::kMeta, PayloadKind::kContent, PayloadKind::kLayout,
                    PayloadKind::kIndex};
        break;
      case StoneType::kManifest:
        expected = {PayloadKind::kMeta, PayloadKind::kLayout};
        break;
      case StoneType::kIndex:
        expected = {PayloadKind::kPackages};
        break;
    }
    if (r.payloads_.size() != expected.size()) {
      return InvalidArgument(StrCat("a ", StoneTypeName(r.type_), " stone needs ", expected.size(),
                                    " payloads, this one has ", r.payloads_.size()));
    }
    for (size_t i = 0; i < expected.size(); ++i) {
      const PayloadInfo& p = r.payloads_[i];
      if (p.kind != expected[i]) {
        return InvalidArgument(StrCat("payload ", i, " is ", PayloadKindName(p.kind), " where a ",
                                      StoneTypeName(r.type_), " stone has ",
                                      PayloadKindName(expected[i])));
      }
      const bool content = p.kind == PayloadKind::kContent;
      const uint64_t limit = content ? r.limits_.max_content : r.limits_.max_metadata_payload;
      if (p.plain_length > limit) {
        return InvalidArgument(StrCat(PayloadName(i, p.kind), " declares ", p.plain_length,
                                      " plain bytes, above the limit of ", limit));
      }
      // Meta is small by the spec: refused before a byte of it is decompressed, so a tiny
      // stone cannot make us build a huge description in memory.
      if (p.kind == PayloadKind::kMeta && p.plain_length > kMaxMetaPlainSize) {
        return InvalidArgument(StrCat(PayloadName(i, p.kind), " declares ", p.plain_length,
                                      " plain bytes, above the Meta limit of ", kMaxMetaPlainSize));
      }
      if (p.compression == Compression::kZstd &&
          p.stored_length > ZSTD_compressBound(p.plain_length)) {
        return InvalidArgument(StrCat(PayloadName(i, p.kind), " stores ", p.stored_length,
                                      " bytes, more than zstd needs for ", p.plain_length,
                                      " plain bytes"));
      }
      if (p.record_count > r.limits_.max_records) {
        return InvalidArgument(StrCat(PayloadName(i, p.kind), " declares ", p.record_count,
                                      " records, above the limit of ", r.limits_.max_records));
      }
    }
    // The metadata payloads: bounded by the checks above, so reading them whole is safe.
    std::vector<std::string> plain(r.payloads_.size());
    for (size_t i = 0; i < r.payloads_.size(); ++i) {
      const PayloadInfo& p = r.payloads_[i];
      if (p.kind == PayloadKind::kContent) continue;
      std::string stored(p.stored_length, '\0');
      ONIX_RETURN_IF_ERROR(PRead(r.fd_.get(), stored.data(), stored.size(), p.file_offset));
      if (Sha256Of(stored) != p.checksum) {
        return DataLoss(StrCat(PayloadName(i, p.kind), ": checksum mismatch (corrupt file)"));
      }
      if (p.compression == Compression::kZstd) {
        auto d = internal::ZstdDecompress(stored, p.plain_length);
        if (!d.ok()) return Annotate(d.status(), PayloadName(i, p.kind));
        plain[i] = *std::move(d);
      } else {
        plain[i] = std::move(stored);
      }
    }
    if (r.type_ == StoneType::kIndex) {
      auto recs = internal::DecodePackages(plain[0], r.payloads_[0].record_count);
      if (!recs.ok()) return Annotate(recs.status(), PayloadName(0, PayloadKind::kPackages));
      r.index_records_ = *std::move(recs);
      return absl::OkStatus();
    }
    uint32_t meta_records = 0;
    ONIX_RETURN_IF_ERROR_CTX(
        internal::DecodeMeta(plain[0], &r.meta_, &r.source_date_epoch_, &meta_records),
        PayloadName(0, PayloadKind::kMeta));
    if (meta_records != r.payloads_[0].record_count) {
      return InvalidArgument(StrCat(PayloadName(0, PayloadKind::kMeta), " declares ",
                                    r.payloads_[0].record_count, " records but holds ",
                                    meta_records));
    }
    const size_t li = r.type_ == StoneType::kBinary ? internal::kBinaryLayout : 1;
    auto layout = internal::DecodeLayout(plain[li], r.payloads_[li].record_count);
    if (!layout.ok()) return Annotate(layout.status(), PayloadName(li, PayloadKind::kLayout));
    r.layout_ = *std::move(layout);
    ONIX_RETURN_IF_ERROR_CTX(ValidateLayout(r.layout_, r.meta_.allow_setid),
                             PayloadName(li, PayloadKind::kLayout));
    if (r.type_ == StoneType::kManifest) return absl::OkStatus();

    const size_t ii = internal::kBinaryIndex, ci = internal::kBinaryContent;
    const PayloadInfo& content = r.payloads_[ci];
    auto index = internal::DecodeIndex(plain[ii], r.payloads_[ii].record_count);
    if (!index.ok()) return Annotate(index.status(), PayloadName(ii, PayloadKind::kIndex));
    r.content_index_ = *std::move(index);
    const std::string where = PayloadName(ii, PayloadKind::kIndex);
    if (content.record_count != r.content_index_.size()) {
      return InvalidArgument(StrCat(PayloadName(ci, PayloadKind::kContent), " declares ",
                                    content.record_count, " entries, the index has ",
                                    r.content_index_.size()));
    }
    // Ranges must tile Content exactly, in order: no overlap, no gap, nothing past the end.
    uint64_t expect_offset = 0;
    for (size_t i = 0; i < r.content_index_.size(); ++i) {
      const ContentRange& c = r.content_index_[i];
      if (c.offset != expect_offset) {
        return InvalidArgument(StrCat(where, ": entry ", i, " starts at ", c.offset,
                                      " where the previous range ended at ", expect_offset,
                                      " (overlapping or gapped ranges)"));
      }
      if (c.length > content.plain_length - c.offset) {
        return InvalidArgument(StrCat(where, ": entry ", i, " [", c.offset, ", +", c.length,
                                      ") runs past the ", content.plain_length,
                                      " bytes of content"));
      }
      expect_offset = c.offset + c.length;
    }
    if (expect_offset != content.plain_length) {
      return InvalidArgument(StrCat(where, ": ranges cover ", expect_offset, " bytes, content has ",
                                    content.plain_length));
    }
    // Each digest once; every range used by a layout path with the same size.
    std::vector<std::pair<Digest, size_t>> by_digest;
    by_digest.reserve(r.content_index_.size());
    for (size_t i = 0; i < r.content_index_.size(); ++i) {
      by_digest.emplace_back(r.content_index_[i].digest, i);
    }
    std::sort(by_digest.begin(), by_digest.end());
    for (size_t i = 1; i < by_digest.size(); ++i) {
      if (by_digest[i].first == by_digest[i - 1].first) {
        return InvalidArgument(StrCat(where, ": digest ", by_digest[i].first.Hex(),
                                      " repeats (entries ", by_digest[i - 1].second, " and ",
                                      by_digest[i].second, ")"));
      }
    }
    std::vector<bool> used(r.content_index_.size(), false);
    for (const LayoutEntry& e : r.layout_) {
      if (e.kind != FileKind::kRegular) continue;
      auto it = std::lower_bound(
          by_digest.begin(), by_digest.end(), e.digest,
          [](const std::pair<Digest, size_t>& c, const Digest& d) { return c.first < d; });
      if (it == by_digest.end() || it->first != e.digest) {
        return InvalidArgument(
            StrCat("layout path '", e.path, "': digest ", e.digest.Hex(), " is not in the index"));
      }
      const ContentRange& c = r.content_index_[it->second];
      if (c.length != e.size) {
        return InvalidArgument(StrCat("layout path '", e.path, "' has size ", e.size,
                                      " but its content range is ", c.length, " bytes"));
      }
      used[it->second] = true;
    }
    for (size_t i = 0; i < used.size(); ++i) {
      if (!used[i]) {
        return InvalidArgument(StrCat(where, ": entry ", i, " (", r.content_index_[i].digest.Hex(),
                                      ") belongs to no layout path"));
      }
    }
    return absl::OkStatus();
  };
  ONIX_RETURN_IF_ERROR_CTX(run(), StrCat("reading stone ", r.path_));
  return r;
}

absl::Status StoneReader::StreamContent(
    const std::function<absl::Status(const ContentRange&)>& begin,
    const std::function<absl::Status(std::string_view)>& chunk,
    const std::function<absl::Status(const ContentRange&)>& end) const {
  if (type_ != StoneType::kBinary) {
    return FailedPrecondition(
        StrCat("reading stone ", path_, ": a ", StoneTypeName(type_), " stone has no content"));
  }
  const PayloadInfo& p = payloads_[internal::kBinaryContent];
  const std::string where =
      StrCat("reading stone ", path_, ": ", PayloadName(internal::kBinaryContent, p.kind));
  size_t ri = 0;       // current range
  uint64_t rpos = 0;   // bytes of it seen
  uint64_t total = 0;  // plain bytes seen
  Sha256 file_hash;
  // Finishes the current range when complete, then any empty ranges after it.
  auto settle = [&]() -> absl::Status {
    while (ri < content_index_.size() && rpos == content_index_[ri].length) {
      const ContentRange& c = content_index_[ri];
      if (c.length == 0) ONIX_RETURN_IF_ERROR(begin(c));
      if (file_hash.Finish() != c.digest) {
        return DataLoss(
            StrCat(where, ": content of ", c.digest.Hex(), " does not match its digest"));
      }
      file_hash = Sha256();
      ONIX_RETURN_IF_ERROR(end(c));
      ++ri;
      rpos = 0;
    }
    return absl::OkStatus();
  };
  auto plain = [&](std::string_view bytes) -> absl::Status {
    if (bytes.size() > p.plain_length - total) {
      return InvalidArgument(
          StrCat(where, ": decompresses beyond its declared plain length ", p.plain_length));
    }
    total += bytes.size();
    while (!bytes.empty()) {
      ONIX_RETURN_IF_ERROR(settle());
      // total <= plain_length == sum of ranges, so a range is always open here.
      const ContentRange& c = content_index_[ri];
      if (rpos == 0) ONIX_RETURN_IF_ERROR(begin(c));
      const size_t n = static_cast<size_t>(std::min<uint64_t>(bytes.size(), c.length - rpos));
      file_hash.Update(bytes.substr(0, n));
      ONIX_RETURN_IF_ERROR(chunk(bytes.substr(0, n)));
      rpos += n;
      bytes.remove_prefix(n);
    }
    return absl::OkStatus();
  };

  ONIX_RETURN_IF_ERROR(settle());
  Sha256 stored_hash;
  std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx;
  if (p.compression == Compression::kZstd) {
    dctx.reset(ZSTD_createDCtx());
    if (!dctx) return Internal("ZSTD_createDCtx failed");
  }
  std::string in_buf(kReadChunk, '\0');
  std::string out_buf(ZSTD_DStreamOutSize(), '\0');
  size_t zret = 1;
  uint64_t done = 0;
  (void)::posix_fadvise(fd_.get(), static_cast<off_t>(p.file_offset),
                        static_cast<off_t>(p.stored_length), POSIX_FADV_SEQUENTIAL);
  while (done < p.stored_length) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kReadChunk, p.stored_length - done));
    ONIX_RETURN_IF_ERROR_CTX(PRead(fd_.get(), in_buf.data(), n, p.file_offset + done), where);
    done += n;
    std::string_view stored(in_buf.data(), n);
    stored_hash.Update(stored);
    if (!dctx) {
      ONIX_RETURN_IF_ERROR(plain(stored));
      continue;
    }
    ZSTD_inBuffer in{stored.data(), stored.size(), 0};
    while (in.pos < in.size) {
      ZSTD_outBuffer o{out_buf.data(), out_buf.size(), 0};
      zret = ZSTD_decompressStream(dctx.get(), &o, &in);
      if (ZSTD_isError(zret)) {
        return InvalidArgument(StrCat(where, ": corrupt zstd data: ", ZSTD_getErrorName(zret)));
      }
      ONIX_RETURN_IF_ERROR(plain(std::string_view(out_buf.data(), o.pos)));
    }
  }
  // Flush what the decoder still holds once all input is in.
  while (dctx && zret != 0) {
    ZSTD_inBuffer in{nullptr, 0, 0};
    ZSTD_outBuffer o{out_buf.data(), out_buf.size(), 0};
    zret = ZSTD_decompressStream(dctx.get(), &o, &in);
    if (ZSTD_isError(zret)) {
      return InvalidArgument(StrCat(where, ": corrupt zstd data: ", ZSTD_getErrorName(zret)));
    }
    if (o.pos == 0 && zret != 0) return InvalidArgument(StrCat(where, ": truncated zstd data"));
    ONIX_RETURN_IF_ERROR(plain(std::string_view(out_buf.data(), o.pos)));
  }
  if (stored_hash.Finish() != p.checksum) {
    return DataLoss(StrCat(where, ": checksum mismatch (corrupt file)"));
  }
  if (total != p.plain_length) {
    return InvalidArgument(
        StrCat(where, ": decompresses to ", total, " bytes, not the declared ", p.plain_length));
  }
  ONIX_RETURN_IF_ERROR(settle());
  return absl::OkStatus();
}

absl::Status StoneReader::ForEachContent(
    const std::function<absl::Status(const Digest&, std::string_view bytes)>& fn) const {
  std::string buf;
  return StreamContent(
      [&](const ContentRange& c) {
        buf.clear();
        buf.reserve(static_cast<size_t>(c.length));
        return absl::OkStatus();
      },
      [&](std::string_view bytes) {
        buf.append(bytes.data(), bytes.size());
        return absl::OkStatus();
      },
      [&](const ContentRange& c) { return fn(c.digest, buf); });
}

absl::Status StoneReader::Verify() const {
  if (type_ != StoneType::kBinary) return absl::OkStatus();  // Open verified everything
  return StreamContent([](const ContentRange&) { return absl::OkStatus(); },
                       [](std::string_view) { return absl::OkStatus(); },
                       [](const ContentRange&) { return absl::OkStatus(); });
}

}  // namespace onix::stone

#include "moss/repo/index.h"

#include <fcntl.h>

#include <algorithm>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::moss::repo {
namespace {

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() > suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix.data(), suffix.size()) == 0;
}

}  // namespace

absl::StatusOr<IndexSummary> BuildIndex(const std::string& dir, const IndexOptions& options) {
  const std::string ctx = StrCat("indexing ", dir);
  auto dfd = fs::OpenDir(dir);
  if (!dfd.ok()) return Annotate(dfd.status(), ctx);
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(dfd->get()));
  std::vector<stone::IndexRecord> records;
  std::vector<std::pair<std::string, Digest>> sums;
  for (const std::string& name : names) {
    if (!EndsWith(name, ".stone") || name[0] == '.') continue;
    const std::string path = StrCat(dir, "/", name);
    auto reader = stone::StoneReader::Open(path);
    if (!reader.ok()) return Annotate(reader.status(), ctx);
    if (reader->type() != stone::StoneType::kBinary) {
      return InvalidArgument(StrCat(ctx, ": ", path, " is a ", stone::StoneTypeName(reader->type()),
                                    " stone, not a binary stone"));
    }
    stone::IndexRecord rec;
    rec.meta = reader->meta();
    rec.file_name = name;
    auto digest = Sha256FileAt(dfd->get(), name, &rec.stone_size);
    if (!digest.ok()) return Annotate(digest.status(), ctx);
    rec.stone_digest = *digest;
    sums.emplace_back(name, rec.stone_digest);
    records.push_back(std::move(rec));
  }
  IndexSummary summary;
  summary.packages = records.size();
  const std::string index_path = StrCat(dir, "/", kIndexFile);
  ONIX_RETURN_IF_ERROR_CTX(stone::WriteIndexStone(std::move(records), index_path), ctx);
  ONIX_ASSIGN_OR_RETURN(std::string index_bytes, fs::ReadFileAt(dfd->get(), kIndexFile, 1u << 30));
  summary.index_digest = Sha256Of(index_bytes);
  sums.emplace_back(kIndexFile, summary.index_digest);
  std::sort(sums.begin(), sums.end());
  std::string text;
  for (const auto& [name, digest] : sums) text += StrCat(digest.Hex(), "  ", name, "\n");
  ONIX_RETURN_IF_ERROR_CTX(
      fs::WriteFileAtomicAt(dfd->get(), kSumsFile, text, 0644, fs::Durability::kFsync), ctx);
  if (options.sign_key != nullptr) {
    ONIX_ASSIGN_OR_RETURN(std::string sig, Sign(*options.sign_key, index_bytes));
    ONIX_RETURN_IF_ERROR_CTX(
        fs::WriteFileAtomicAt(dfd->get(), kSignatureFile, sig + "\n", 0644, fs::Durability::kFsync),
        ctx);
  } else {
    ONIX_ASSIGN_OR_RETURN(bool has_sig, fs::ExistsAt(dfd->get(), kSignatureFile));
    if (has_sig) ONIX_RETURN_IF_ERROR_CTX(fs::UnlinkAt(dfd->get(), kSignatureFile), ctx);
  }
  return summary;
}

absl::Status CheckStoneMatchesIndex(const stone::Meta& index, const stone::Meta& stone,
                                    std::string_view file) {
  auto sorted = [](std::vector<stone::Dependency> d) {
    std::sort(d.begin(), d.end());
    return d;
  };
  std::string field;
  if (index.name != stone.name) {
    field = "name";
  } else if (index.version != stone.version || index.source_release != stone.source_release ||
             index.build_release != stone.build_release) {
    field = "version";
  } else if (index.architecture != stone.architecture) {
    field = "architecture";
  } else if (sorted(index.depends) != sorted(stone.depends)) {
    field = "dependencies";
  } else if (sorted(index.provides) != sorted(stone.provides)) {
    field = "providers";
  } else if (sorted(index.conflicts) != sorted(stone.conflicts)) {
    field = "conflicts";
  } else if (sorted(index.replaces) != sorted(stone.replaces)) {
    field = "replaces";
  }
  if (field.empty()) return absl::OkStatus();
  return InvalidArgument(StrCat("stone ", file, " is not the package its index record describes (",
                                field, " differ): the index says ", EscapeControl(index.Nvr()),
                                ", the stone says ", EscapeControl(stone.Nvr()),
                                "; refusing it before anything is installed. The repository "
                                "is inconsistent: rebuild its index (moss index DIR)"));
}

absl::StatusOr<std::vector<solver::Package>> ReadIndex(const std::string& path) {
  const std::string ctx = StrCat("reading index ", path);
  auto reader = stone::StoneReader::Open(path);
  if (!reader.ok()) return Annotate(reader.status(), ctx);
  if (reader->type() != stone::StoneType::kIndex) {
    return InvalidArgument(StrCat(ctx, ": not an index stone"));
  }
  std::vector<solver::Package> out;
  out.reserve(reader->index_records().size());
  for (const stone::IndexRecord& r : reader->index_records()) {
    out.push_back({r.meta, r.stone_digest, r.stone_size, r.file_name});
  }
  return out;
}

}  // namespace onix::moss::repo

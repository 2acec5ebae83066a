#include "moss/stone/testing.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "moss/stone/format.h"

namespace onix::stone::testing {

std::map<std::string, TreeNode> WalkTree(const std::string& root, bool read_content) {
  namespace sfs = std::filesystem;
  std::map<std::string, TreeNode> out;
  std::error_code ec;
  for (auto it = sfs::recursive_directory_iterator(root, ec); !ec && it != sfs::end(it);
       it.increment(ec)) {
    const std::string full = it->path().string();
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0) continue;
    TreeNode n;
    n.mode = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode)) {
      n.type = 'd';
    } else if (S_ISLNK(st.st_mode)) {
      n.type = 'l';
      n.target = sfs::read_symlink(it->path(), ec).string();
    } else if (S_ISREG(st.st_mode)) {
      n.type = 'f';
      if (read_content) {
        std::ifstream in(full, std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        n.content = ss.str();
      } else {
        n.content = std::to_string(st.st_size);
      }
    }
    out[it->path().lexically_relative(root).string()] = n;
  }
  return out;
}

bool SameFileContent(const std::string& a, const std::string& b) {
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  if (!fa || !fb) return false;
  std::string ba(1 << 20, '\0'), bb(1 << 20, '\0');
  for (;;) {
    fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
    fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
    if (fa.gcount() != fb.gcount()) return false;
    if (std::memcmp(ba.data(), bb.data(), static_cast<size_t>(fa.gcount())) != 0) return false;
    if (fa.gcount() == 0) return true;
  }
}

std::string Craft(const RawStone& stone) {
  std::string body;
  for (const RawPayload& r : stone.payloads) {
    PayloadInfo p;
    p.kind = r.kind;
    p.compression = r.compression;
    p.record_count = r.record_count;
    p.stored_length = r.stored.size();
    p.plain_length = r.plain_length >= 0 ? static_cast<uint64_t>(r.plain_length) : r.stored.size();
    p.checksum = Sha256Of(r.stored);
    if (r.corrupt_checksum) p.checksum.bytes[0] ^= 1;
    body += internal::EncodePayloadHeader(p);
    body += r.stored;
  }
  internal::FileHeader h;
  h.type = stone.type;
  h.payload_count = static_cast<uint16_t>(stone.payloads.size());
  h.file_size = stone.file_size >= 0 ? static_cast<uint64_t>(stone.file_size)
                                     : internal::kHeaderSize + body.size();
  return internal::EncodeFileHeader(h) + body;
}

RawStone BinaryParts(const Meta& meta, const std::vector<LayoutEntry>& layout,
                     const std::vector<std::string>& contents) {
  RawStone s;
  uint32_t meta_count = 0;
  std::string m = internal::EncodeMeta(meta, 0, &meta_count);
  std::vector<ContentRange> index;
  std::string content;
  for (const auto& c : contents) {
    index.push_back({Sha256Of(c), content.size(), c.size()});
    content += c;
  }
  s.payloads.push_back({PayloadKind::kMeta, Compression::kNone, meta_count, m});
  s.payloads.push_back(
      {PayloadKind::kContent, Compression::kNone, static_cast<uint32_t>(index.size()), content});
  s.payloads.push_back({PayloadKind::kLayout, Compression::kNone,
                        static_cast<uint32_t>(layout.size()), internal::EncodeLayout(layout)});
  s.payloads.push_back({PayloadKind::kIndex, Compression::kNone,
                        static_cast<uint32_t>(index.size()), internal::EncodeIndex(index)});
  return s;
}

LayoutEntry Dir(std::string path, uint32_t mode) {
  LayoutEntry e;
  e.path = std::move(path);
  e.kind = FileKind::kDirectory;
  e.mode = mode;
  return e;
}

LayoutEntry File(std::string path, std::string_view content, uint32_t mode) {
  LayoutEntry e;
  e.path = std::move(path);
  e.kind = FileKind::kRegular;
  e.mode = mode;
  e.digest = Sha256Of(content);
  e.size = content.size();
  return e;
}

LayoutEntry Link(std::string path, std::string target) {
  LayoutEntry e;
  e.path = std::move(path);
  e.kind = FileKind::kSymlink;
  e.mode = 0777;
  e.target = std::move(target);
  return e;
}

Meta TestMeta(std::string name) {
  Meta m;
  m.name = std::move(name);
  m.version = "1.0";
  m.source_release = 2;
  m.build_release = 1;
  m.architecture = "x86_64";
  m.summary = "a test package";
  m.licenses = {"MIT"};
  m.depends = {Dependency{DepKind::kSoname, "libc.so.6(x86_64)", VersionOp::kAny, ""}};
  m.provides = {Dependency{DepKind::kBinary, "demo", VersionOp::kAny, ""}};
  return m;
}

}  // namespace onix::stone::testing

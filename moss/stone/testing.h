// Test helpers for //moss/stone: an independent tree walk to compare extracted trees, and a
// raw stone crafter for hostile-input tests (it writes whatever it is told, lies included).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "moss/stone/stone.h"

namespace onix::stone::testing {

// What a path looks like on disk, read with std::filesystem + lstat (not the stone code).
struct TreeNode {
  char type = '?';  // 'f', 'l', 'd'
  uint32_t mode = 0;
  std::string target;   // symlinks
  std::string content;  // regular files
  bool operator==(const TreeNode&) const = default;
};
// Relative path -> node for everything below `root`. Content is read fully, so keep this for
// small trees; big files are compared with SameFileContent.
std::map<std::string, TreeNode> WalkTree(const std::string& root, bool read_content = true);
bool SameFileContent(const std::string& a, const std::string& b);

// One payload of a crafted stone, written as given.
struct RawPayload {
  PayloadKind kind = PayloadKind::kMeta;
  Compression compression = Compression::kNone;
  uint32_t record_count = 0;
  std::string stored;
  int64_t plain_length = -1;  // -1: stored.size() (kNone) or the real plain size (set it)
  bool corrupt_checksum = false;
};
struct RawStone {
  StoneType type = StoneType::kBinary;
  std::vector<RawPayload> payloads;
  int64_t file_size = -1;  // -1: the real size
};
std::string Craft(const RawStone& stone);

// Binary stone payloads (Meta, Content, Layout, Index) for `layout` and `contents` (in the
// given order), uncompressed, with honest lengths: tests then break one thing.
RawStone BinaryParts(const Meta& meta, const std::vector<LayoutEntry>& layout,
                     const std::vector<std::string>& contents);

LayoutEntry Dir(std::string path, uint32_t mode = 0755);
LayoutEntry File(std::string path, std::string_view content, uint32_t mode = 0644);
LayoutEntry Link(std::string path, std::string target);
Meta TestMeta(std::string name = "demo");

}  // namespace onix::stone::testing

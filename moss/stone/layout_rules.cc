// ValidateLayout: the v1 path rules every reader enforces before anything touches a disk.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/stone/format.h"
#include "moss/stone/stone.h"

namespace onix::stone {
namespace {

constexpr int kMaxSymlinkHops = 40;

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

absl::Status CheckPath(std::string_view path) {
  if (path.empty()) return InvalidArgument("empty path");
  if (path.size() > internal::kMaxPathLength) {
    return InvalidArgument(StrCat("path longer than ", internal::kMaxPathLength, " bytes"));
  }
  if (path.find('\0') != std::string_view::npos) return InvalidArgument("path contains NUL");
  if (path.front() == '/') return InvalidArgument("absolute path");
  for (std::string_view part : Split(path)) {
    if (part.empty()) return InvalidArgument("empty path component");
    if (part == "..") return InvalidArgument("'..' component");
    if (part == ".") return InvalidArgument("'.' component");
    // Names moss itself writes inside /usr (repair's temporaries, anywhere in the tree).
    if (part.rfind(".moss-", 0) == 0) {
      return InvalidArgument("reserved name: moss owns '.moss-*' entries inside /usr");
    }
  }
  // /usr/.fstx identifies the tree (state id and token); its atomic writes use ".fstx.*".
  if (path == ".fstx" || path.rfind(".fstx.", 0) == 0) {
    return InvalidArgument("reserved path: moss owns /usr/.fstx, the tree's identity");
  }
  return absl::OkStatus();
}

// The layout as a tree of numbered nodes (0 is /usr itself), so symlinks resolve by walking
// nodes instead of joining and hashing whole paths. Each symlink is resolved once and
// memoised, which keeps a hostile layout of long targets and link chains linear in its size.
class Resolver {
 public:
  // Where a resolution stands: a layout node, plus `virt` components below it that the
  // layout does not hold (a dangling target is fine as long as it stays inside /usr).
  struct Pos {
    int node = 0;
    int virt = 0;
  };

  explicit Resolver(const std::vector<LayoutEntry>& layout) : layout_(layout) {
    parent_.assign(layout.size() + 1, 0);
    state_.assign(layout.size() + 1, 0);
    memo_.resize(layout.size() + 1);
  }
  // Called in layout order with the node of the entry's parent directory.
  void Add(int parent, std::string_view name) {
    const int id = static_cast<int>(children_.size()) + 1;
    parent_[id] = parent;
    children_.emplace(Key{parent, name}, id);
  }
  absl::Status Check(int id) { return Resolve(id, 0).status(); }

 private:
  struct Key {
    int parent;
    std::string_view name;
    bool operator==(const Key& o) const { return parent == o.parent && name == o.name; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<std::string_view>()(k.name) * 31 + static_cast<size_t>(k.parent);
    }
  };
  const LayoutEntry& Entry(int id) const { return layout_[static_cast<size_t>(id - 1)]; }

  absl::StatusOr<Pos> Resolve(int id, int depth) {
    if (state_[id] == 2) return memo_[id];
    if (state_[id] == 1 || depth > kMaxSymlinkHops) {
      return InvalidArgument("too many levels of symlinks");
    }
    state_[id] = 1;
    std::string_view target = Entry(id).target;
    if (target.empty()) return InvalidArgument("empty symlink target");
    if (target.find('\0') != std::string_view::npos) return InvalidArgument("target contains NUL");
    if (target.size() > internal::kMaxPathLength) return InvalidArgument("target too long");
    Pos pos{parent_[id], 0};
    if (target.front() == '/') {
      if (target != "/usr" && target.substr(0, 5) != "/usr/") {
        return InvalidArgument(StrCat("absolute target '", target, "' is outside /usr"));
      }
      pos = Pos{0, 0};
      target.remove_prefix(4);
    }
    for (std::string_view part : Split(target)) {
      if (part.empty() || part == ".") continue;
      if (part == "..") {
        if (pos.virt > 0) {
          --pos.virt;
        } else if (pos.node == 0) {
          return InvalidArgument("target resolves outside /usr");
        } else {
          pos.node = parent_[pos.node];
        }
        continue;
      }
      if (pos.virt > 0) {
        ++pos.virt;
        continue;
      }
      auto it = children_.find(Key{pos.node, part});
      if (it == children_.end()) {
        pos.virt = 1;
        continue;
      }
      const LayoutEntry& child = Entry(it->second);
      if (child.kind == FileKind::kSymlink) {
        auto sub = Resolve(it->second, depth + 1);
        if (!sub.ok()) {
          return InvalidArgument(StrCat("through '", child.path, "': ", sub.status().message()));
        }
        pos = *sub;
      } else if (child.kind == FileKind::kDirectory) {
        pos.node = it->second;
      } else {
        // Below a regular file the kernel says ENOTDIR; nothing can escape from there.
        pos = Pos{it->second, 1};
      }
    }
    state_[id] = 2;
    memo_[id] = pos;
    return pos;
  }

  const std::vector<LayoutEntry>& layout_;
  std::vector<int> parent_;
  std::vector<uint8_t> state_;  // 0 unresolved, 1 resolving, 2 resolved
  std::vector<Pos> memo_;
  std::unordered_map<Key, int, KeyHash> children_;
};

}  // namespace

absl::Status ValidateLayout(const std::vector<LayoutEntry>& layout, bool allow_setid) {
  std::unordered_map<std::string_view, int> ids;  // path -> node id (entry index + 1)
  ids.reserve(layout.size());
  Resolver resolver(layout);
  for (size_t i = 0; i < layout.size(); ++i) {
    const LayoutEntry& e = layout[i];
    auto bad = [&](std::string_view why) {
      return InvalidArgument(
          StrCat("layout path '", EscapeControl(e.path.substr(0, 256)), "': ", why));
    };
    if (absl::Status s = CheckPath(e.path); !s.ok()) return bad(std::string(s.message()));
    if (i > 0 && !(layout[i - 1].path < e.path)) {
      if (layout[i - 1].path == e.path) return bad("duplicate path");
      return bad(
          StrCat("not sorted after '", EscapeControl(layout[i - 1].path.substr(0, 256)), "'"));
    }
    if (e.kind != FileKind::kRegular && e.kind != FileKind::kSymlink &&
        e.kind != FileKind::kDirectory) {
      return bad("unsupported file type (device, fifo or socket)");
    }
    if (e.mode & ~07777u) return bad(StrCat("mode ", e.mode, " has file-type bits"));
    // (uid_t)-1 means "unchanged" to chown: it would silently install as whoever extracts.
    if (e.uid == UINT32_MAX || e.gid == UINT32_MAX) {
      return bad("owner 4294967295 ((uid_t)-1, \"no owner\" to chown) is not allowed");
    }
    if ((e.mode & 06000u) && !allow_setid) {
      return bad("setuid/setgid mode without allow_setid in the metadata");
    }
    if (e.kind != FileKind::kSymlink && !e.target.empty()) {
      return bad("symlink target on a non-symlink");
    }
    int parent = 0;
    const size_t slash = e.path.rfind('/');
    if (slash != std::string::npos) {
      auto it = ids.find(std::string_view(e.path.data(), slash));
      if (it == ids.end()) return bad("parent directory is not in the layout");
      if (layout[static_cast<size_t>(it->second - 1)].kind != FileKind::kDirectory) {
        return bad("parent is not a directory (nothing may live below a symlink)");
      }
      parent = it->second;
    }
    ids.emplace(e.path, static_cast<int>(i) + 1);
    resolver.Add(parent, slash == std::string::npos ? std::string_view(e.path)
                                                    : std::string_view(e.path).substr(slash + 1));
  }
  for (size_t i = 0; i < layout.size(); ++i) {
    const LayoutEntry& e = layout[i];
    if (e.kind != FileKind::kSymlink) continue;
    absl::Status s = resolver.Check(static_cast<int>(i) + 1);
    if (!s.ok()) {
      return InvalidArgument(StrCat("layout symlink '", EscapeControl(e.path.substr(0, 256)),
                                    "' -> '", EscapeControl(e.target.substr(0, 256)),
                                    "': ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace onix::stone

// ValidateLayout: the v1 path rules every reader enforces before anything touches a disk.
#include <algorithm>
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

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
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
  }
  return absl::OkStatus();
}

// Resolves the symlink at `link_path` through the layout (following chains of symlinks that
// are themselves layout entries) and fails if any step leaves /usr. Names that the layout
// does not hold are taken as plain directories: what is not there cannot redirect.
absl::Status CheckSymlinkStaysInside(
    const std::string& link_path,
    const std::unordered_map<std::string_view, std::string_view>& links) {
  std::vector<std::string> base;
  {
    auto parts = Split(link_path);
    parts.pop_back();
    for (auto p : parts) base.emplace_back(p);
  }
  int hops = 0;
  // An explicit stack of (components still to walk) keeps this iterative and bounded.
  std::vector<std::string> stack = base;
  std::vector<std::string> todo;  // reversed remaining components
  auto push_target = [&](std::string_view target) -> absl::Status {
    if (target.empty()) return InvalidArgument("empty symlink target");
    if (target.find('\0') != std::string_view::npos) return InvalidArgument("target contains NUL");
    if (target.size() > internal::kMaxPathLength) return InvalidArgument("target too long");
    if (target.front() == '/') {
      if (target != "/usr" && target.substr(0, 5) != "/usr/") {
        return InvalidArgument(StrCat("absolute target '", target, "' is outside /usr"));
      }
      stack.clear();
      target.remove_prefix(target == "/usr" ? 4 : 5);
    }
    auto parts = Split(target);
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo.emplace_back(*it);
    return absl::OkStatus();
  };
  ONIX_RETURN_IF_ERROR(push_target(links.at(link_path)));
  while (!todo.empty()) {
    std::string part = std::move(todo.back());
    todo.pop_back();
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (stack.empty()) return InvalidArgument("target resolves outside /usr");
      stack.pop_back();
      continue;
    }
    stack.push_back(std::move(part));
    auto it = links.find(Join(stack));
    if (it == links.end()) continue;
    if (++hops > kMaxSymlinkHops) return InvalidArgument("too many levels of symlinks");
    stack.pop_back();
    ONIX_RETURN_IF_ERROR(push_target(it->second));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateLayout(const std::vector<LayoutEntry>& layout, bool allow_setid) {
  std::unordered_map<std::string_view, FileKind> kinds;
  std::unordered_map<std::string_view, std::string_view> links;
  kinds.reserve(layout.size());
  for (size_t i = 0; i < layout.size(); ++i) {
    const LayoutEntry& e = layout[i];
    auto bad = [&](const absl::Status& s) {
      return InvalidArgument(StrCat("layout path '", e.path.substr(0, 256), "': ", s.message()));
    };
    ONIX_RETURN_IF_ERROR(CheckPath(e.path).ok() ? absl::OkStatus() : bad(CheckPath(e.path)));
    if (i > 0 && !(layout[i - 1].path < e.path)) {
      if (layout[i - 1].path == e.path) return bad(InvalidArgument("duplicate path"));
      return bad(InvalidArgument("not sorted after '" + layout[i - 1].path + "'"));
    }
    if (e.kind != FileKind::kRegular && e.kind != FileKind::kSymlink &&
        e.kind != FileKind::kDirectory) {
      return bad(InvalidArgument("unsupported file type (device, fifo or socket)"));
    }
    if (e.mode & ~07777u)
      return bad(InvalidArgument(StrCat("mode ", e.mode, " has file-type bits")));
    if ((e.mode & 06000u) && !allow_setid) {
      return bad(InvalidArgument("setuid/setgid mode without allow_setid in the metadata"));
    }
    const size_t slash = e.path.rfind('/');
    if (slash != std::string::npos) {
      std::string_view parent(e.path.data(), slash);
      auto it = kinds.find(parent);
      if (it == kinds.end()) return bad(InvalidArgument("parent directory is not in the layout"));
      if (it->second != FileKind::kDirectory) {
        return bad(InvalidArgument("parent is not a directory (nothing may live below a symlink)"));
      }
    }
    kinds.emplace(e.path, e.kind);
    if (e.kind == FileKind::kSymlink) {
      links.emplace(e.path, e.target);
    } else if (!e.target.empty()) {
      return bad(InvalidArgument("symlink target on a non-symlink"));
    }
  }
  for (const LayoutEntry& e : layout) {
    if (e.kind != FileKind::kSymlink) continue;
    absl::Status s = CheckSymlinkStaysInside(e.path, links);
    if (!s.ok()) {
      return InvalidArgument(StrCat("layout symlink '", e.path, "' -> '", e.target.substr(0, 256),
                                    "': ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace onix::stone

#include "moss/state/layout.h"

#include <algorithm>
#include <map>

#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::moss::state {

absl::StatusOr<std::vector<OwnedEntry>> MergeLayouts(const std::vector<PackageLayout>& packages) {
  std::map<std::string, OwnedEntry> by_path;
  for (const auto& pkg : packages) {
    for (const auto& e : *pkg.layout) {
      auto [it, inserted] = by_path.try_emplace(e.path, OwnedEntry{e, pkg.package});
      if (inserted) continue;
      const OwnedEntry& have = it->second;
      if (have.entry.kind == stone::FileKind::kDirectory && e.kind == stone::FileKind::kDirectory) {
        continue;
      }
      return InvalidArgument(StrCat("path conflict: /usr/", e.path, " is shipped by both ",
                                    have.package, " and ", pkg.package));
    }
  }
  std::vector<OwnedEntry> out;
  out.reserve(by_path.size());
  for (auto& [path, entry] : by_path) out.push_back(std::move(entry));
  return out;
}

std::vector<stone::LayoutEntry> Entries(const std::vector<OwnedEntry>& merged) {
  std::vector<stone::LayoutEntry> out;
  out.reserve(merged.size());
  for (const auto& e : merged) out.push_back(e.entry);
  return out;
}

LayoutDiff DiffLayouts(const std::vector<stone::LayoutEntry>& from,
                       const std::vector<stone::LayoutEntry>& to) {
  std::map<std::string, const stone::LayoutEntry*> a, b;
  for (const auto& e : from) a[e.path] = &e;
  for (const auto& e : to) b[e.path] = &e;
  LayoutDiff d;
  for (const auto& [path, e] : a) {
    auto it = b.find(path);
    if (it == b.end()) {
      d.removed.push_back(path);
    } else if (!(*it->second == *e)) {
      d.changed.push_back(path);
    }
  }
  for (const auto& [path, e] : b) {
    if (!a.count(path)) d.added.push_back(path);
  }
  return d;
}

}  // namespace onix::moss::state

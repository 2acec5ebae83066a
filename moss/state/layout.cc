#include "moss/state/layout.h"

#include <algorithm>

#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::moss::state {

absl::StatusOr<std::vector<OwnedEntry>> MergeLayouts(const std::vector<PackageLayout>& packages) {
  // Pointers sorted by (path, package order) instead of a map of copies: an activation merges
  // two states of thousands of paths, and this is most of its planning time.
  struct Ref {
    const stone::LayoutEntry* entry;
    size_t package;
  };
  std::vector<Ref> refs;
  size_t total = 0;
  for (const auto& pkg : packages) total += pkg.layout->size();
  refs.reserve(total);
  for (size_t p = 0; p < packages.size(); ++p) {
    for (const auto& e : *packages[p].layout) refs.push_back({&e, p});
  }
  std::sort(refs.begin(), refs.end(), [](const Ref& x, const Ref& y) {
    const int c = x.entry->path.compare(y.entry->path);
    return c != 0 ? c < 0 : x.package < y.package;
  });
  std::vector<OwnedEntry> out;
  out.reserve(refs.size());
  for (size_t i = 0; i < refs.size(); ++i) {
    const Ref& r = refs[i];
    if (i > 0 && refs[i - 1].entry->path == r.entry->path) {
      // The first package (in the given order) owns the path; a second is fine only when
      // both ship a directory.
      size_t first = i - 1;
      while (first > 0 && refs[first - 1].entry->path == r.entry->path) --first;
      const Ref& have = refs[first];
      if (have.entry->kind == stone::FileKind::kDirectory &&
          r.entry->kind == stone::FileKind::kDirectory) {
        continue;
      }
      return InvalidArgument(StrCat("path conflict: /usr/", r.entry->path, " is shipped by both ",
                                    packages[have.package].package, " and ",
                                    packages[r.package].package));
    }
    out.push_back(OwnedEntry{*r.entry, packages[r.package].package});
  }
  return out;
}

std::vector<stone::LayoutEntry> Entries(const std::vector<OwnedEntry>& merged) {
  std::vector<stone::LayoutEntry> out;
  out.reserve(merged.size());
  for (const auto& e : merged) out.push_back(e.entry);
  return out;
}

namespace {

// `layout` in path order, as pointers (layouts are normally sorted already).
std::vector<const stone::LayoutEntry*> ByPath(const std::vector<stone::LayoutEntry>& layout) {
  std::vector<const stone::LayoutEntry*> out;
  out.reserve(layout.size());
  for (const auto& e : layout) out.push_back(&e);
  auto less = [](const stone::LayoutEntry* x, const stone::LayoutEntry* y) {
    return x->path < y->path;
  };
  if (!std::is_sorted(out.begin(), out.end(), less)) std::stable_sort(out.begin(), out.end(), less);
  return out;
}

}  // namespace

LayoutDiff DiffLayouts(const std::vector<stone::LayoutEntry>& from,
                       const std::vector<stone::LayoutEntry>& to) {
  // One merge walk over both sorted lists. A path listed twice counts once (its last entry),
  // as the map this replaces did.
  const std::vector<const stone::LayoutEntry*> a = ByPath(from), b = ByPath(to);
  LayoutDiff d;
  size_t i = 0, j = 0;
  auto last_of = [](const std::vector<const stone::LayoutEntry*>& v, size_t& k) {
    while (k + 1 < v.size() && v[k + 1]->path == v[k]->path) ++k;
    return v[k];
  };
  while (i < a.size() || j < b.size()) {
    const int c = i == a.size() ? 1 : j == b.size() ? -1 : a[i]->path.compare(b[j]->path);
    if (c < 0) {
      d.removed.push_back(last_of(a, i)->path);
      ++i;
    } else if (c > 0) {
      d.added.push_back(last_of(b, j)->path);
      ++j;
    } else {
      const stone::LayoutEntry* x = last_of(a, i);
      const stone::LayoutEntry* y = last_of(b, j);
      if (!(*x == *y)) d.changed.push_back(x->path);
      ++i;
      ++j;
    }
  }
  return d;
}

}  // namespace onix::moss::state

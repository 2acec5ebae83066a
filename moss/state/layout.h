// The merged layout of a state: every package's layout in one path-sorted list, with path
// conflicts found before anything is written, and the difference between two states.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "moss/stone/types.h"

namespace onix::moss::state {

// A layout entry with the package that ships it.
struct OwnedEntry {
  stone::LayoutEntry entry;
  std::string package;
};

struct PackageLayout {
  std::string package;
  const std::vector<stone::LayoutEntry>* layout = nullptr;
};

// Merges the layouts into one list sorted by path. A directory may come from several
// packages (the first one's mode wins). Any other path shipped by two packages, or a
// directory in one and a file or symlink in another, is InvalidArgument naming the path and
// both packages; nothing is written by this function, so callers run it before any effect.
absl::StatusOr<std::vector<OwnedEntry>> MergeLayouts(const std::vector<PackageLayout>& packages);

// Plain entries of a merged layout.
std::vector<stone::LayoutEntry> Entries(const std::vector<OwnedEntry>& merged);

// Paths (relative to /usr) added, removed and changed (kind, mode, owner, content or target)
// from `from` to `to`, each sorted.
struct LayoutDiff {
  std::vector<std::string> added;
  std::vector<std::string> removed;
  std::vector<std::string> changed;
  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
};
LayoutDiff DiffLayouts(const std::vector<stone::LayoutEntry>& from,
                       const std::vector<stone::LayoutEntry>& to);

}  // namespace onix::moss::state

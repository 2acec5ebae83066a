// Building and checking a state's /usr tree from the store: hardlinks by default (FICLONE
// reflink, then a plain copy, where a hardlink is impossible), directory fds, no symlink
// ever followed, write bits stripped from files.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "moss/stone/types.h"
#include "moss/store/store.h"

namespace onix::moss::state {

// The store object a regular layout entry is built from.
store::ObjectKey KeyOf(const stone::LayoutEntry& entry);

struct BuildOptions {
  int threads = 0;  // workers linking files; 0 = two more than CPUs (at most 8)
};

// Materialises `layout` below `dirfd`, which must be an empty directory. Every entry's
// parent must be a directory entry of the layout (InvalidArgument naming the entry
// otherwise, before anything is made). Pre-condition: the object of every regular entry is
// in `store`. Parallel workers each take one directory: make its subdirectories, then its
// symlinks, then link its files from the store; directory modes mkdir could not give (no
// owner rwx, special bits, other owners) come last. While the top three levels make their
// subdirectories they carry ext4's FS_TOPDIR_FL (cleared again), so the tree's directories
// spread over the block groups (see tree.cc). On error `dirfd` holds a partial tree that the
// caller discards; nothing outside `dirfd` (and no store object) is modified.
absl::Status BuildTree(const store::Store& store, const std::vector<stone::LayoutEntry>& layout,
                       int dirfd, const BuildOptions& options = {});

// Removes `name` below `dirfd` with everything in it (missing is fine), never following a
// symlink: entry types come from getdents, so a file costs one unlinkat (the generic
// fs::RemoveTreeAt stats every entry first). Read-only directories are made writable to be
// emptied. The subtrees of the first two levels are removed by a few workers. Not atomic:
// callers rename the tree to a trash name first when a crash must not leave it half there.
absl::Status RemoveTree(int dirfd, const std::string& name);

struct TreeProblem {
  std::string path;     // relative to the tree
  std::string problem;  // "missing", "content does not match", ...
};

// Tells CheckTree whether a store object is known good (verified this run).
using ObjectOk = std::function<bool(const store::ObjectKey&)>;

// Compares the tree below `dirfd` with `layout`: kinds, modes, symlink targets, and file
// contents. A file that is a hardlink of its store object is as good as the object
// (`object_ok`); any other file is re-hashed. Entries not in the layout (.fstx, trigger
// output) are not reported. Read-only.
absl::StatusOr<std::vector<TreeProblem>> CheckTree(const store::Store& store,
                                                   const std::vector<stone::LayoutEntry>& layout,
                                                   int dirfd, const ObjectOk& object_ok);

// Re-creates one entry of a tree from the store, replacing whatever is at its path by an
// atomic rename (a reader sees the old or the new entry). Pre-condition: the entry's object
// is in the store and good.
absl::Status RepairEntry(const store::Store& store, const stone::LayoutEntry& entry, int dirfd);

// The durable identity written inside every state tree as ".fstx": the fstx on the first
// line and a random token on the second. Inode numbers are not used because they change
// across backups and restores; a token inside the tree travels with it.
struct TreeId {
  std::string fstx;
  std::string token;
};
// Writes ".fstx" below `dirfd` atomically and durably.
absl::Status WriteTreeId(int dirfd, const TreeId& id);
// Reads ".fstx"; NotFound when the tree has none (not a moss tree).
absl::StatusOr<TreeId> ReadTreeId(int dirfd);
// 16 random hex digits from getrandom(2).
std::string NewToken();

}  // namespace onix::moss::state

// A selection: the full list of packages the next state should hold. The transaction
// computes the new state from it; `moss install`/`moss remove` build one from the current
// state plus local stone files, the solver from a resolved plan.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "moss/base/sha256.h"
#include "moss/stone/types.h"
#include "moss/transaction/root.h"

namespace onix::moss::transaction {

struct SelectedPackage {
  stone::Meta meta;
  Digest stone_digest;  // SHA-256 of the .stone file
  bool is_explicit = true;
  // A local .stone file to take layout and content from. Empty when the stone is already
  // known to the root (recorded in the database, content in the store or the stone cache).
  std::string stone_path;
};

using Selection = std::vector<SelectedPackage>;

// Opens a stone file (validating it) and hashes it: an explicit package of that stone.
// NotFound when the file is missing, InvalidArgument when it is not a binary stone.
absl::StatusOr<SelectedPackage> SelectStoneFile(const std::string& path);

// The active state's packages (empty before the first transaction). This is also what the
// solver loads as the installed repository: name, version, releases, stone digest, explicit
// flag and full metadata (depends/provides) are in each entry.
absl::StatusOr<Selection> CurrentSelection(MachineRoot& root);

// The current selection with each stone file added as an explicit package, replacing an
// installed package of the same name. Two files of one package name are InvalidArgument.
absl::StatusOr<Selection> InstallSelection(MachineRoot& root,
                                           const std::vector<std::string>& stone_files);

// The current selection without the named packages; NotFound naming any that is not
// installed.
absl::StatusOr<Selection> RemoveSelection(MachineRoot& root, const std::vector<std::string>& names);

}  // namespace onix::moss::transaction

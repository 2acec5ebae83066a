// Read-only questions about a machine root: installed packages, who owns a path, and what
// differs between two states. No lock needed (SQLite readers do not block the writer).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "moss/db/db.h"
#include "moss/state/layout.h"
#include "moss/state/manifest.h"
#include "moss/transaction/root.h"
#include "moss/transaction/transaction.h"

namespace onix::moss::transaction {

// The active state's packages sorted by name (empty before the first state).
absl::StatusOr<std::vector<state::PackageRecord>> InstalledPackages(MachineRoot& root);

// An installed package and its layout; NotFound naming it when not installed.
struct PackageInfo {
  state::PackageRecord record;
  std::vector<stone::LayoutEntry> layout;
};
absl::StatusOr<PackageInfo> InstalledPackage(MachineRoot& root, std::string_view name);

// Who ships `path` in the active state. `path` may be "/usr/bin/sh", "usr/bin/sh" or
// "bin/sh"; NotFound when no package does.
absl::StatusOr<std::vector<db::PathOwner>> SearchFile(MachineRoot& root, std::string_view path);

struct StateDiff {
  std::string from, to;
  std::vector<PackageChange> packages;
  state::LayoutDiff files;
};
// Packages and files added, removed and changed from state `a` to state `b`.
absl::StatusOr<StateDiff> DiffStates(MachineRoot& root, std::string_view a, std::string_view b);

}  // namespace onix::moss::transaction

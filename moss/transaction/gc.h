// Store garbage: objects and cached stones no retained state references. Shared by prune and
// by the rollback ladder, which frees what an abandoned candidate brought in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>

#include "absl/status/statusor.h"
#include "moss/store/store.h"
#include "moss/transaction/root.h"

namespace onix::moss::transaction {

struct GcResult {
  size_t objects_removed = 0;
  uint64_t bytes_freed = 0;
  size_t stones_removed = 0;
};

// Removes store objects and cached stones no retained state references. Pre-condition:
// root lock held (no candidate is being built). Each removal is one unlink; a crash leaves
// some garbage for the next run, never a referenced object removed.
absl::StatusOr<GcResult> CollectGarbage(MachineRoot& root, bool dry_run = false);

// Every store object a committed state's layout needs.
absl::StatusOr<std::set<store::ObjectKey>> ReferencedObjects(MachineRoot& root);

}  // namespace onix::moss::transaction

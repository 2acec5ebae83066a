// Getting content into the store: from the stones of a transaction (read in parallel,
// every file verified by the stone reader and again by the store) or from the root's stone
// cache (ROOT/.moss/cache/stones/<digest>.stone), which also lets `state verify --repair`
// restore a corrupt object.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "moss/stone/stone.h"
#include "moss/stone/types.h"
#include "moss/store/store.h"
#include "moss/transaction/root.h"

namespace onix::moss::transaction {

// Content digest -> the objects (mode/owner variants) of it the store lacks.
using NeededObjects = std::map<Digest, std::set<store::ObjectKey>>;

// The objects the regular entries of `layout` need that are not in the store.
absl::StatusOr<NeededObjects> MissingObjects(const store::Store& store,
                                             const std::vector<stone::LayoutEntry>& layout);

// Adds every needed object: first from `sources` (a few workers, one stone each at a time,
// streaming each file into the store), then from cached stones that the database says carry
// the digest. NotFound naming a digest nobody has.
// Objects appear atomically (see Store::Put); nothing is synced here.
absl::Status FetchObjects(MachineRoot& root, const NeededObjects& needed,
                          const std::vector<const stone::StoneReader*>& sources);

// "<root>/.moss/cache/stones/<hex>.stone".
std::string CachedStonePath(const MachineRoot& root, const Digest& stone_digest);

// Copies the stone file at `path` into the cache unless it is there (temp file + rename,
// so the cache never holds a partial stone).
absl::Status CacheStone(const MachineRoot& root, const std::string& path, const Digest& digest);

}  // namespace onix::moss::transaction

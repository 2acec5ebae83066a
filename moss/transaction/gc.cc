#include "moss/transaction/gc.h"

#include <sys/stat.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "moss/base/check.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/state/tree.h"

namespace onix::moss::transaction {

// Every object a retained state needs: the regular files of every stone a committed state
// selects, from each stone's layout blob. A path has one owner per state, so this union is the
// same as walking each state's merged layout, without parsing a manifest or merging per state.
absl::StatusOr<std::set<store::ObjectKey>> ReferencedObjects(MachineRoot& root) {
  std::set<store::ObjectKey> out;
  ONIX_ASSIGN_OR_RETURN(std::vector<Digest> stones, root.db().StonesOfCommittedStates());
  for (const auto& stone_digest : stones) {
    ONIX_ASSIGN_OR_RETURN(db::LayoutPtr layout, root.db().Layout(stone_digest));
    for (const auto& e : *layout) {
      if (e.kind == stone::FileKind::kRegular) out.insert(state::KeyOf(e));
    }
  }
  return out;
}

absl::StatusOr<GcResult> CollectGarbage(MachineRoot& root, bool dry_run) {
  ONIX_CHECK(root.writable() || dry_run) << "garbage collection needs the root lock";
  GcResult gc;
  ONIX_ASSIGN_OR_RETURN(std::set<store::ObjectKey> referenced, ReferencedObjects(root));
  ONIX_ASSIGN_OR_RETURN(std::vector<store::ObjectKey> all, root.store().List());
  for (const auto& key : all) {
    if (referenced.count(key)) continue;
    absl::StatusOr<struct stat> st = fs::StatAt(root.store().fd(), key.RelPath());
    if (st.ok()) gc.bytes_freed += static_cast<uint64_t>(st->st_size);
    ++gc.objects_removed;
    if (!dry_run) ONIX_RETURN_IF_ERROR(root.store().Remove(key));
  }
  if (dry_run) return gc;
  ONIX_ASSIGN_OR_RETURN(std::vector<Digest> stones, root.db().DeleteUnreferencedStones());
  // The cache may also hold stones the database never recorded (a crash between caching
  // and recording): anything not known is garbage.
  std::set<std::string> removed_hex;
  for (const auto& d : stones) removed_hex.insert(d.Hex());
  ONIX_ASSIGN_OR_RETURN(UniqueFd cache, fs::OpenDirAt(root.moss_fd(), "cache/stones"));
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> files, fs::ListDir(cache.get()));
  for (const auto& f : files) {
    const std::string hex = f.substr(0, f.find('.'));
    absl::StatusOr<Digest> d = Digest::FromHex(hex);
    bool keep = false;
    if (d.ok() && absl::EndsWith(f, ".stone") && !removed_hex.count(hex)) {
      ONIX_ASSIGN_OR_RETURN(keep, root.db().HasStone(*d));
    }
    if (keep) continue;
    ONIX_RETURN_IF_ERROR(fs::UnlinkAt(cache.get(), f));
    if (d.ok() && removed_hex.count(hex)) ++gc.stones_removed;
  }
  return gc;
}

}  // namespace onix::moss::transaction

// The content-addressed store of a machine root: ROOT/.moss/store/<2 hex>/<object>, one
// read-only file per (content digest, mode, owner), verified against its digest on entry.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "moss/base/fd.h"
#include "moss/base/sha256.h"

namespace onix::moss::store {

// Trees are built by hardlinking store objects, and a hardlink shares mode and owner with
// every other name of the inode. So, like ostree's `bare` objects, an object is keyed by its
// content digest *and* the metadata a hardlink would share. The common case (0444, root)
// is named by the bare hex digest; others get a ".<mode>.<uid>.<gid>" suffix.
struct ObjectKey {
  Digest digest;
  uint32_t mode = 0444;  // permission bits with write bits already stripped
  uint32_t uid = 0;
  uint32_t gid = 0;

  // The key for a layout file of `mode` (write bits are stripped here).
  static ObjectKey For(const Digest& digest, uint32_t mode, uint32_t uid, uint32_t gid);
  // "<hex>" or "<hex>.<octal mode>.<uid>.<gid>".
  std::string Name() const;
  // "<first 2 hex>/<Name()>", relative to the store directory.
  std::string RelPath() const;
  // Parses Name(); InvalidArgument otherwise.
  static absl::StatusOr<ObjectKey> Parse(std::string_view name);

  friend bool operator==(const ObjectKey&, const ObjectKey&) = default;
  friend auto operator<=>(const ObjectKey& a, const ObjectKey& b) {
    if (a.digest != b.digest) return a.digest < b.digest ? -1 : 1;
    if (a.mode != b.mode) return a.mode < b.mode ? -1 : 1;
    if (a.uid != b.uid) return a.uid < b.uid ? -1 : 1;
    if (a.gid != b.gid) return a.gid < b.gid ? -1 : 1;
    return 0;
  }
};

class Store;

// One object being added piece by piece: an unnamed O_TMPFILE in its shard, hashed as it is
// written. Nothing is visible in the store until Publish, and a writer dropped before it
// leaves nothing behind. Lets a stone's content enter the store with one chunk in memory
// instead of the whole file.
class ObjectWriter {
 public:
  ObjectWriter(ObjectWriter&&) = default;
  ObjectWriter& operator=(ObjectWriter&&) = default;

  absl::Status Append(std::string_view bytes);

  // Checks that the appended bytes hash to the digest (DataLoss, and nothing published,
  // otherwise), then links the object under each of `keys` (all of this digest; the first
  // gets this inode, other mode/owner variants a copy), skipping keys already present. Each
  // object appears atomically. Not fsynced (see Store::Put).
  absl::Status Publish(const std::vector<ObjectKey>& keys);

 private:
  friend class Store;
  ObjectWriter(int store_fd, const Digest& digest, UniqueFd shard, UniqueFd tmp)
      : store_fd_(store_fd), digest_(digest), shard_(std::move(shard)), tmp_(std::move(tmp)) {}

  int store_fd_;
  Digest digest_;
  UniqueFd shard_, tmp_;
  Sha256 hash_;
  uint64_t size_ = 0;
};

class Store {
 public:
  // Opens (creating when missing, mode 0755) the store directory `name` below `moss_dirfd`.
  static absl::StatusOr<Store> Open(int moss_dirfd, std::string_view name = "store");

  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store();

  int fd() const { return fd_.get(); }

  absl::StatusOr<bool> Has(const ObjectKey& key) const;

  // Adds `bytes` as object `key` unless it is already there. The bytes are hashed first:
  // a mismatch is DataLoss and nothing is written. The object appears atomically (an
  // O_TMPFILE linked into its shard), so a crash never leaves a partial object, only
  // nothing. Not fsynced: the transaction makes the store durable with one SyncFs() before
  // its commit point.
  absl::Status Put(const ObjectKey& key, std::string_view bytes);

  // Starts adding an object of `digest` piece by piece (see ObjectWriter).
  absl::StatusOr<ObjectWriter> BeginObject(const Digest& digest) const;

  // Re-hashes object `key`: NotFound when missing, DataLoss when its bytes no longer match.
  absl::Status Verify(const ObjectKey& key) const;

  // Every object in the store, sorted. Files that are not objects (temporaries) are skipped.
  absl::StatusOr<std::vector<ObjectKey>> List() const;

  // Unlinks object `key` (missing is OK). Names of the inode in trees stay valid.
  absl::Status Remove(const ObjectKey& key);

  // Sum of the sizes of all objects, in bytes.
  absl::StatusOr<uint64_t> TotalSize() const;

  // syncfs(2) on the store's filesystem.
  absl::Status Sync() const;

 private:
  explicit Store(UniqueFd fd);
  absl::StatusOr<UniqueFd> OpenShard(const Digest& digest, bool create) const;

  UniqueFd fd_;
  // Shard directories made and opened once per Store (see BeginObject): a transaction adds
  // thousands of objects into 256 shards.
  struct ShardCache;
  std::unique_ptr<ShardCache> shards_;
};

}  // namespace onix::moss::store

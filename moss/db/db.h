// The package/layout database of a machine root (ROOT/.moss/db/moss.sqlite): which stones
// are known with their metadata and layouts, which states exist with which packages, and
// which package owns a path. SQLite: transactional, crash-safe (WAL + synchronous=FULL).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "moss/base/sha256.h"
#include "moss/stone/types.h"

namespace onix::moss::db {

// A known stone: metadata plus layout (stones are immutable, so one row set per digest).
struct StoneRecord {
  Digest digest;
  stone::Meta meta;
};

// One machine state. `committed` is false while the state is only a candidate (its tree is
// being built or it was abandoned); only committed states are ever listed as retained.
struct StateRecord {
  uint64_t number = 0;
  std::string fstx;
  std::string parent_fstx;  // the state this one was built from; empty for the first
  int64_t created_unix = 0;
  std::string summary;  // "install foo 1.2-3"
  bool committed = false;
};

// A package of a state with just what names it (no metadata parse): the rows a state diff
// compares.
struct PackageRow {
  std::string name;
  std::string version_release;  // "1.2-3", as state::VersionRelease
  Digest stone_digest;
};

// The packages two states do not share (by stone digest), each side sorted by name.
struct PackageSetDiff {
  std::vector<PackageRow> only_in_from;
  std::vector<PackageRow> only_in_to;
};

// A stone's layout, shared by the Db's cache and its readers (stones are immutable).
using LayoutPtr = std::shared_ptr<const std::vector<stone::LayoutEntry>>;

// A stone's layout as stored: stone::internal::EncodeLayout bytes, sorted by path, for
// readers that compare records in place (stone::internal::DecodeLayoutRecords).
struct EncodedLayout {
  std::string bytes;
  uint32_t count = 0;
};

// A package of a state as stored in the state_packages table.
struct StatePackage {
  Digest stone_digest;
  bool is_explicit = true;
};

// Who owns a path in a state.
struct PathOwner {
  std::string package;
  stone::LayoutEntry entry;
};

class Db {
 public:
  // Opens (creating the file and schema when missing) the database at `path`.
  static absl::StatusOr<Db> Open(const std::string& path);
  // Opens the database at `path` for queries, as any user: SQLITE_OPEN_READONLY, no PRAGMA
  // or schema writes, no migration, nothing created on disk. A missing file reads as an
  // empty database (an in-memory one with the schema). A database made by an older moss is
  // FailedPrecondition naming the command that migrates it (`moss state recover` as root).
  // Without a -wal file (a root moss closed cleanly) the file is opened `immutable=1`, so an
  // unprivileged user needs neither a -shm file nor write access to its directory.
  static absl::StatusOr<Db> OpenReadOnly(const std::string& path);

  Db(Db&&) = default;
  Db& operator=(Db&&) = default;

  // Runs `body` in one SQL transaction: every write inside (each is its own transaction
  // otherwise) commits together, with one sync, or not at all when `body` fails.
  absl::Status InTransaction(const std::function<absl::Status()>& body);

  // Records a stone and its layout; a no-op when the digest is already known. One SQL
  // transaction: a crash leaves the stone fully recorded or not at all.
  absl::Status PutStone(const Digest& digest, const stone::Meta& meta,
                        const std::vector<stone::LayoutEntry>& layout);
  absl::StatusOr<std::optional<StoneRecord>> GetStone(const Digest& digest);
  // Whether the stone is recorded (GetStone without reading its metadata).
  absl::StatusOr<bool> HasStone(const Digest& digest);
  // The layout of a known stone, sorted by path; NotFound when the stone is unknown. A
  // stone's layout never changes (it is named by the stone's digest), so each is read from
  // SQLite once per Db: an activation reads the layouts of two states that share most stones.
  absl::StatusOr<LayoutPtr> Layout(const Digest& stone_digest);
  // The same layout still encoded, uncached: a state diff reads each changed stone once.
  absl::StatusOr<EncodedLayout> EncodedLayoutOf(const Digest& stone_digest);
  // Digests of stones that ship content `digest` (for repairing the store from the cache).
  absl::StatusOr<std::vector<Digest>> StonesWithContent(const Digest& digest);
  // Removes stones no state references; returns their digests.
  absl::StatusOr<std::vector<Digest>> DeleteUnreferencedStones();

  // One more than the highest state number ever recorded (candidates included), so numbers
  // are never reused.
  absl::StatusOr<uint64_t> NextStateNumber();
  // Adds a state with its packages and its manifest (state::Manifest::ToJson()) in one SQL
  // transaction.
  absl::Status AddState(const StateRecord& state, std::string_view manifest_json,
                        const std::vector<StatePackage>& packages);
  absl::Status MarkCommitted(uint64_t number);
  // Removes a state and its package rows (missing is OK).
  absl::Status DeleteState(uint64_t number);
  // The same for several states in one SQL transaction (one commit to make durable).
  absl::Status DeleteStates(const std::vector<uint64_t>& numbers);
  // Every state, ordered by number; candidates only when `include_candidates`.
  absl::StatusOr<std::vector<StateRecord>> States(bool include_candidates = false);
  absl::StatusOr<std::optional<StateRecord>> GetState(uint64_t number);
  absl::StatusOr<std::vector<StatePackage>> StatePackages(uint64_t number);
  // The stones any committed state selects, each once.
  absl::StatusOr<std::vector<Digest>> StonesOfCommittedStates();
  // The state's manifest as AddState stored it. Kept out of StateRecord: at 1,500 packages
  // it is ~0.5 MiB that listing or resolving a state never needs.
  absl::StatusOr<std::string> ManifestJson(uint64_t number);
  // The packages of state `from` (none when nullopt) and state `to` that the other lacks.
  // Each state keeps its packages' digests, names and versions in one sorted blob
  // (state_package_rows), so this reads two rows and compares in memory: no lookup per
  // package, never a parse of either manifest. States recorded before that table are
  // compared in SQL from state_packages.
  absl::StatusOr<PackageSetDiff> DiffPackageSets(std::optional<uint64_t> from, uint64_t to);
  // Whether some package of state `number` ships `path`; stops at the first owner.
  absl::StatusOr<bool> StateShipsPath(uint64_t number, std::string_view path);
  // Whether every known stone that ships `path` ships it as a directory with the same mode
  // and owner: then which of them is first in a state does not matter. Three index seeks.
  absl::StatusOr<bool> DirectoryOwnersAgree(std::string_view path);

  // The packages of state `number` that ship `path` (relative to /usr).
  absl::StatusOr<std::vector<PathOwner>> FindPath(uint64_t number, std::string_view path);

  // A value of the small key/value table (schema version, last fstx...).
  absl::Status SetMeta(std::string_view key, std::string_view value);
  absl::StatusOr<std::optional<std::string>> GetMeta(std::string_view key);

 private:
  struct Closer {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
  };
  // Finalizes the cached statements (before the connection closes: declared after db_).
  struct StatementCache {
    void operator()(std::map<const char*, sqlite3_stmt*>* m) const noexcept;
  };
  explicit Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  absl::Status Exec(const char* sql);
  absl::Status Error(std::string_view what) const;
  // A statement prepared once per connection (keyed by the literal's address), for the
  // queries a state diff runs per package or per path; nullptr when it does not compile (the
  // Stmt made from it then reports the connection's error).
  sqlite3_stmt* Prepared(const char* sql);
  // Caches a stone's layout for Layout() and returns it.
  LayoutPtr Remember(const Digest& stone_digest, std::vector<stone::LayoutEntry> layout);
  // A state's state_package_rows blob; nullopt for a state recorded before that table.
  absl::StatusOr<std::optional<std::string>> PackageRowsBlob(uint64_t number);
  absl::StatusOr<PackageSetDiff> DiffPackageSetsInSql(std::optional<uint64_t> from, uint64_t to);

  std::unique_ptr<sqlite3, Closer> db_;
  std::string path_;
  std::map<Digest, LayoutPtr> layouts_;  // see Layout()
  std::unique_ptr<std::map<const char*, sqlite3_stmt*>, StatementCache> statements_{
      new std::map<const char*, sqlite3_stmt*>()};
};

}  // namespace onix::moss::db

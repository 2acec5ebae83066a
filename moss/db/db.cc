#include "moss/db/db.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>

#include "moss/base/json.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/state/manifest.h"
#include "moss/stone/format.h"

namespace onix::moss::db {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stones(
  digest TEXT PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL,
  source_release INTEGER NOT NULL, build_release INTEGER NOT NULL, meta TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS layout(
  stone TEXT NOT NULL REFERENCES stones(digest) ON DELETE CASCADE, path TEXT NOT NULL,
  kind INTEGER NOT NULL, mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL,
  target TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL, PRIMARY KEY(stone, path));
-- Who ships a path, and as what: path lookups (search-file, a state diff's probes) and, by
-- seeks alone, whether all owners ship one directory entry (DirectoryOwnersAgree). It
-- replaces layout_path ON layout(path) and layout_dirs ON layout(path, mode, uid, gid)
-- WHERE kind = 3 of databases made before it.
DROP INDEX IF EXISTS layout_path;
DROP INDEX IF EXISTS layout_dirs;
CREATE INDEX IF NOT EXISTS layout_path_kind ON layout(path, kind, mode, uid, gid);
CREATE INDEX IF NOT EXISTS layout_digest ON layout(digest);
CREATE TABLE IF NOT EXISTS states(
  number INTEGER PRIMARY KEY, fstx TEXT NOT NULL UNIQUE, parent TEXT NOT NULL,
  created INTEGER NOT NULL, summary TEXT NOT NULL, manifest TEXT NOT NULL,
  committed INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state_packages(
  state INTEGER NOT NULL REFERENCES states(number) ON DELETE CASCADE, stone TEXT NOT NULL,
  explicit INTEGER NOT NULL, PRIMARY KEY(state, stone));
CREATE INDEX IF NOT EXISTS state_packages_stone ON state_packages(stone);
-- Per state, its packages' digests, names and versions in one blob (EncodePackageRows). Not
-- a column of states: SQLite reaches a column after the manifest (~0.5 MiB at 1,500
-- packages) only through the manifest's overflow pages.
CREATE TABLE IF NOT EXISTS state_package_rows(
  state INTEGER PRIMARY KEY REFERENCES states(number) ON DELETE CASCADE,
  packages BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS stone_layouts(
  stone TEXT PRIMARY KEY REFERENCES stones(digest) ON DELETE CASCADE,
  count INTEGER NOT NULL, layout BLOB NOT NULL);
)sql";

// SQLite's message with the database it is about: "disk I/O error" alone does not tell the
// admin which file the disk failed on (issue 21, point 5).
std::string SqliteError(sqlite3* db) {
  const char* file = sqlite3_db_filename(db, "main");
  return StrCat(file && *file ? file : "database", ": ", sqlite3_errmsg(db));
}

// One prepared statement, finalized on destruction; or, made from a StatementCache, kept
// prepared for the next use and only reset.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  Stmt(sqlite3* db, sqlite3_stmt* cached)
      : db_(db), stmt_(cached), rc_(cached ? SQLITE_OK : SQLITE_ERROR), owned_(false) {}
  ~Stmt() {
    if (owned_) {
      sqlite3_finalize(stmt_);
    } else {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  absl::Status status(std::string_view what) const {
    if (rc_ == SQLITE_OK) return absl::OkStatus();
    return Internal(StrCat(what, ": ", SqliteError(db_)));
  }
  Stmt& Bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& BindBlob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  // SQLITE_ROW -> true, SQLITE_DONE -> false.
  absl::StatusOr<bool> Step(std::string_view what) {
    ONIX_RETURN_IF_ERROR(status(what));
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    rc_ = rc;
    return Internal(StrCat(what, ": ", SqliteError(db_)));
  }
  absl::Status Run(std::string_view what) {
    ONIX_ASSIGN_OR_RETURN(bool row, Step(what));
    (void)row;
    return absl::OkStatus();
  }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::string Text(int i) const {
    const unsigned char* t = sqlite3_column_text(stmt_, i);
    return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(stmt_, i))
             : std::string();
  }
  int64_t Int(int i) const { return sqlite3_column_int64(stmt_, i); }
  // Valid until the next Step or the statement's end.
  bool IsNull(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  std::string_view Blob(int i) const {
    const void* b = sqlite3_column_blob(stmt_, i);
    return b ? std::string_view(static_cast<const char*>(b), sqlite3_column_bytes(stmt_, i))
             : std::string_view();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
  bool owned_ = true;
};

// Commits on Commit(), rolls back otherwise. A savepoint, so it nests: inside
// Db::InTransaction it is part of the outer transaction (one commit, one sync for all).
class SqlTx {
 public:
  explicit SqlTx(sqlite3* db) : db_(db) {}
  absl::Status Begin() { return Exec("SAVEPOINT moss"); }
  absl::Status Commit() {
    ONIX_RETURN_IF_ERROR(Exec("RELEASE moss"));
    done_ = true;
    return absl::OkStatus();
  }
  ~SqlTx() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK TO moss; RELEASE moss", nullptr, nullptr, nullptr);
  }

 private:
  absl::Status Exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return Internal(StrCat(sql, ": ", SqliteError(db_)));
    }
    return absl::OkStatus();
  }
  sqlite3* db_;
  bool done_ = false;
};

stone::LayoutEntry EntryFromRow(const Stmt& s, int first) {
  stone::LayoutEntry e;
  e.path = s.Text(first);
  e.kind = static_cast<stone::FileKind>(s.Int(first + 1));
  e.mode = static_cast<uint32_t>(s.Int(first + 2));
  e.uid = static_cast<uint32_t>(s.Int(first + 3));
  e.gid = static_cast<uint32_t>(s.Int(first + 4));
  e.target = s.Text(first + 5);
  const std::string hex = s.Text(first + 6);
  if (!hex.empty()) {
    auto d = Digest::FromHex(hex);
    if (d.ok()) e.digest = *d;
  }
  e.size = static_cast<uint64_t>(s.Int(first + 7));
  return e;
}

// A state's package as its state_package_rows blob holds it; the strings point into the blob.
struct StoredPackage {
  Digest digest;
  std::string_view name;
  std::string_view version_release;
  PackageRow ToRow() const {
    return PackageRow{std::string(name), std::string(version_release), digest};
  }
};

// state_package_rows: per package, sorted by stone digest, the 32 digest bytes, then the name and
// "version-release", each a little-endian u16 length and the bytes.
absl::StatusOr<std::string> EncodePackageRows(std::vector<PackageRow> rows) {
  std::sort(rows.begin(), rows.end(), [](const PackageRow& a, const PackageRow& b) {
    return a.stone_digest < b.stone_digest;
  });
  stone::internal::ByteWriter w;
  for (const auto& r : rows) {
    if (r.name.size() > UINT16_MAX || r.version_release.size() > UINT16_MAX) {
      return InvalidArgument(StrCat("package ", r.name.substr(0, 64), "...: name or version over ",
                                    UINT16_MAX, " bytes"));
    }
    w.Bytes(std::string_view(reinterpret_cast<const char*>(r.stone_digest.bytes.data()),
                             r.stone_digest.bytes.size()));
    w.U16(static_cast<uint16_t>(r.name.size()));
    w.Bytes(r.name);
    w.U16(static_cast<uint16_t>(r.version_release.size()));
    w.Bytes(r.version_release);
  }
  return std::move(w.str());
}

absl::StatusOr<std::vector<StoredPackage>> DecodePackageRows(std::string_view blob) {
  stone::internal::ByteReader r(blob);
  std::vector<StoredPackage> out;
  while (r.remaining() > 0) {
    StoredPackage p;
    std::string_view digest;
    uint16_t name_len, version_len;
    if (!(r.Bytes(p.digest.bytes.size(), &digest) && r.U16(&name_len) &&
          r.Bytes(name_len, &p.name) && r.U16(&version_len) &&
          r.Bytes(version_len, &p.version_release))) {
      return InvalidArgument(StrCat("package ", out.size() + 1, " runs past the end"));
    }
    std::memcpy(p.digest.bytes.data(), digest.data(), digest.size());
    if (!out.empty() && !(out.back().digest < p.digest)) {
      return InvalidArgument(StrCat("package ", out.size() + 1, " is out of digest order"));
    }
    out.push_back(p);
  }
  return out;
}

// Column 0 of every remaining row of `s`, as digests.
absl::StatusOr<std::vector<Digest>> DigestsOf(Stmt& s, std::string_view what) {
  std::vector<Digest> out;
  for (;;) {
    ONIX_ASSIGN_OR_RETURN(bool row, s.Step(what));
    if (!row) break;
    ONIX_ASSIGN_OR_RETURN(Digest d, Digest::FromHex(s.Text(0)));
    out.push_back(d);
  }
  return out;
}

StateRecord StateFromRow(const Stmt& s) {
  StateRecord r;
  r.number = static_cast<uint64_t>(s.Int(0));
  r.fstx = s.Text(1);
  r.parent_fstx = s.Text(2);
  r.created_unix = s.Int(3);
  r.summary = s.Text(4);
  r.committed = s.Int(5) != 0;
  return r;
}

constexpr const char* kStateColumns =
    "SELECT number, fstx, parent, created, summary, committed FROM states";

}  // namespace

void Db::StatementCache::operator()(std::map<const char*, sqlite3_stmt*>* m) const noexcept {
  for (auto& [sql, stmt] : *m) sqlite3_finalize(stmt);
  delete m;
}

sqlite3_stmt* Db::Prepared(const char* sql) {
  auto it = statements_->find(sql);
  if (it != statements_->end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql, -1, &stmt, nullptr) != SQLITE_OK) return nullptr;
  statements_->emplace(sql, stmt);
  return stmt;
}

absl::Status Db::Error(std::string_view what) const {
  return Internal(StrCat(what, " in ", path_, ": ", sqlite3_errmsg(db_.get())));
}

absl::Status Db::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Internal(StrCat("database ", path_, ": ", msg));
  }
  return absl::OkStatus();
}

absl::StatusOr<Db> Db::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw, path);
  if (rc != SQLITE_OK) return db.Error("opening database");
  sqlite3_busy_timeout(raw, 30000);
  ONIX_RETURN_IF_ERROR(
      db.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
              // No mmap_size and the default page cache: a memory-mapped database counts every
              // page a sync touches into its peak RSS (137 MiB instead of 105 at 1,500
              // packages), and a state switch now reads too few pages to gain from either.
              " PRAGMA foreign_keys=ON;"));
  ONIX_RETURN_IF_ERROR(db.Exec(kSchema));
  return db;
}

absl::StatusOr<Db> Db::OpenReadOnly(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err != ENOENT) return ErrnoError(err, StrCat("opening database ", path));
    // No database yet (a /.moss with nothing installed): an empty one in memory answers
    // every query the way the file created by Open would, and leaves the root untouched.
    sqlite3* raw = nullptr;
    const int rc =
        sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    Db db(raw, path);
    if (rc != SQLITE_OK) return db.Error("opening database");
    ONIX_RETURN_IF_ERROR(db.Exec(kSchema));
    return db;
  }
  // A read-only connection to a WAL database needs a -shm file it can map, which it cannot
  // create in a root-owned directory (SQLite's wal.html, "read-only databases"). A -wal
  // file exists only while a writer has the database open (or after a crash); without one
  // every committed page is in the main file, so `immutable=1` reads it without -shm. With
  // one, SQLite opens the writer's -shm read-only. Queries take no lock either way, so a
  // transaction that starts meanwhile is the same race as before (moss notes an in-flight
  // journal, see OpenForCommand).
  const bool have_wal = ::access(StrCat(path, "-wal").c_str(), F_OK) == 0;
  // An absolute path gets an empty authority ("file:///..."): after a bare "file:", a path
  // that starts with "//" (a root of "/" joined to "/.moss/...") would be read as an authority.
  std::string uri = !path.empty() && path[0] == '/' ? "file://" : "file:";
  for (char c : path) {
    if (c == '?' || c == '#' || c == '%') {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
      uri += hex;
    } else {
      uri += c;
    }
  }
  uri += have_wal ? "?mode=ro" : "?mode=ro&immutable=1";
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(
      uri.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw, path);
  if (rc != SQLITE_OK) return db.Error("opening database read-only");
  sqlite3_busy_timeout(raw, 30000);
  // Every table and index the queries use, as kSchema makes them. A database without them
  // was made by an older moss and is migrated only by a writer.
  Stmt s(raw,
         "SELECT count(*) FROM sqlite_master WHERE name IN ('meta', 'stones', 'layout', "
         "'layout_path_kind', 'layout_digest', 'states', 'state_packages', "
         "'state_packages_stone', 'state_package_rows', 'stone_layouts')");
  ONIX_ASSIGN_OR_RETURN(bool row, s.Step("reading the schema"));
  if (!row || s.Int(0) != 10) {
    return absl::FailedPreconditionError(
        StrCat("database ", path,
               " was made by an older moss and queries do not migrate it; run `moss state "
               "recover` (or any moss transaction) as root once to migrate it"));
  }
  return db;
}

absl::Status Db::InTransaction(const std::function<absl::Status()>& body) {
  SqlTx tx(db_.get());
  ONIX_RETURN_IF_ERROR(tx.Begin());
  ONIX_RETURN_IF_ERROR(body());
  return tx.Commit();
}

absl::Status Db::PutStone(const Digest& digest, const stone::Meta& meta,
                          const std::vector<stone::LayoutEntry>& layout) {
  ONIX_ASSIGN_OR_RETURN(std::optional<StoneRecord> have, GetStone(digest));
  if (have) return absl::OkStatus();
  SqlTx tx(db_.get());
  ONIX_RETURN_IF_ERROR(tx.Begin());
  const std::string hex = digest.Hex();
  Stmt s(db_.get(),
         "INSERT INTO stones(digest, name, version, source_release, build_release, meta) "
         "VALUES(?,?,?,?,?,?)");
  ONIX_RETURN_IF_ERROR(s.Bind(1, hex)
                           .Bind(2, meta.name)
                           .Bind(3, meta.version)
                           .Bind(4, static_cast<int64_t>(meta.source_release))
                           .Bind(5, static_cast<int64_t>(meta.build_release))
                           .Bind(6, DumpJson(state::MetaToJson(meta)))
                           .Run("recording stone"));
  Stmt l(db_.get(),
         "INSERT INTO layout(stone, path, kind, mode, uid, gid, target, digest, size) "
         "VALUES(?,?,?,?,?,?,?,?,?)");
  for (const auto& e : layout) {
    l.Reset();
    ONIX_RETURN_IF_ERROR(
        l.Bind(1, hex)
            .Bind(2, e.path)
            .Bind(3, static_cast<int64_t>(e.kind))
            .Bind(4, static_cast<int64_t>(e.mode))
            .Bind(5, static_cast<int64_t>(e.uid))
            .Bind(6, static_cast<int64_t>(e.gid))
            .Bind(7, e.target)
            .Bind(8, e.kind == stone::FileKind::kRegular ? e.digest.Hex() : std::string())
            .Bind(9, static_cast<int64_t>(e.size))
            .Run(StrCat("recording layout of ", meta.name)));
  }
  // The whole layout once more as one blob in the stone format's own encoding: reading a
  // stone's layout is then one row and a decode, not a row per path (see Layout()).
  std::vector<stone::LayoutEntry> sorted = layout;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.path < b.path; });
  const std::string blob = stone::internal::EncodeLayout(sorted);
  Stmt b(db_.get(), "INSERT INTO stone_layouts(stone, count, layout) VALUES(?,?,?)");
  ONIX_RETURN_IF_ERROR(b.Bind(1, hex)
                           .Bind(2, static_cast<int64_t>(sorted.size()))
                           .BindBlob(3, blob)
                           .Run(StrCat("recording layout of ", meta.name)));
  return tx.Commit();
}

absl::StatusOr<std::optional<StoneRecord>> Db::GetStone(const Digest& digest) {
  Stmt s(db_.get(), "SELECT meta FROM stones WHERE digest = ?");
  s.Bind(1, digest.Hex());
  ONIX_ASSIGN_OR_RETURN(bool row, s.Step("reading stone"));
  if (!row) return std::optional<StoneRecord>();
  StoneRecord r;
  r.digest = digest;
  try {
    ONIX_ASSIGN_OR_RETURN(r.meta, state::MetaFromJson(nlohmann::json::parse(s.Text(0))));
  } catch (const nlohmann::json::exception& e) {
    return DataLoss(StrCat("reading stone ", digest.Hex(), " from ", path_, ": ", e.what()));
  }
  return std::optional<StoneRecord>(std::move(r));
}

absl::StatusOr<bool> Db::HasStone(const Digest& digest) {
  Stmt s(db_.get(), Prepared("SELECT 1 FROM stones WHERE digest = ?"));
  s.Bind(1, digest.Hex());
  return s.Step("reading stone");
}

absl::StatusOr<LayoutPtr> Db::Layout(const Digest& stone_digest) {
  if (auto it = layouts_.find(stone_digest); it != layouts_.end()) return it->second;
  ONIX_ASSIGN_OR_RETURN(const EncodedLayout encoded, EncodedLayoutOf(stone_digest));
  absl::StatusOr<std::vector<stone::LayoutEntry>> l =
      stone::internal::DecodeLayout(encoded.bytes, encoded.count);
  if (!l.ok()) {
    return DataLoss(
        StrCat("layout of stone ", stone_digest.Hex(), " in ", path_, ": ", l.status().message()));
  }
  return Remember(stone_digest, *std::move(l));
}

absl::StatusOr<EncodedLayout> Db::EncodedLayoutOf(const Digest& stone_digest) {
  const std::string hex = stone_digest.Hex();
  {
    Stmt blob(db_.get(), Prepared("SELECT count, layout FROM stone_layouts WHERE stone = ?"));
    blob.Bind(1, hex);
    ONIX_ASSIGN_OR_RETURN(bool row, blob.Step("reading layout"));
    if (row) return EncodedLayout{std::string(blob.Blob(1)), static_cast<uint32_t>(blob.Int(0))};
  }
  // A stone recorded before the blob column existed: its rows.
  ONIX_ASSIGN_OR_RETURN(bool known, HasStone(stone_digest));
  if (!known) return NotFound(StrCat("stone ", hex, " is not in the database"));
  Stmt s(db_.get(),
         "SELECT path, kind, mode, uid, gid, target, digest, size FROM layout WHERE stone = ? "
         "ORDER BY path");
  s.Bind(1, hex);
  std::vector<stone::LayoutEntry> out;
  for (;;) {
    ONIX_ASSIGN_OR_RETURN(bool row, s.Step("reading layout"));
    if (!row) break;
    out.push_back(EntryFromRow(s, 0));
  }
  return EncodedLayout{stone::internal::EncodeLayout(out), static_cast<uint32_t>(out.size())};
}

LayoutPtr Db::Remember(const Digest& stone_digest, std::vector<stone::LayoutEntry> layout) {
  auto shared = std::make_shared<const std::vector<stone::LayoutEntry>>(std::move(layout));
  layouts_.emplace(stone_digest, shared);
  return shared;
}

absl::StatusOr<std::vector<Digest>> Db::StonesWithContent(const Digest& digest) {
  Stmt s(db_.get(), "SELECT DISTINCT stone FROM layout WHERE digest = ? ORDER BY stone");
  s.Bind(1, digest.Hex());
  return DigestsOf(s, "finding content");
}

absl::StatusOr<std::vector<Digest>> Db::DeleteUnreferencedStones() {
  std::vector<Digest> out;
  {
    Stmt s(db_.get(),
           "SELECT digest FROM stones WHERE digest NOT IN (SELECT stone FROM state_packages)");
    ONIX_ASSIGN_OR_RETURN(out, DigestsOf(s, "finding unreferenced stones"));
  }
  SqlTx tx(db_.get());
  ONIX_RETURN_IF_ERROR(tx.Begin());
  for (const auto& d : out) {
    Stmt del(db_.get(), "DELETE FROM stones WHERE digest = ?");
    ONIX_RETURN_IF_ERROR(del.Bind(1, d.Hex()).Run("deleting stone"));
  }
  ONIX_RETURN_IF_ERROR(tx.Commit());
  for (const auto& d : out) layouts_.erase(d);
  return out;
}

absl::StatusOr<uint64_t> Db::NextStateNumber() {
  Stmt s(db_.get(), "SELECT COALESCE(MAX(number), 0) FROM states");
  ONIX_ASSIGN_OR_RETURN(bool row, s.Step("numbering states"));
  uint64_t max_state = row ? static_cast<uint64_t>(s.Int(0)) : 0;
  // A deleted highest state must not have its number reused: remember the last one.
  ONIX_ASSIGN_OR_RETURN(std::optional<std::string> last, GetMeta("last_state_number"));
  if (last) max_state = std::max<uint64_t>(max_state, std::stoull(*last));
  return max_state + 1;
}

absl::Status Db::AddState(const StateRecord& st, std::string_view manifest_json,
                          const std::vector<StatePackage>& packages) {
  SqlTx tx(db_.get());
  ONIX_RETURN_IF_ERROR(tx.Begin());
  Stmt s(db_.get(),
         "INSERT INTO states(number, fstx, parent, created, summary, manifest, committed) "
         "VALUES(?,?,?,?,?,?,?)");
  ONIX_RETURN_IF_ERROR(s.Bind(1, static_cast<int64_t>(st.number))
                           .Bind(2, st.fstx)
                           .Bind(3, st.parent_fstx)
                           .Bind(4, st.created_unix)
                           .Bind(5, st.summary)
                           .Bind(6, manifest_json)
                           .Bind(7, st.committed ? 1 : 0)
                           .Run(StrCat("recording state ", st.fstx)));
  Stmt p(db_.get(), "INSERT INTO state_packages(state, stone, explicit) VALUES(?,?,?)");
  for (const auto& pkg : packages) {
    p.Reset();
    ONIX_RETURN_IF_ERROR(p.Bind(1, static_cast<int64_t>(st.number))
                             .Bind(2, pkg.stone_digest.Hex())
                             .Bind(3, pkg.is_explicit ? 1 : 0)
                             .Run(StrCat("recording packages of state ", st.fstx)));
  }
  // The same packages with their names and versions, from the stones table in one query,
  // kept as one sorted blob: two states then compare in memory (DiffPackageSets).
  Stmt rows(db_.get(),
            "SELECT stones.digest, stones.name, stones.version, stones.source_release "
            "FROM state_packages JOIN stones ON stones.digest = state_packages.stone "
            "WHERE state_packages.state = ?");
  rows.Bind(1, static_cast<int64_t>(st.number));
  std::vector<PackageRow> stored;
  for (;;) {
    ONIX_ASSIGN_OR_RETURN(bool row, rows.Step(StrCat("reading the packages of state ", st.fstx)));
    if (!row) break;
    ONIX_ASSIGN_OR_RETURN(Digest d, Digest::FromHex(rows.Text(0)));
    stored.push_back({rows.Text(1), StrCat(rows.Text(2), "-", rows.Int(3)), d});
  }
  if (stored.size() != packages.size()) {
    return FailedPrecondition(StrCat("state ", st.fstx, " selects ", packages.size(),
                                     " stones but only ", stored.size(), " are recorded in ",
                                     path_));
  }
  ONIX_ASSIGN_OR_RETURN(const std::string package_rows, EncodePackageRows(std::move(stored)));
  Stmt blob(db_.get(), "INSERT INTO state_package_rows(state, packages) VALUES(?, ?)");
  ONIX_RETURN_IF_ERROR(blob.Bind(1, static_cast<int64_t>(st.number))
                           .BindBlob(2, package_rows)
                           .Run(StrCat("recording the package rows of state ", st.fstx)));
  Stmt m(db_.get(), "INSERT OR REPLACE INTO meta(key, value) VALUES('last_state_number', ?)");
  ONIX_RETURN_IF_ERROR(m.Bind(1, StrCat(st.number)).Run("recording the state number"));
  return tx.Commit();
}

absl::Status Db::MarkCommitted(uint64_t number) {
  Stmt s(db_.get(), "UPDATE states SET committed = 1 WHERE number = ?");
  return s.Bind(1, static_cast<int64_t>(number)).Run("committing state");
}

absl::Status Db::DeleteStates(const std::vector<uint64_t>& numbers) {
  SqlTx tx(db_.get());
  ONIX_RETURN_IF_ERROR(tx.Begin());
  for (const uint64_t n : numbers) ONIX_RETURN_IF_ERROR(DeleteState(n));
  return tx.Commit();
}

absl::Status Db::DeleteState(uint64_t number) {
  Stmt s(db_.get(), "DELETE FROM states WHERE number = ?");
  return s.Bind(1, static_cast<int64_t>(number)).Run("deleting state");
}

absl::StatusOr<std::vector<StateRecord>> Db::States(bool include_candidates) {
  const std::string sql =
      StrCat(kStateColumns, include_candidates ? "" : " WHERE committed = 1", " ORDER BY number");
  Stmt s(db_.get(), sql.c_str());
  std::vector<StateRecord> out;
  for (;;) {
    ONIX_ASSIGN_OR_RETURN(bool row, s.Step("listing states"));
    if (!row) break;
    out.push_back(StateFromRow(s));
  }
  return out;
}

absl::StatusOr<std::optional<StateRecord>> Db::GetState(uint64_t number) {
  const std::string sql = StrCat(kStateColumns, " WHERE number = ?");
  Stmt s(db_.get(), sql.c_str());
  s.Bind(1, static_cast<int64_t>(number));
  ONIX_ASSIGN_OR_RETURN(bool row, s.Step("reading state"));
  if (!row) return std::optional<StateRecord>();
  return std::optional<StateRecord>(StateFromRow(s));
}

absl::StatusOr<std::vector<StatePackage>> Db::StatePackages(uint64_t number) {
  Stmt s(db_.get(), "SELECT stone, explicit FROM state_packages WHERE state = ? ORDER BY stone");
  s.Bind(1, static_cast<int64_t>(number));
  std::vector<StatePackage> out;
  for (;;) {
    ONIX_ASSIGN_OR_RETURN(bool row, s.Step("reading state packages"));
    if (!row) break;
    ONIX_ASSIGN_OR_RETURN(Digest d, Digest::FromHex(s.Text(0)));
    out.push_back({d, s.Int(1) != 0});
  }
  return out;
}

absl::StatusOr<std::vector<Digest>> Db::StonesOfCommittedStates() {
  Stmt s(db_.get(),
         "SELECT DISTINCT state_packages.stone FROM state_packages JOIN states "
         "ON states.number = state_packages.state WHERE states.committed = 1");
  return DigestsOf(s, "listing the stones of the states");
}

absl::StatusOr<std::string> Db::ManifestJson(uint64_t number) {
  Stmt s(db_.get(), "SELECT manifest FROM states WHERE number = ?");
  s.Bind(1, static_cast<int64_t>(number));
  ONIX_ASSIGN_OR_RETURN(bool row, s.Step("reading a state manifest"));
  if (!row) return NotFound(StrCat("state ", number, " is not in ", path_));
  return s.Text(0);
}

absl::StatusOr<std::optional<std::string>> Db::PackageRowsBlob(uint64_t number) {
  Stmt s(db_.get(), Prepared("SELECT packages FROM state_package_rows WHERE state = ?"));
  s.Bind(1, static_cast<int64_t>(number));
  ONIX_ASSIGN_OR_RETURN(bool row, s.Step("reading a state's packages"));
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(std::string(s.Blob(0)));
}

absl::StatusOr<PackageSetDiff> Db::DiffPackageSets(std::optional<uint64_t> from, uint64_t to) {
  std::optional<std::string> from_blob = std::string();
  if (from) {
    ONIX_ASSIGN_OR_RETURN(from_blob, PackageRowsBlob(*from));
  }
  ONIX_ASSIGN_OR_RETURN(std::optional<std::string> to_blob, PackageRowsBlob(to));
  if (!from_blob || !to_blob) return DiffPackageSetsInSql(from, to);
  auto decode = [&](const std::string& blob, uint64_t number) {
    absl::StatusOr<std::vector<StoredPackage>> rows = DecodePackageRows(blob);
    if (!rows.ok()) {
      return absl::StatusOr<std::vector<StoredPackage>>(DataLoss(StrCat(
          "the package rows of state ", number, " in ", path_, ": ", rows.status().message())));
    }
    return rows;
  };
  ONIX_ASSIGN_OR_RETURN(const std::vector<StoredPackage> a, decode(*from_blob, from.value_or(0)));
  ONIX_ASSIGN_OR_RETURN(const std::vector<StoredPackage> b, decode(*to_blob, to));
  // Both sorted by digest: one merge pass.
  PackageSetDiff out;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    const bool take_a = j == b.size() || (i < a.size() && a[i].digest < b[j].digest);
    const bool take_b = i == a.size() || (j < b.size() && b[j].digest < a[i].digest);
    if (take_a) {
      out.only_in_from.push_back(a[i++].ToRow());
    } else if (take_b) {
      out.only_in_to.push_back(b[j++].ToRow());
    } else {
      ++i;
      ++j;
    }
  }
  auto by_name = [](const PackageRow& x, const PackageRow& y) { return x.name < y.name; };
  std::sort(out.only_in_from.begin(), out.only_in_from.end(), by_name);
  std::sort(out.only_in_to.begin(), out.only_in_to.end(), by_name);
  return out;
}

absl::StatusOr<PackageSetDiff> Db::DiffPackageSetsInSql(std::optional<uint64_t> from, uint64_t to) {
  // -1 names no state: every package of `to` is then only in `to`.
  const int64_t from_number = from ? static_cast<int64_t>(*from) : -1;
  Stmt s(db_.get(),
         "SELECT side, stones.name, stones.version, stones.source_release, stones.digest FROM ("
         " SELECT 0 AS side, stone FROM state_packages AS a WHERE a.state = ?1 AND NOT EXISTS"
         "  (SELECT 1 FROM state_packages AS b WHERE b.state = ?2 AND b.stone = a.stone)"
         " UNION ALL"
         " SELECT 1 AS side, stone FROM state_packages AS b WHERE b.state = ?2 AND NOT EXISTS"
         "  (SELECT 1 FROM state_packages AS a WHERE a.state = ?1 AND a.stone = b.stone)"
         ") AS d JOIN stones ON stones.digest = d.stone ORDER BY side, stones.name");
  s.Bind(1, from_number).Bind(2, static_cast<int64_t>(to));
  PackageSetDiff out;
  for (;;) {
    ONIX_ASSIGN_OR_RETURN(bool row, s.Step("comparing the packages of two states"));
    if (!row) break;
    ONIX_ASSIGN_OR_RETURN(Digest d, Digest::FromHex(s.Text(4)));
    PackageRow r{s.Text(1), StrCat(s.Text(2), "-", s.Int(3)), d};
    (s.Int(0) == 0 ? out.only_in_from : out.only_in_to).push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<bool> Db::StateShipsPath(uint64_t number, std::string_view path) {
  // CROSS JOIN keeps layout_path_kind first: the other order walks every package of the state.
  Stmt s(db_.get(),
         Prepared("SELECT 1 FROM layout CROSS JOIN state_packages ON state_packages.stone = "
                  "layout.stone WHERE layout.path = ?2 AND state_packages.state = ?1 LIMIT 1"));
  s.Bind(1, static_cast<int64_t>(number)).Bind(2, path);
  return s.Step("finding a path in a state");
}

absl::StatusOr<bool> Db::DirectoryOwnersAgree(std::string_view path) {
  // Three seeks in layout_path_kind, however many stones ship the path ("lib" has one row
  // per package): no owner ships anything else (kinds are 1-3, a directory is 3), and the
  // lowest and highest (mode, uid, gid) of the directory rows are the same.
  Stmt other(db_.get(), Prepared("SELECT 1 FROM layout INDEXED BY layout_path_kind "
                                 "WHERE path = ? AND kind < 3 LIMIT 1"));
  other.Bind(1, path);
  ONIX_ASSIGN_OR_RETURN(const bool not_directory, other.Step("finding other owners of a path"));
  if (not_directory) return false;
  Stmt low(db_.get(), Prepared("SELECT mode, uid, gid FROM layout INDEXED BY layout_path_kind "
                               "WHERE path = ? AND kind = 3 ORDER BY mode, uid, gid LIMIT 1"));
  low.Bind(1, path);
  ONIX_ASSIGN_OR_RETURN(const bool any, low.Step("reading the directory entries of a path"));
  if (!any) return false;
  Stmt high(db_.get(),
            Prepared("SELECT mode, uid, gid FROM layout INDEXED BY layout_path_kind "
                     "WHERE path = ? AND kind = 3 ORDER BY mode DESC, uid DESC, gid DESC LIMIT 1"));
  high.Bind(1, path);
  ONIX_ASSIGN_OR_RETURN(const bool again, high.Step("reading the directory entries of a path"));
  return again && low.Int(0) == high.Int(0) && low.Int(1) == high.Int(1) &&
         low.Int(2) == high.Int(2);
}

absl::StatusOr<std::vector<PathOwner>> Db::FindPath(uint64_t number, std::string_view path) {
  Stmt s(db_.get(),
         Prepared("SELECT stones.name, layout.path, layout.kind, layout.mode, layout.uid, "
                  "layout.gid, layout.target, layout.digest, layout.size FROM layout "
                  "JOIN stones ON stones.digest = layout.stone "
                  "JOIN state_packages ON state_packages.stone = layout.stone "
                  "WHERE state_packages.state = ? AND layout.path = ? ORDER BY stones.name"));
  s.Bind(1, static_cast<int64_t>(number)).Bind(2, path);
  std::vector<PathOwner> out;
  for (;;) {
    ONIX_ASSIGN_OR_RETURN(bool row, s.Step("finding path owners"));
    if (!row) break;
    out.push_back({s.Text(0), EntryFromRow(s, 1)});
  }
  return out;
}

absl::Status Db::SetMeta(std::string_view key, std::string_view value) {
  Stmt s(db_.get(), "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)");
  return s.Bind(1, key).Bind(2, value).Run("writing database meta");
}

absl::StatusOr<std::optional<std::string>> Db::GetMeta(std::string_view key) {
  Stmt s(db_.get(), "SELECT value FROM meta WHERE key = ?");
  s.Bind(1, key);
  ONIX_ASSIGN_OR_RETURN(bool row, s.Step("reading database meta"));
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(s.Text(0));
}

}  // namespace onix::moss::db

#include "nix-integration/daemon/fingerprint.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "boost/filesystem.hpp"
#include "moss/base/c_free.h"
#include "moss/base/fs_at.h"
#include "moss/base/sha256.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::nixplane {
namespace {

namespace bfs = boost::filesystem;

using DbPtr = std::unique_ptr<sqlite3, CFree<sqlite3_close_v2>>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, CFree<sqlite3_finalize>>;

// Every symlink below `dir` (not following links), keyed by its path relative to `dir`.
absl::Status CollectLinks(const std::string& dir, std::map<std::string, std::string>* out) {
  boost::system::error_code ec;
  if (!bfs::exists(dir, ec)) return absl::OkStatus();
  bfs::recursive_directory_iterator it(dir, ec), end;
  if (ec) return Internal(StrCat("listing ", dir, ": ", ec.message()));
  for (; it != end; it.increment(ec)) {
    if (ec) return Internal(StrCat("listing ", dir, ": ", ec.message()));
    if (!bfs::is_symlink(it->symlink_status())) continue;
    bfs::path target = bfs::read_symlink(it->path(), ec);
    if (ec) return Internal(StrCat("reading link ", it->path().string(), ": ", ec.message()));
    (*out)[bfs::relative(it->path(), dir).string()] = target.string();
  }
  return absl::OkStatus();
}

// Hashes one query's rows (each column as text, unit-separated) into `sha`.
absl::Status HashQuery(sqlite3* db, const char* sql, Sha256* sha) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
    return Internal(StrCat("preparing \"", sql, "\": ", sqlite3_errmsg(db)));
  }
  StmtPtr stmt(raw);
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(stmt.get()); ++i) {
      const unsigned char* text = sqlite3_column_text(stmt.get(), i);
      sha->Update(text ? reinterpret_cast<const char*>(text) : "\\N");
      sha->Update("\x1f");
    }
    sha->Update("\n");
  }
  if (rc != SQLITE_DONE) return Internal(StrCat("running \"", sql, "\": ", sqlite3_errmsg(db)));
  return absl::OkStatus();
}

absl::StatusOr<std::string> DbDigest(const std::string& db_path) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(db_path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) {
    return Internal(StrCat("opening ", db_path, ": ", db ? sqlite3_errmsg(db.get()) : "no memory"));
  }
  // The daemon may hold a write lock for a moment; wait rather than fail.
  sqlite3_busy_timeout(db.get(), 5000);
  Sha256 sha;
  ONIX_RETURN_IF_ERROR(HashQuery(
      db.get(), "SELECT path, hash, registrationTime, narSize FROM ValidPaths ORDER BY path",
      &sha));
  ONIX_RETURN_IF_ERROR(HashQuery(
      db.get(), "SELECT referrer, reference FROM Refs ORDER BY referrer, reference", &sha));
  return sha.Finish().Hex();
}

template <typename K, typename V>
void DiffMaps(const std::map<K, V>& a, const std::map<K, V>& b, const std::string& what,
              std::vector<std::string>* out) {
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end()) {
      out->push_back(StrCat(what, " removed: ", k, " (was ", v, ")"));
    } else if (it->second != v) {
      out->push_back(StrCat(what, " changed: ", k, " -> ", it->second, " (was ", v, ")"));
    }
  }
  for (const auto& [k, v] : b) {
    if (!a.count(k)) out->push_back(StrCat(what, " added: ", k, " -> ", v));
  }
}

}  // namespace

absl::StatusOr<PlaneFingerprint> Fingerprint(const std::string& nix_root) {
  PlaneFingerprint fp;
  struct stat st;
  if (::stat(nix_root.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) return fp;
    return ErrnoError(err, StrCat("fingerprinting the nix plane: stat ", nix_root));
  }
  fp.present = true;
  const std::string store = StrCat(nix_root, "/store");
  if (::stat(store.c_str(), &st) == 0) {
    ONIX_ASSIGN_OR_RETURN(UniqueFd store_fd, fs::OpenDir(store));
    ONIX_ASSIGN_OR_RETURN(auto names, fs::ListDir(store_fd.get()));
    // ".links" is the optimiser's hard-link pool, not a store path.
    for (auto& n : names) {
      if (!n.empty() && n[0] != '.') fp.store_paths.push_back(std::move(n));
    }
  }
  ONIX_RETURN_IF_ERROR_CTX(CollectLinks(StrCat(nix_root, "/var/nix/profiles"), &fp.profile_links),
                           "fingerprinting the nix plane");
  ONIX_RETURN_IF_ERROR_CTX(CollectLinks(StrCat(nix_root, "/var/nix/gcroots"), &fp.gcroots),
                           "fingerprinting the nix plane");
  const std::string db = StrCat(nix_root, "/var/nix/db/db.sqlite");
  if (::stat(db.c_str(), &st) == 0) {
    auto digest = DbDigest(db);
    if (!digest.ok()) return Annotate(digest.status(), "fingerprinting the nix plane");
    fp.db_digest = *digest;
  }
  auto schema = DbSchemaVersion(nix_root);
  if (schema.ok()) {
    fp.db_schema = *schema;
  } else if (!absl::IsNotFound(schema.status())) {
    return schema.status();
  }
  return fp;
}

std::vector<std::string> Diff(const PlaneFingerprint& before, const PlaneFingerprint& after) {
  std::vector<std::string> out;
  if (before.present != after.present) {
    out.push_back(after.present ? "nix root appeared" : "nix root disappeared");
  }
  std::vector<std::string> gone, added;
  std::set_difference(before.store_paths.begin(), before.store_paths.end(),
                      after.store_paths.begin(), after.store_paths.end(), std::back_inserter(gone));
  std::set_difference(after.store_paths.begin(), after.store_paths.end(),
                      before.store_paths.begin(), before.store_paths.end(),
                      std::back_inserter(added));
  for (const auto& p : gone) out.push_back(StrCat("store path removed: ", p));
  for (const auto& p : added) out.push_back(StrCat("store path added: ", p));
  DiffMaps(before.profile_links, after.profile_links, "profile link", &out);
  DiffMaps(before.gcroots, after.gcroots, "gcroot", &out);
  if (before.db_digest != after.db_digest) out.push_back("db contents changed");
  if (before.db_schema != after.db_schema) {
    out.push_back(StrCat("db schema changed: ", before.db_schema, " -> ", after.db_schema));
  }
  return out;
}

absl::StatusOr<int> DbSchemaVersion(const std::string& nix_root) {
  const std::string path = StrCat(nix_root, "/var/nix/db/schema");
  ONIX_ASSIGN_OR_RETURN(UniqueFd dir, fs::OpenDir(StrCat(nix_root, "/var/nix/db")));
  auto text = fs::ReadFileAt(dir.get(), "schema", 4096);
  if (!text.ok()) return Annotate(text.status(), StrCat("reading ", path));
  int v = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &v) || v <= 0) {
    return absl::DataLossError(StrCat("reading ", path, ": not a schema number"));
  }
  return v;
}

absl::StatusOr<int> SchemaOfNixVersion(const std::string& nix_version) {
  std::vector<std::string> parts = absl::StrSplit(nix_version, '.');
  int major = 0;
  if (parts.empty() || !absl::SimpleAtoi(parts[0], &major) || major <= 0) {
    return InvalidArgument(StrCat("nix version '", nix_version, "' is not <major>.<minor>..."));
  }
  // Nix 1.x wrote schema 7; Nix 2.0 moved to 10, where every 2.x release has stayed.
  return major >= 2 ? 10 : 7;
}

}  // namespace onix::nixplane

#include "moss/db/db.h"

#include "gtest/gtest.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"
#include "moss/stone/format.h"

namespace onix::moss::db {
namespace {

stone::LayoutEntry File(std::string path, std::string_view content) {
  stone::LayoutEntry e;
  e.path = std::move(path);
  e.digest = Sha256Of(content);
  e.size = content.size();
  return e;
}

stone::LayoutEntry Dir(std::string path, uint32_t mode = 0755) {
  stone::LayoutEntry e;
  e.path = std::move(path);
  e.kind = stone::FileKind::kDirectory;
  e.mode = mode;
  return e;
}

stone::LayoutEntry Symlink(std::string path, std::string target) {
  stone::LayoutEntry e;
  e.path = std::move(path);
  e.kind = stone::FileKind::kSymlink;
  e.target = std::move(target);
  e.mode = 0777;
  return e;
}

TEST(Db, StonesStatesAndPathOwnersSurviveReopen) {
  auto tmp = TempDir::Make("db-test");
  ASSERT_TRUE(tmp.ok());
  const std::string path = tmp->path() + "/moss.sqlite";
  stone::Meta meta;
  meta.name = "zlib";
  meta.version = "1.3";
  const Digest stone_digest = Sha256Of("stone");
  {
    auto db = Db::Open(path);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE(db->PutStone(stone_digest, meta, {File("lib/libz.so", "z")}).ok());
    ASSERT_TRUE(db->PutStone(stone_digest, meta, {File("lib/libz.so", "z")}).ok());
    EXPECT_EQ(*db->NextStateNumber(), 1u);
    StateRecord st{1, "1-abcd", "", 100, "install zlib 1.3-0", false};
    ASSERT_TRUE(db->AddState(st, R"({"packages":[]})", {{stone_digest, true}}).ok());
    EXPECT_TRUE(db->States()->empty());  // candidate only
    ASSERT_TRUE(db->MarkCommitted(1).ok());
  }
  auto db = Db::Open(path);
  ASSERT_TRUE(db.ok());
  auto states = db->States();
  ASSERT_EQ(states->size(), 1u);
  EXPECT_EQ((*states)[0].fstx, "1-abcd");
  EXPECT_EQ(*db->ManifestJson(1), R"({"packages":[]})");
  EXPECT_TRUE(absl::IsNotFound(db->ManifestJson(7).status()));
  auto owners = db->FindPath(1, "lib/libz.so");
  ASSERT_TRUE(owners.ok());
  ASSERT_EQ(owners->size(), 1u);
  EXPECT_EQ((*owners)[0].package, "zlib");
  EXPECT_EQ((*owners)[0].entry.digest, Sha256Of("z"));
  EXPECT_EQ(db->StonesWithContent(Sha256Of("z"))->size(), 1u);
  EXPECT_TRUE(db->DeleteUnreferencedStones()->empty());
  // Read (and kept) before the stone goes: the deletion must not leave it readable.
  ASSERT_EQ((*db->Layout(stone_digest))->size(), 1u);
  ASSERT_TRUE(db->DeleteState(1).ok());
  EXPECT_EQ(db->DeleteUnreferencedStones()->size(), 1u);
  EXPECT_TRUE(absl::IsNotFound(db->Layout(stone_digest).status()));
  // Numbers are never reused, even after the highest state was deleted.
  EXPECT_EQ(*db->NextStateNumber(), 2u);
}

// A database written before layouts were kept as blobs has only the rows: Layout() reads
// the same entries either way.
TEST(Db, ReadOnlyOpensAPathThatStartsWithTwoSlashes) {
  // A machine root of "/" gives "//.moss/db/moss.sqlite": still a path, not a URI authority.
  auto tmp = TempDir::Make("db-test");
  ASSERT_TRUE(tmp.ok());
  const std::string path = tmp->path() + "/moss.sqlite";
  {
    auto db = Db::Open(path);
    ASSERT_TRUE(db.ok()) << db.status();
    StateRecord st{1, "1-abcd", "", 100, "install zlib 1.3-0", false};
    ASSERT_TRUE(db->AddState(st, R"({"packages":[]})", {}).ok());
    ASSERT_TRUE(db->MarkCommitted(1).ok());
  }
  for (const std::string& p : {path, "/" + path, "//" + path}) {
    auto db = Db::OpenReadOnly(p);
    ASSERT_TRUE(db.ok()) << p << ": " << db.status();
    auto states = db->States();
    ASSERT_TRUE(states.ok()) << p << ": " << states.status();
    ASSERT_EQ(states->size(), 1u) << p;
    EXPECT_EQ((*states)[0].fstx, "1-abcd");
  }
}

TEST(Db, LayoutReadsTheSameFromTheBlobAndFromRowsOnly) {
  auto tmp = TempDir::Make("db-test");
  ASSERT_TRUE(tmp.ok());
  const std::string path = tmp->path() + "/moss.sqlite";
  stone::Meta meta;
  meta.name = "tools";
  meta.version = "1";
  const Digest d = Sha256Of("tools");
  const stone::LayoutEntry dir = Dir("bin");
  const stone::LayoutEntry link = Symlink("bin/sh", "busybox");
  std::vector<stone::LayoutEntry> blob_layout;
  {
    auto db = Db::Open(path);
    ASSERT_TRUE(db.ok()) << db.status();
    // Given out of order: both readings come back sorted by path.
    ASSERT_TRUE(db->PutStone(d, meta, {File("bin/busybox", "bb"), link, dir}).ok());
    auto l = db->Layout(d);
    ASSERT_TRUE(l.ok()) << l.status();
    blob_layout = **l;
  }
  ASSERT_EQ(blob_layout.size(), 3u);
  EXPECT_EQ(blob_layout[0].path, "bin");
  EXPECT_EQ(blob_layout[2].target, "busybox");
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "DELETE FROM stone_layouts", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  auto db = Db::Open(path);
  ASSERT_TRUE(db.ok());
  auto rows = db->Layout(d);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(**rows, blob_layout);
  // The encoded form a state diff reads comes from the rows too, and decodes the same.
  auto encoded = db->EncodedLayoutOf(d);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  auto decoded = stone::internal::DecodeLayout(encoded->bytes, encoded->count);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, blob_layout);
  EXPECT_TRUE(absl::IsNotFound(db->EncodedLayoutOf(Sha256Of("unknown")).status()));
}

// Three stones: "same" in both states, "old" only in state 1, "new" only in state 2 (an
// update of "pkg"), "gone" only in state 1 (removed).
TEST(Db, PackageSetDiffNamesOnlyThePackagesTheStatesDoNotShare) {
  auto tmp = TempDir::Make("db-test");
  ASSERT_TRUE(tmp.ok());
  auto db = Db::Open(tmp->path() + "/moss.sqlite");
  ASSERT_TRUE(db.ok()) << db.status();
  auto put = [&](const std::string& name, const std::string& version, int release,
                 const std::string& path) {
    stone::Meta m;
    m.name = name;
    m.version = version;
    m.source_release = release;
    const Digest d = Sha256Of(StrCat(name, version, release));
    EXPECT_TRUE(db->PutStone(d, m, {File(path, name)}).ok());
    return d;
  };
  const Digest same = put("same", "1", 1, "lib/same");
  const Digest old_pkg = put("pkg", "1.0", 1, "lib/pkg");
  const Digest new_pkg = put("pkg", "2.0", 3, "lib/pkg");
  const Digest gone = put("gone", "5", 1, "share/gone");
  ASSERT_TRUE(db->AddState({1, "1-aaaa", "", 1, "one", true}, "{}",
                           {{same, true}, {old_pkg, true}, {gone, false}})
                  .ok());
  ASSERT_TRUE(
      db->AddState({2, "2-bbbb", "1-aaaa", 2, "two", true}, "{}", {{same, true}, {new_pkg, true}})
          .ok());

  auto selected = db->StonesOfCommittedStates();
  ASSERT_TRUE(selected.ok()) << selected.status();
  EXPECT_EQ(selected->size(), 4u);  // "same" once, though both states select it
  EXPECT_TRUE(*db->HasStone(gone));
  EXPECT_FALSE(*db->HasStone(Sha256Of("never recorded")));

  auto d = db->DiffPackageSets(1, 2);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->only_in_from.size(), 2u);
  EXPECT_EQ(d->only_in_from[0].name, "gone");
  EXPECT_EQ(d->only_in_from[1].name, "pkg");
  EXPECT_EQ(d->only_in_from[1].version_release, "1.0-1");
  EXPECT_EQ(d->only_in_from[1].stone_digest, old_pkg);
  ASSERT_EQ(d->only_in_to.size(), 1u);
  EXPECT_EQ(d->only_in_to[0].version_release, "2.0-3");
  EXPECT_EQ(d->only_in_to[0].stone_digest, new_pkg);

  // States recorded before state_package_rows existed are compared in SQL, with the same
  // result.
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open((tmp->path() + "/moss.sqlite").c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "DELETE FROM state_package_rows WHERE state = 1", nullptr, nullptr,
                           nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
    auto sql = db->DiffPackageSets(1, 2);
    ASSERT_TRUE(sql.ok()) << sql.status();
    ASSERT_EQ(sql->only_in_from.size(), 2u);
    EXPECT_EQ(sql->only_in_from[1].stone_digest, old_pkg);
    EXPECT_EQ(sql->only_in_from[1].version_release, "1.0-1");
    ASSERT_EQ(sql->only_in_to.size(), 1u);
    EXPECT_EQ(sql->only_in_to[0].stone_digest, new_pkg);
  }

  // A damaged blob is reported with the state it belongs to, never half-read.
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open((tmp->path() + "/moss.sqlite").c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw,
                           "UPDATE state_package_rows SET packages = substr(packages, 1, 40) "
                           "WHERE state = 2",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
    auto damaged = db->DiffPackageSets(std::nullopt, 2);
    ASSERT_FALSE(damaged.ok());
    EXPECT_TRUE(absl::IsDataLoss(damaged.status())) << damaged.status();
    EXPECT_NE(damaged.status().message().find("state 2"), std::string_view::npos)
        << damaged.status();
  }

  auto first = db->DiffPackageSets(std::nullopt, 1);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->only_in_from.empty());
  EXPECT_EQ(first->only_in_to.size(), 3u);

  EXPECT_TRUE(*db->StateShipsPath(1, "share/gone"));
  EXPECT_FALSE(*db->StateShipsPath(2, "share/gone"));
  EXPECT_TRUE(*db->StateShipsPath(2, "lib/pkg"));
  EXPECT_FALSE(*db->StateShipsPath(3, "lib/pkg"));

  // "lib" is a directory in every stone that ships it, with one mode: they agree. A stone
  // that ships it with another mode, or as a file, breaks the agreement.
  stone::LayoutEntry lib = Dir("lib");
  stone::Meta m;
  m.name = "dirs";
  m.version = "1";
  ASSERT_TRUE(db->PutStone(Sha256Of("dirs1"), m, {lib}).ok());
  ASSERT_TRUE(db->PutStone(Sha256Of("dirs2"), m, {lib}).ok());
  EXPECT_TRUE(*db->DirectoryOwnersAgree("lib"));
  lib.mode = 0700;
  ASSERT_TRUE(db->PutStone(Sha256Of("dirs3"), m, {lib}).ok());
  EXPECT_FALSE(*db->DirectoryOwnersAgree("lib"));
  EXPECT_FALSE(*db->DirectoryOwnersAgree("share/gone"));  // a file
  EXPECT_FALSE(*db->DirectoryOwnersAgree("nowhere"));
  // Directories that agree, until one stone ships the path as a symlink, or with another
  // owner.
  const stone::LayoutEntry share = Dir("share");
  ASSERT_TRUE(db->PutStone(Sha256Of("share1"), m, {share}).ok());
  ASSERT_TRUE(db->PutStone(Sha256Of("share2"), m, {share}).ok());
  EXPECT_TRUE(*db->DirectoryOwnersAgree("share"));
  ASSERT_TRUE(db->PutStone(Sha256Of("share3"), m, {Symlink("share", "usr/share")}).ok());
  EXPECT_FALSE(*db->DirectoryOwnersAgree("share"));
  stone::LayoutEntry include = Dir("include");
  ASSERT_TRUE(db->PutStone(Sha256Of("include1"), m, {include}).ok());
  include.gid = 1000;
  ASSERT_TRUE(db->PutStone(Sha256Of("include2"), m, {include}).ok());
  EXPECT_FALSE(*db->DirectoryOwnersAgree("include"));
}

TEST(Db, OpeningAnOlderDatabaseReplacesItsPathIndexes) {
  auto tmp = TempDir::Make("db-test");
  ASSERT_TRUE(tmp.ok());
  const std::string path = tmp->path() + "/moss.sqlite";
  ASSERT_TRUE(Db::Open(path).ok());
  // The two indexes a database from before layout_path_kind has.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw,
                         "DROP INDEX layout_path_kind; "
                         "CREATE INDEX layout_path ON layout(path); "
                         "CREATE INDEX layout_dirs ON layout(path, mode, uid, gid) WHERE kind = 3",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  ASSERT_TRUE(Db::Open(path).ok());
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw,
                               "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master "
                               "WHERE type = 'index' AND tbl_name = 'layout' AND name LIKE "
                               "'layout_%' ORDER BY name)",
                               -1, &s, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 0))),
            "layout_digest,layout_path_kind");
  sqlite3_finalize(s);
  sqlite3_close(raw);
}

}  // namespace
}  // namespace onix::moss::db

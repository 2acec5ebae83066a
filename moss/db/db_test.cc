#include "moss/db/db.h"

#include "gtest/gtest.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"

namespace onix::moss::db {
namespace {

stone::LayoutEntry File(std::string path, std::string_view content) {
  stone::LayoutEntry e;
  e.path = std::move(path);
  e.digest = Sha256Of(content);
  e.size = content.size();
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
    StateRecord st{1, "1-abcd", "", 100, "install zlib 1.3-0", "{}", false};
    ASSERT_TRUE(db->AddState(st, {{stone_digest, true}}).ok());
    EXPECT_TRUE(db->States()->empty());  // candidate only
    ASSERT_TRUE(db->MarkCommitted(1).ok());
  }
  auto db = Db::Open(path);
  ASSERT_TRUE(db.ok());
  auto states = db->States();
  ASSERT_EQ(states->size(), 1u);
  EXPECT_EQ((*states)[0].fstx, "1-abcd");
  auto owners = db->FindPath(1, "lib/libz.so");
  ASSERT_TRUE(owners.ok());
  ASSERT_EQ(owners->size(), 1u);
  EXPECT_EQ((*owners)[0].package, "zlib");
  EXPECT_EQ((*owners)[0].entry.digest, Sha256Of("z"));
  EXPECT_EQ(db->StonesWithContent(Sha256Of("z"))->size(), 1u);
  EXPECT_TRUE(db->DeleteUnreferencedStones()->empty());
  // Read (and kept) before the stone goes: the deletion must not leave it readable.
  ASSERT_EQ(db->Layout(stone_digest)->size(), 1u);
  ASSERT_TRUE(db->DeleteState(1).ok());
  EXPECT_EQ(db->DeleteUnreferencedStones()->size(), 1u);
  EXPECT_TRUE(absl::IsNotFound(db->Layout(stone_digest).status()));
  // Numbers are never reused, even after the highest state was deleted.
  EXPECT_EQ(*db->NextStateNumber(), 2u);
}

}  // namespace
}  // namespace onix::moss::db

#include "moss/store/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/temp_dir.h"

namespace onix::moss::store {
namespace {

TEST(ObjectKey, NameRoundTripsWithAndWithoutMetadataSuffix) {
  const Digest d = Sha256Of("hello");
  ObjectKey plain = ObjectKey::For(d, 0644, 0, 0);
  EXPECT_EQ(plain.mode, 0444u);
  EXPECT_EQ(plain.Name(), d.Hex());
  ObjectKey exec = ObjectKey::For(d, 0755, 0, 0);
  EXPECT_EQ(exec.Name(), d.Hex() + ".555.0.0");
  EXPECT_EQ(*ObjectKey::Parse(exec.Name()), exec);
  EXPECT_EQ(*ObjectKey::Parse(plain.Name()), plain);
  EXPECT_FALSE(ObjectKey::Parse("nothex").ok());
  EXPECT_FALSE(ObjectKey::Parse(d.Hex() + ".9.0.0").ok());
}

TEST(Store, PutStoresReadOnlyVerifiedObjectOnce) {
  auto tmp = TempDir::Make("store-test");
  ASSERT_TRUE(tmp.ok());
  auto store = Store::Open(tmp->fd());
  ASSERT_TRUE(store.ok()) << store.status();
  const ObjectKey key = ObjectKey::For(Sha256Of("data"), 0644, 0, 0);
  ASSERT_TRUE(store->Put(key, "data").ok());
  ASSERT_TRUE(store->Put(key, "data").ok());
  auto st = fs::StatAt(store->fd(), key.RelPath());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_mode & 07777, 0444u);
  EXPECT_EQ(st->st_nlink, 1u);
  auto list = store->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_TRUE(store->Verify(key).ok());
}

TEST(Store, PutRefusesBytesThatDoNotMatchTheDigest) {
  auto tmp = TempDir::Make("store-test");
  ASSERT_TRUE(tmp.ok());
  auto store = Store::Open(tmp->fd());
  ASSERT_TRUE(store.ok());
  const ObjectKey key = ObjectKey::For(Sha256Of("data"), 0644, 0, 0);
  absl::Status s = store->Put(key, "other");
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_FALSE(*store->Has(key));
}

TEST(Store, ObjectWriterPublishesStreamedBytesUnderEveryModeVariant) {
  auto tmp = TempDir::Make("store-test");
  ASSERT_TRUE(tmp.ok());
  auto store = Store::Open(tmp->fd());
  ASSERT_TRUE(store.ok());
  const Digest d = Sha256Of("hello world");
  const ObjectKey plain = ObjectKey::For(d, 0644, 0, 0), exec = ObjectKey::For(d, 0755, 0, 0);
  auto w = store->BeginObject(d);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE(w->Append("hello ").ok());
  ASSERT_TRUE(w->Append("world").ok());
  EXPECT_TRUE(store->List()->empty()) << "nothing is visible before Publish";
  ASSERT_TRUE(w->Publish({plain, exec}).ok());
  EXPECT_TRUE(store->Verify(plain).ok());
  EXPECT_TRUE(store->Verify(exec).ok());
  auto a = fs::StatAt(store->fd(), plain.RelPath()), b = fs::StatAt(store->fd(), exec.RelPath());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->st_mode & 07777, 0444u);
  EXPECT_EQ(b->st_mode & 07777, 0555u);
  EXPECT_NE(a->st_ino, b->st_ino) << "mode variants must be separate inodes";
  EXPECT_EQ(b->st_size, 11);
}

TEST(Store, ObjectWriterRefusesBytesThatDoNotMatchAndLeavesNothing) {
  auto tmp = TempDir::Make("store-test");
  ASSERT_TRUE(tmp.ok());
  auto store = Store::Open(tmp->fd());
  ASSERT_TRUE(store.ok());
  const ObjectKey key = ObjectKey::For(Sha256Of("data"), 0644, 0, 0);
  auto w = store->BeginObject(key.digest);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Append("dat").ok());
  ASSERT_TRUE(w->Append("X").ok());
  absl::Status s = w->Publish({key});
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_FALSE(*store->Has(key));
  auto shard = fs::OpenDirAt(store->fd(), key.digest.Hex().substr(0, 2));
  ASSERT_TRUE(shard.ok());
  EXPECT_TRUE(fs::ListDir(shard->get())->empty());
}

TEST(Store, VerifyDetectsCorruptionAndRemoveDeletes) {
  auto tmp = TempDir::Make("store-test");
  ASSERT_TRUE(tmp.ok());
  auto store = Store::Open(tmp->fd());
  ASSERT_TRUE(store.ok());
  const ObjectKey key = ObjectKey::For(Sha256Of("data"), 0755, 0, 0);
  ASSERT_TRUE(store->Put(key, "data").ok());
  // Corrupt in place (same inode), as a bad disk or a stray writer would.
  ASSERT_EQ(::fchmodat(store->fd(), key.RelPath().c_str(), 0644, 0), 0);
  auto fd = fs::OpenAt(store->fd(), key.RelPath(), O_WRONLY);
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(::pwrite(fd->get(), "4", 1, 3), 1);
  EXPECT_TRUE(absl::IsDataLoss(store->Verify(key)));
  ASSERT_TRUE(store->Remove(key).ok());
  EXPECT_TRUE(absl::IsNotFound(store->Verify(key)));
  EXPECT_EQ(*store->TotalSize(), 0u);
}

}  // namespace
}  // namespace onix::moss::store

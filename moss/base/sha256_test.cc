#include "moss/base/sha256.h"

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/temp_dir.h"

namespace onix {
namespace {

TEST(Sha256, MatchesKnownVectors) {
  EXPECT_EQ(Sha256Of("").Hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Of("abc").Hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, StreamingEqualsOneShot) {
  Sha256 h;
  h.Update("a");
  h.Update("bc");
  EXPECT_EQ(h.Finish(), Sha256Of("abc"));
}

TEST(Digest, HexRoundTripAndRejectsGarbage) {
  Digest d = Sha256Of("abc");
  auto back = Digest::FromHex(d.Hex());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, d);
  EXPECT_FALSE(Digest::FromHex("abc").ok());
  EXPECT_FALSE(Digest::FromHex(std::string(64, 'g')).ok());
}

TEST(Sha256FileAt, HashesFileAndReportsSize) {
  auto t = TempDir::Make("sha-test-");
  ASSERT_TRUE(t.ok());
  const std::string data(300000, 'z');
  ASSERT_TRUE(fs::WriteFileAtomicAt(t->fd(), "f", data, 0644, fs::Durability::kNone).ok());
  uint64_t size = 0;
  auto d = Sha256FileAt(t->fd(), "f", &size);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, Sha256Of(data));
  EXPECT_EQ(size, data.size());
  EXPECT_TRUE(absl::IsNotFound(Sha256FileAt(t->fd(), "missing").status()));
}

}  // namespace
}  // namespace onix

#include "moss/repo/signature.h"

#include "gtest/gtest.h"
#include "moss/base/temp_dir.h"

namespace onix::moss::repo {
namespace {

TEST(Signature, SignedDataVerifiesWithItsKey) {
  auto key = GenerateKey();
  ASSERT_TRUE(key.ok());
  auto sig = Sign(*key, "index bytes");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig->size(), 128u);
  EXPECT_TRUE(Verify(key->public_key, "index bytes", *sig).ok());
}

TEST(Signature, TamperedDataIsRefused) {
  auto key = GenerateKey();
  ASSERT_TRUE(key.ok());
  auto sig = Sign(*key, "index bytes");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(Verify(key->public_key, "index bytez", *sig).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(Signature, OtherKeyIsRefused) {
  auto a = GenerateKey();
  auto b = GenerateKey();
  ASSERT_TRUE(a.ok() && b.ok());
  auto sig = Sign(*a, "data");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(Verify(b->public_key, "data", *sig).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Verify(a->public_key, "data", "abcd").code(), absl::StatusCode::kPermissionDenied);
}

TEST(Signature, KeyFilesRoundTripAndAreNeverOverwritten) {
  auto dir = TempDir::Make("keys");
  ASSERT_TRUE(dir.ok());
  auto key = GenerateKey();
  ASSERT_TRUE(key.ok());
  const std::string secret = dir->path() + "/repo.key";
  const std::string pub = dir->path() + "/repo.pub";
  ASSERT_TRUE(WriteSecretKeyFile(*key, secret).ok());
  ASSERT_TRUE(WritePublicKeyFile(key->public_key, pub).ok());
  EXPECT_EQ(WriteSecretKeyFile(*key, secret).code(), absl::StatusCode::kAlreadyExists);
  auto read = ReadSecretKeyFile(secret);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->seed, key->seed);
  auto read_pub = ReadPublicKey(pub);
  ASSERT_TRUE(read_pub.ok()) << read_pub.status();
  EXPECT_EQ(*read_pub, key->public_key);
  auto from_hex = ReadPublicKey(key->public_key.Hex());
  ASSERT_TRUE(from_hex.ok());
  EXPECT_EQ(*from_hex, key->public_key);
  EXPECT_FALSE(ReadSecretKeyFile(pub).ok());
}

}  // namespace
}  // namespace onix::moss::repo

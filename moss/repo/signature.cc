#include "moss/repo/signature.h"

#include <fcntl.h>
#include <openssl/evp.h>

#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "moss/base/fs_at.h"
#include "moss/base/sha256.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/repo/files.h"

namespace onix::moss::repo {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

constexpr char kSecretTag[] = "onix-ed25519-secret";
constexpr char kPublicTag[] = "onix-ed25519-public";

absl::StatusOr<std::vector<uint8_t>> Unhex(std::string_view hex, size_t want) {
  if (hex.size() != want * 2) {
    return InvalidArgument(StrCat("expected ", want * 2, " hex characters, got ", hex.size()));
  }
  std::vector<uint8_t> out(want);
  for (size_t i = 0; i < want; ++i) {
    auto nib = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return InvalidArgument("not a hex string");
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return out;
}

std::string Hex(const uint8_t* p, size_t n) {
  return HexEncode(std::string_view(reinterpret_cast<const char*>(p), n));
}

absl::Status WriteNew(const std::string& path, std::string_view contents, mode_t mode) {
  // O_EXCL: a key is never silently replaced; losing a signing key strands every client.
  ONIX_ASSIGN_OR_RETURN(UniqueFd fd, OpenPath(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  ONIX_RETURN_IF_ERROR(fs::WriteAll(fd.get(), contents, path));
  return fs::FsyncFd(fd.get(), path);
}

absl::StatusOr<std::vector<std::string>> ReadWords(const std::string& path) {
  ONIX_ASSIGN_OR_RETURN(std::string text, ReadPath(path));
  std::vector<std::string> words =
      absl::StrSplit(AbslView(text), absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
  return words;
}

PublicKey PublicOf(EVP_PKEY* pkey) {
  PublicKey pub;
  size_t len = pub.bytes.size();
  EVP_PKEY_get_raw_public_key(pkey, pub.bytes.data(), &len);
  return pub;
}

}  // namespace

std::string PublicKey::Hex() const { return repo::Hex(bytes.data(), bytes.size()); }

absl::StatusOr<PublicKey> PublicKey::FromHex(std::string_view hex) {
  auto raw = Unhex(hex, 32);
  if (!raw.ok()) return Annotate(raw.status(), "reading ed25519 public key");
  PublicKey k;
  std::copy(raw->begin(), raw->end(), k.bytes.begin());
  return k;
}

absl::StatusOr<SecretKey> GenerateKey() {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0 || EVP_PKEY_keygen(ctx.get(), &raw) <= 0) {
    return Internal("generating ed25519 key: openssl keygen failed");
  }
  PkeyPtr pkey(raw);
  SecretKey key;
  size_t len = key.seed.size();
  if (EVP_PKEY_get_raw_private_key(pkey.get(), key.seed.data(), &len) <= 0) {
    return Internal("generating ed25519 key: exporting the private key failed");
  }
  key.public_key = PublicOf(pkey.get());
  return key;
}

absl::Status WriteSecretKeyFile(const SecretKey& key, const std::string& path) {
  return Annotate(WriteNew(path,
                           StrCat(kSecretTag, " ", Hex(key.seed.data(), key.seed.size()), " ",
                                  key.public_key.Hex(), "\n"),
                           0600),
                  StrCat("writing secret key ", path));
}

absl::Status WritePublicKeyFile(const PublicKey& key, const std::string& path) {
  return Annotate(WriteNew(path, StrCat(kPublicTag, " ", key.Hex(), "\n"), 0644),
                  StrCat("writing public key ", path));
}

absl::StatusOr<SecretKey> ReadSecretKeyFile(const std::string& path) {
  const std::string ctx = StrCat("reading secret key ", path);
  auto words = ReadWords(path);
  if (!words.ok()) return Annotate(words.status(), ctx);
  if (words->size() != 3 || (*words)[0] != kSecretTag) {
    return InvalidArgument(StrCat(ctx, ": not an onix-ed25519-secret key file"));
  }
  auto seed = Unhex((*words)[1], 32);
  if (!seed.ok()) return Annotate(seed.status(), ctx);
  SecretKey key;
  std::copy(seed->begin(), seed->end(), key.seed.begin());
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, key.seed.data(), 32));
  if (!pkey) return InvalidArgument(StrCat(ctx, ": openssl refused the key"));
  key.public_key = PublicOf(pkey.get());
  if (key.public_key.Hex() != absl::AsciiStrToLower(AbslView((*words)[2]))) {
    return InvalidArgument(StrCat(ctx, ": public half does not match the secret half"));
  }
  return key;
}

absl::StatusOr<PublicKey> ReadPublicKey(const std::string& path_or_hex) {
  if (path_or_hex.size() == 64 && path_or_hex.find('/') == std::string::npos) {
    if (auto k = PublicKey::FromHex(path_or_hex); k.ok()) return k;
  }
  const std::string ctx = StrCat("reading public key ", path_or_hex);
  auto words = ReadWords(path_or_hex);
  if (!words.ok()) return Annotate(words.status(), ctx);
  if (words->size() != 2 || (*words)[0] != kPublicTag) {
    return InvalidArgument(StrCat(ctx, ": not an onix-ed25519-public key file"));
  }
  auto key = PublicKey::FromHex((*words)[1]);
  if (!key.ok()) return Annotate(key.status(), ctx);
  return key;
}

absl::StatusOr<std::string> Sign(const SecretKey& key, std::string_view data) {
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, key.seed.data(), 32));
  MdCtxPtr md(EVP_MD_CTX_new());
  std::array<uint8_t, 64> sig{};
  size_t len = sig.size();
  if (!pkey || !md || EVP_DigestSignInit(md.get(), nullptr, nullptr, nullptr, pkey.get()) <= 0 ||
      EVP_DigestSign(md.get(), sig.data(), &len, reinterpret_cast<const uint8_t*>(data.data()),
                     data.size()) <= 0) {
    return Internal("signing with ed25519: openssl failed");
  }
  return Hex(sig.data(), len);
}

absl::Status Verify(const PublicKey& key, std::string_view data, std::string_view signature_hex) {
  const std::string trimmed(absl::StripAsciiWhitespace(AbslView(signature_hex)));
  auto sig = Unhex(trimmed, 64);
  if (!sig.ok()) {
    return absl::PermissionDeniedError(
        StrCat("verifying ed25519 signature: malformed signature: ", sig.status().message()));
  }
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.bytes.data(), 32));
  MdCtxPtr md(EVP_MD_CTX_new());
  if (!pkey || !md || EVP_DigestVerifyInit(md.get(), nullptr, nullptr, nullptr, pkey.get()) <= 0) {
    return Internal("verifying ed25519 signature: openssl setup failed");
  }
  if (EVP_DigestVerify(md.get(), sig->data(), sig->size(),
                       reinterpret_cast<const uint8_t*>(data.data()), data.size()) != 1) {
    return absl::PermissionDeniedError(
        StrCat("verifying ed25519 signature: signature does not "
               "match key ",
               key.Hex()));
  }
  return absl::OkStatus();
}

}  // namespace onix::moss::repo

// SHA-256, the one content digest of ONIX (store, stone layout, index, repositories),
// computed with OpenSSL's EVP interface.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace onix {

struct Digest {
  std::array<uint8_t, 32> bytes{};

  // 64 lowercase hex characters.
  std::string Hex() const;
  // Parses 64 hex characters (either case); InvalidArgument otherwise.
  static absl::StatusOr<Digest> FromHex(std::string_view hex);

  friend bool operator==(const Digest& a, const Digest& b) { return a.bytes == b.bytes; }
  friend bool operator!=(const Digest& a, const Digest& b) { return !(a == b); }
  friend bool operator<(const Digest& a, const Digest& b) { return a.bytes < b.bytes; }
};

// Streaming hasher: Update() any number of times, then Finish() once.
class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t len);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  Digest Finish();

 private:
  struct CtxFree {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx_;
};

Digest Sha256Of(std::string_view data);

// Hashes the regular file `name` below `dirfd` (never following a final symlink) and
// reports its size in `*size` when given.
absl::StatusOr<Digest> Sha256FileAt(int dirfd, std::string_view name, uint64_t* size = nullptr);
// Hashes everything readable from `fd` from its current offset.
absl::StatusOr<Digest> Sha256Fd(int fd, uint64_t* size = nullptr);

std::string HexEncode(std::string_view bytes);

}  // namespace onix

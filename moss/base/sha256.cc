#include "moss/base/sha256.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "moss/base/check.h"
#include "moss/base/fd.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string Digest::Hex() const {
  return HexEncode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

absl::StatusOr<Digest> Digest::FromHex(std::string_view hex) {
  if (hex.size() != 64) {
    return absl::InvalidArgumentError(StrCat("a SHA-256 digest has 64 hex characters, got ",
                                             hex.size(), ": '", std::string(hex.substr(0, 80)),
                                             "'"));
  }
  Digest d;
  for (size_t i = 0; i < 32; ++i) {
    int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(StrCat("not a hex digest: '", std::string(hex), "'"));
    }
    d.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return d;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  ONIX_CHECK(ctx_ != nullptr) << "EVP_MD_CTX_new";
  ONIX_CHECK(EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) == 1) << "EVP_DigestInit_ex";
}

void Sha256::Update(const void* data, size_t len) {
  ONIX_CHECK(EVP_DigestUpdate(ctx_.get(), data, len) == 1) << "EVP_DigestUpdate";
}

Digest Sha256::Finish() {
  Digest d;
  unsigned int len = 0;
  ONIX_CHECK(EVP_DigestFinal_ex(ctx_.get(), d.bytes.data(), &len) == 1 && len == 32)
      << "EVP_DigestFinal_ex";
  return d;
}

Digest Sha256Of(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Finish();
}

absl::StatusOr<Digest> Sha256Fd(int fd, uint64_t* size) {
  Sha256 h;
  std::string buf(1 << 17, '\0');
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return ErrnoError(err, "read");
    }
    if (n == 0) break;
    h.Update(buf.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  if (size != nullptr) *size = total;
  return h.Finish();
}

absl::StatusOr<Digest> Sha256FileAt(int dirfd, std::string_view name, uint64_t* size) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd fd, fs::OpenAt(dirfd, name, O_RDONLY | O_NOFOLLOW));
  auto d = Sha256Fd(fd.get(), size);
  if (!d.ok()) return Annotate(d.status(), StrCat("hashing ", name));
  return d;
}

}  // namespace onix

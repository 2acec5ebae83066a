// Ed25519 signing keys and detached signatures for repository indexes (OpenSSL EVP).
// Keys and signatures are small text files holding hex, so they survive copy and paste.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace onix::moss::repo {

struct PublicKey {
  std::array<uint8_t, 32> bytes{};
  std::string Hex() const;
  // 64 hex characters.
  static absl::StatusOr<PublicKey> FromHex(std::string_view hex);
  friend bool operator==(const PublicKey&, const PublicKey&) = default;
};

struct SecretKey {
  std::array<uint8_t, 32> seed{};
  PublicKey public_key;
};

// Makes a fresh key pair from OpenSSL's CSPRNG.
absl::StatusOr<SecretKey> GenerateKey();

// Secret key file: "onix-ed25519-secret <seed hex> <public hex>\n", written mode 0600.
// Public key file: "onix-ed25519-public <hex>\n". Both are written atomically and never
// overwrite an existing file (AlreadyExists).
absl::Status WriteSecretKeyFile(const SecretKey& key, const std::string& path);
absl::Status WritePublicKeyFile(const PublicKey& key, const std::string& path);
absl::StatusOr<SecretKey> ReadSecretKeyFile(const std::string& path);
// Accepts a public key file or the 64-hex-character key itself (what `repo add --key` takes).
absl::StatusOr<PublicKey> ReadPublicKey(const std::string& path_or_hex);

// A detached signature over `data`: 128 hex characters.
absl::StatusOr<std::string> Sign(const SecretKey& key, std::string_view data);
// OK when `signature_hex` is `key`'s signature of `data`; PermissionDenied when it is not (or
// malformed): the data must not be used.
absl::Status Verify(const PublicKey& key, std::string_view data, std::string_view signature_hex);

}  // namespace onix::moss::repo

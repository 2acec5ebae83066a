// libFuzzer target for the index signature path: the input's first line is a detached
// signature (hex) or a public key, the rest the signed data (an index's SHA256SUMS). Verify
// must accept exactly the key's own signature of exactly that data: a fuzzed signature that
// verifies must be the real one, the real one must verify, and the real one over changed data
// or with one hex digit changed must not. Aborts on a broken invariant. Replayed by
// //moss/repo/fuzz:signature_fuzzer_replay_test (docs/testing.md).
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "moss/repo/signature.h"

namespace {

std::string Normal(std::string_view hex) {
  std::string out;
  for (char c : hex) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace onix::moss::repo;
  static const SecretKey key = [] {
    auto k = GenerateKey();
    if (!k.ok()) std::abort();
    return *k;
  }();
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  const std::string_view first = in.substr(0, nl);
  const std::string_view body = nl == std::string_view::npos ? "" : in.substr(nl + 1);

  if (auto pub = PublicKey::FromHex(first); pub.ok()) {
    if (pub->Hex() != Normal(first)) std::abort();  // what parses is the key it spells
  }
  auto real = Sign(key, body);
  if (!real.ok()) std::abort();
  if (Verify(key.public_key, body, first).ok() && Normal(first) != Normal(*real)) std::abort();
  if (!Verify(key.public_key, body, *real).ok()) std::abort();
  if (Verify(key.public_key, std::string(body) + "x", *real).ok()) std::abort();
  std::string flipped = *real;
  const size_t at = size % flipped.size();
  flipped[at] = flipped[at] == '0' ? '1' : '0';
  if (Verify(key.public_key, body, flipped).ok()) std::abort();
  return 0;
}

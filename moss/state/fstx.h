// fstx ids name machine states: a monotonic state number plus the first four hex digits of
// the state's manifest digest ("6649-a17c"). Input may omit the suffix ("6649").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "moss/base/sha256.h"

namespace onix::moss::state {

struct Fstx {
  uint64_t number = 0;
  std::string suffix;  // four lowercase hex digits; empty in a query that omitted it

  static Fstx Make(uint64_t number, const Digest& manifest_digest);
  // Accepts "N" and "N-xxxx" (hex in either case); InvalidArgument naming the text otherwise.
  static absl::StatusOr<Fstx> Parse(std::string_view text);
  // The state-id rule for names moss wrote itself (a journal's trees, a boot entry's file
  // name): exactly "N-xxxx" as ToString() writes it, lowercase hex, at most 20 digits. Such an
  // id is never a path, a separator or a control character. InvalidArgument naming the text.
  static absl::StatusOr<Fstx> ParseExact(std::string_view text);
  // "N-xxxx", or "N" when the suffix is empty.
  std::string ToString() const;
  // True when `full` (a complete fstx) is the state this (possibly suffix-less) id names.
  bool Names(const Fstx& full) const;

  friend bool operator==(const Fstx&, const Fstx&) = default;
};

}  // namespace onix::moss::state

// onix::DumpJson: the one way ONIX serialises JSON. nlohmann's dump() throws type_error 316
// on invalid UTF-8; untrusted text (a path from a tree, a string from a stone) must never turn
// into an exception past the call, so invalid bytes become U+FFFD instead.
#pragma once

#include <string>

#include "nlohmann/json.hpp"

namespace onix {

// `j` as text: compact when `indent` < 0, else pretty-printed with `indent` spaces. Never
// throws: invalid UTF-8 in a string is replaced by U+FFFD (readers refuse such strings at
// the door, so this only ever matters for text that bypassed them).
inline std::string DumpJson(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace onix

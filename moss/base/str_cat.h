// onix::StrCat: absl::StrCat that also takes std::string_view. Debian's abseil is built
// with its own absl::string_view type, so absl::StrCat refuses std::string_view arguments.
#pragma once

#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace onix {
namespace internal_str {
inline absl::string_view Conv(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline const std::string& Conv(const std::string& s) { return s; }
inline const char* Conv(const char* s) { return s; }
template <typename T>
inline const T& Conv(const T& v) {
  return v;
}
}  // namespace internal_str

template <typename... Args>
std::string StrCat(const Args&... args) {
  return absl::StrCat(internal_str::Conv(args)...);
}

// Converts for abseil APIs that take absl::string_view.
inline absl::string_view AbslView(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

}  // namespace onix

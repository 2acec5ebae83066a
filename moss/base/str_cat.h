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

// `text` with every control character (C0 including NUL, and DEL) written as "\xNN", for
// messages and human output that quote untrusted text: a raw newline, ESC or NUL can forge
// or cut lines on a terminal. JSON output keeps the exact text instead.
inline std::string EscapeControl(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}
// The same for Status::message() (Debian's absl::string_view is its own type).
inline std::string EscapeControl(absl::string_view text) {
  return EscapeControl(std::string_view(text.data(), text.size()));
}
inline std::string EscapeControl(const std::string& text) {
  return EscapeControl(std::string_view(text));
}
inline std::string EscapeControl(const char* text) { return EscapeControl(std::string_view(text)); }

}  // namespace onix

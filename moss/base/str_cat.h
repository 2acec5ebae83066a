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
// `keep` lists control characters to leave as they are ("\n" for a message whose own lines
// are meant).
inline std::string EscapeControl(std::string_view text, std::string_view keep = {}) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if ((c < 0x20 || c == 0x7f) && keep.find(static_cast<char>(c)) == std::string_view::npos) {
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
// Multi-line untrusted text for a human (a description): control characters escaped but the
// newlines, and every line after the first indented by `indent` spaces, so no line of it can
// pass for a line of ours ("state 9-ffff is active").
inline std::string EscapeLines(std::string_view text, size_t indent) {
  const std::string escaped = EscapeControl(text, "\n");
  std::string out;
  out.reserve(escaped.size());
  for (char c : escaped) {
    out += c;
    if (c == '\n') out.append(indent, ' ');
  }
  return out;
}

// The same for Status::message() (Debian's absl::string_view is its own type).
inline std::string EscapeControl(absl::string_view text, std::string_view keep = {}) {
  return EscapeControl(std::string_view(text.data(), text.size()), keep);
}
inline std::string EscapeControl(const std::string& text, std::string_view keep = {}) {
  return EscapeControl(std::string_view(text), keep);
}
inline std::string EscapeControl(const char* text, std::string_view keep = {}) {
  return EscapeControl(std::string_view(text), keep);
}

}  // namespace onix

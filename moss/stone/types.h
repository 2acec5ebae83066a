// The value types a stone carries (package metadata, dependencies, layout records), shared
// by the stone reader/writer, moss, the solver and boulder. Plain data: no I/O here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "moss/base/sha256.h"

namespace onix::stone {

// What a layout record describes. Device nodes, fifos and sockets are never representable.
enum class FileKind : uint8_t { kRegular = 1, kSymlink = 2, kDirectory = 3 };

// One path of a package, relative to /usr ("bin/sh", "lib/libc.so").
struct LayoutEntry {
  std::string path;
  FileKind kind = FileKind::kRegular;
  uint32_t mode = 0644;  // permission bits only (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string target;  // symlinks only
  Digest digest;       // regular files only: SHA-256 of the content
  uint64_t size = 0;   // regular files only

  friend bool operator==(const LayoutEntry&, const LayoutEntry&) = default;
};

// The typed namespaces of dependencies and providers.
enum class DepKind : uint8_t {
  kName = 1,       // name(foo)
  kSoname = 2,     // soname(libfoo.so.1(x86_64))
  kPkgconfig = 3,  // pkgconfig(foo)
  kBinary = 4,     // binary(foo): /usr/bin/foo
  kSysbinary = 5,  // sysbinary(foo): /usr/sbin/foo
};

enum class VersionOp : uint8_t { kAny = 0, kGreaterEqual = 1, kEqual = 2, kLess = 3 };

// A dependency, provider or conflict: "soname(libz.so.1(x86_64))", "name(zlib) >= 1.3".
struct Dependency {
  DepKind kind = DepKind::kName;
  std::string name;
  VersionOp op = VersionOp::kAny;
  std::string version;  // empty when op == kAny

  // "kind(name)" followed by " op version" when constrained.
  std::string ToString() const;
  // Parses ToString()'s form. A bare word "foo" means name(foo). InvalidArgument on anything
  // else, naming the text and what is wrong.
  static absl::StatusOr<Dependency> Parse(std::string_view text);

  friend bool operator==(const Dependency&, const Dependency&) = default;
  friend auto operator<=>(const Dependency&, const Dependency&) = default;
};

std::string_view DepKindName(DepKind kind);

// Package metadata (the Meta payload of a binary stone, one record set per package in an
// index stone).
struct Meta {
  std::string name;
  std::string version;          // upstream version, "1.2.13"
  uint64_t source_release = 0;  // recipe release
  uint64_t build_release = 1;   // rebuilds of the same recipe release
  std::string architecture;     // "x86_64"
  std::string summary;
  std::string description;
  std::string homepage;
  std::vector<std::string> licenses;  // SPDX identifiers
  std::string source_id;              // the recipe name the package came from
  std::vector<Dependency> depends;
  std::vector<Dependency> provides;
  std::vector<Dependency> conflicts;
  std::vector<Dependency> replaces;  // obsoletes: installing this removes those
  bool allow_setid = false;          // layout may carry setuid/setgid bits
  // Provenance: one line per exact build input, in order ("upstream URL sha256:HEX",
  // "debian-source NAME VERSION FILE sha256:HEX"). Meta tag 17, repeating.
  std::vector<std::string> inputs;

  // "name version-source_release-build_release", e.g. "zlib 1.3-1-1".
  std::string Nvr() const;

  friend bool operator==(const Meta&, const Meta&) = default;
};

// The spec's limits on Meta strings (docs/stone-format.md, "Meta"): the description may be
// long, every other string is one line-ish field.
inline constexpr size_t kMaxNameLength = 128;               // package names and versions
inline constexpr size_t kMaxDescriptionLength = 64u << 10;  // Meta tag 7
inline constexpr size_t kMaxMetaStringLength = 4u << 10;    // every other string
inline constexpr size_t kMaxMetaPlainSize = 1u << 20;       // a Meta payload's plain bytes

// Whether `s` is well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
bool IsValidUtf8(std::string_view s);

// The one rule for package names (spec "Names and versions"): 1..128 bytes of ASCII letters,
// digits and "._+-", starting with a letter or digit (so never "", ".", "..", ".git", and
// never a "/" or a control character). InvalidArgument naming the text and the rule broken.
absl::Status ValidatePackageName(std::string_view name);
// Versions: 1..128 bytes of ASCII letters, digits and "._+~:^-", starting with a letter or
// digit. InvalidArgument naming the text and the rule broken.
absl::Status ValidateVersion(std::string_view version);
// A free-text Meta string (summary, description, homepage, license, source id, input, a
// dependency's name or version): valid UTF-8, at most `max_bytes`, no control characters
// (C0, DEL, C1) except a newline and tab when `multiline` (the description).
// InvalidArgument naming `field`.
absl::Status ValidateMetaString(std::string_view field, std::string_view value, size_t max_bytes,
                                bool multiline = false);
// Every rule above on a whole Meta: name and version, source id (a package name when set),
// every string and dependency. Used by the stone reader, the writer, the index parser and
// boulder, so a value one of them accepts the others accept too.
absl::Status ValidateMeta(const Meta& meta);

}  // namespace onix::stone

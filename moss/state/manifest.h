// A state's manifest: the selected packages (versions, stone digests, explicit flags) and
// the digest of the merged layout. Its canonical JSON is hashed into the fstx suffix and
// committed to history.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "moss/base/sha256.h"
#include "moss/stone/types.h"
#include "nlohmann/json.hpp"

namespace onix::moss::state {

// One package of a state.
struct PackageRecord {
  stone::Meta meta;
  Digest stone_digest;      // SHA-256 of the .stone file it came from
  bool is_explicit = true;  // asked for by name (false: pulled in as a dependency)
  Digest layout_digest;     // LayoutDigest() of the package's layout
  friend bool operator==(const PackageRecord&, const PackageRecord&) = default;
};

struct Manifest {
  std::vector<PackageRecord> packages;  // sorted by name
  Digest layout_digest;                 // LayoutDigest() of the merged layout

  // Canonical text: sorted keys, sorted packages, two-space indent, trailing newline. The same
  // manifest always gives the same bytes.
  std::string ToJson() const;
  static absl::StatusOr<Manifest> FromJson(std::string_view text);
  // SHA-256 of ToJson().
  Digest ContentDigest() const;

  const PackageRecord* Find(std::string_view name) const;
};

// "version-source_release" as shown in history messages ("1.2-3").
std::string VersionRelease(const stone::Meta& meta);

nlohmann::json MetaToJson(const stone::Meta& meta);
absl::StatusOr<stone::Meta> MetaFromJson(const nlohmann::json& j);

// One canonical line per entry ("path kind mode uid gid digest-or-target size"), in order.
std::string LayoutText(const std::vector<stone::LayoutEntry>& layout);
// SHA-256 of LayoutText() of `layout` sorted by path.
Digest LayoutDigest(const std::vector<stone::LayoutEntry>& layout);

}  // namespace onix::moss::state

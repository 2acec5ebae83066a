// Repository indexes: `moss index DIR` turns a directory of stones into an index stone
// (moss/stone IndexRecords), SHA256SUMS, and optionally a detached Ed25519 signature.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "moss/repo/signature.h"
#include "moss/solver/solver.h"
#include "moss/stone/stone.h"

namespace onix::moss::repo {

inline constexpr char kIndexFile[] = "stone.index";
inline constexpr char kSignatureFile[] = "stone.index.sig";
inline constexpr char kSumsFile[] = "SHA256SUMS";

struct IndexOptions {
  const SecretKey* sign_key = nullptr;  // writes stone.index.sig when set
};

struct IndexSummary {
  size_t packages = 0;
  Digest index_digest;
};

// Indexes every "*.stone" binary stone directly in `dir` (sorted by file name). Writes
// DIR/stone.index (atomically; byte-identical for the same stones), DIR/SHA256SUMS
// ("<hex>  <file>" lines for every stone and the index, sorted by name), and DIR/stone.index.sig
// when signing; without a key a stale signature is removed, since it cannot match. A stone that
// does not open is an error naming it and nothing is written.
absl::StatusOr<IndexSummary> BuildIndex(const std::string& dir, const IndexOptions& options = {});

// Whether a fetched stone is the package its index record promised: name, version, source and
// build release, architecture, depends, provides, conflicts and replaces must be equal (the
// lists as sets). InvalidArgument naming the file, what the index says and what the stone
// says, so a plan confirmed as "install outsider" can never install "evil".
absl::Status CheckStoneMatchesIndex(const stone::Meta& index, const stone::Meta& stone,
                                    std::string_view file);

// Reads an index stone's records as solver packages. InvalidArgument when `path` is not an
// index stone.
absl::StatusOr<std::vector<solver::Package>> ReadIndex(const std::string& path);

}  // namespace onix::moss::repo

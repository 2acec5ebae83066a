// A deterministic, seeded generator of /usr-like trees for benchmarks: many small text files,
// ELF-ish binaries, a few big libraries, soname symlink chains and duplicated licence files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace onix::bench {

struct UsrTreeSpec {
  uint64_t seed = 1;
  uint64_t total_bytes = 500ull << 20;  // regular-file bytes to generate (approximately)
};

struct UsrTreeStats {
  uint64_t files = 0, directories = 0, symlinks = 0, duplicates = 0, bytes = 0;
};

// Generates the tree below `dirfd`, which must be empty. The same spec gives the same tree
// (names, sizes, contents, modes, symlinks) on every machine. File mix by count: ~65% text
// (0.2-8 KiB, compressible ~3-4x), ~34% binaries (8-48 KiB, ~2-3x), ~0.6% big libraries
// (0.25-4 MiB), ~2% byte-identical licence files. On failure the partial tree is left for
// the caller to remove.
absl::StatusOr<UsrTreeStats> GenerateUsrTree(int dirfd, const UsrTreeSpec& spec);

// "seed=1 bytes=524288000": written beside a generated tree so a benchmark can reuse it.
std::string UsrTreeStamp(const UsrTreeSpec& spec);

// The same kind of /usr, split into packages (for stones, repositories and transactions).
// Each package is generated from its own seeded stream, so a package's files depend only on
// the seed, its number and whether it is in its changed form: the "update" variant changes
// every `update_every`-th package (new contents for all its files but the shared licence,
// version 1.1 instead of 1.0) and leaves every other package byte-identical.
//
// Per package: 10-56 files (~33); by count ~70% text (0.2-6 KiB), ~28% ELF-ish binaries
// (4-32 KiB), ~0.3% big libraries (0.25-2 MiB) with a soname symlink chain; half the
// packages carry the same 18,000-byte licence file (duplicates across packages); a quarter
// have a bin/<name> symlink.
struct PackageSetSpec {
  uint64_t seed = 1;
  int packages = 150;
  int update_every = 20;  // 5% of the packages change in the update variant
};

// ~150 packages, ~5,000 files, ~50 MiB.
PackageSetSpec SmallPackageSet();
// ~1,500 packages, ~50,000 files, ~500 MiB.
PackageSetSpec MediumPackageSet();

enum class Variant { kBase, kUpdate };

// "pkg0042".
std::string PackageName(int index);
// Whether package `index` differs between the base and the update variant.
bool PackageChanges(const PackageSetSpec& spec, int index);
// "1.0" in the base variant, "1.1" for a changed package in the update variant.
std::string PackageVersion(const PackageSetSpec& spec, int index, Variant variant);

struct PackageSetStats {
  uint64_t packages = 0, files = 0, symlinks = 0, duplicates = 0, bytes = 0;
};

// Writes the packages of `variant` (only the changed ones when `changed_only`) each below
// `packages_dirfd`/<name>/ (a /usr fragment), and, when `merged_dirfd` >= 0, their union
// below `merged_dirfd` (the whole /usr). Both must be empty directories. Deterministic like
// GenerateUsrTree. On failure the partial trees are left for the caller to remove.
absl::StatusOr<PackageSetStats> GeneratePackageSet(const PackageSetSpec& spec, Variant variant,
                                                   bool changed_only, int packages_dirfd,
                                                   int merged_dirfd);

// "packages seed=1 count=150 update_every=20 generator=1".
std::string PackageSetStamp(const PackageSetSpec& spec);

}  // namespace onix::bench

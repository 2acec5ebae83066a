// Dependency resolution for moss: the only user of libsolv (STYLE R6). Repositories, the
// installed set and requests go in as ONIX value types; a Plan of StoneRefs comes out.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "moss/base/sha256.h"
#include "moss/stone/types.h"

namespace onix::moss::solver {

// One package of a repository index (what an index stone's record carries).
struct Package {
  stone::Meta meta;
  Digest stone_digest;  // SHA-256 of the .stone file
  uint64_t stone_size = 0;
  std::string file_name;  // relative to the repository URI
};

// One installed package and whether the user asked for it by name (explicit) or it came in
// to satisfy a dependency. Only explicit packages survive --autoremove.
struct InstalledPackage {
  Package package;
  bool is_explicit = true;
};

// A package as the solver hands it back: plain values, no libsolv handles.
struct StoneRef {
  std::string name;
  std::string version;
  uint64_t source_release = 0;
  uint64_t build_release = 0;
  std::string architecture;
  std::string summary;
  std::string repository;  // "@installed" for the installed set
  Digest stone_digest;
  uint64_t stone_size = 0;
  std::string file_name;
  bool is_explicit = false;  // in Plan::selection: explicit vs dependency selection

  // "name version-source_release-build_release".
  std::string Nvr() const;
};

// Compares two packages' versions by the documented scheme (docs/repositories.md): the
// upstream version segment by segment (digits numerically, letters lexically, rpm rules), then
// source_release, then build_release numerically. Returns <0, 0, >0.
int CompareVersions(const stone::Meta& a, const stone::Meta& b);
int CompareVersions(std::string_view version_a, uint64_t source_release_a, uint64_t build_release_a,
                    std::string_view version_b, uint64_t source_release_b,
                    uint64_t build_release_b);

// An unsatisfiable part of a request, in plain words (dnf5's GoalProblem): "foo 1-1-1 needs
// soname(libz.so.1(x86_64)), which no package provides". Solutions are libsolv's suggestions.
struct Problem {
  std::string description;
  std::vector<std::string> solutions;
};

struct Change {
  StoneRef from;  // empty name for installs
  StoneRef to;    // empty name for removals
};

// What a request resolves to. When `problems` is non-empty the request cannot be satisfied
// and every change list is empty: nothing may be changed.
struct Plan {
  std::vector<StoneRef> installs;
  std::vector<Change> upgrades;
  std::vector<Change> downgrades;
  std::vector<StoneRef> removals;
  // Installed dependency-only packages the request names: they become explicit.
  std::vector<StoneRef> promoted;
  std::vector<Problem> problems;
  // The complete resulting selection (every package installed after the transaction), with
  // explicit flags; this is what the transaction engine installs.
  std::vector<StoneRef> selection;
  // Selected packages that come from a repository and are not installed now: what must be
  // fetched, with the sum of their sizes.
  std::vector<StoneRef> to_fetch;
  uint64_t download_size = 0;

  bool ok() const { return problems.empty(); }
  bool empty() const {
    return installs.empty() && upgrades.empty() && downgrades.empty() && removals.empty() &&
           promoted.empty();
  }
};

struct Request {
  // Names ("zlib"), constrained names ("zlib >= 1.3") or typed providers
  // ("soname(libz.so.1(x86_64))"), as stone::Dependency::Parse reads them.
  std::vector<std::string> install;
  // Installed package names to remove.
  std::vector<std::string> remove;
  // Also remove dependency-only packages nothing needs any more.
  bool autoremove = false;
  // `moss sync`: bring every installed package to the best candidate of the repositories,
  // downgrading when a repository went back.
  bool sync = false;
  // When set, libsolv's testcase_write output for this solve goes into this directory.
  std::string debug_dir;
};

// The pool: one libsolv Repo per repository (with its priority) plus the installed repo.
// Not thread-safe; one per resolution.
class Universe {
 public:
  Universe();
  ~Universe();
  Universe(Universe&&) noexcept;
  Universe& operator=(Universe&&) noexcept;

  // Adds a repository of `packages`. Higher `priority` wins over a better version in a lower
  // priority repository. When `solv_cache_path` is non-empty the repository is also written
  // there in libsolv's .solv form (atomically: temp file + rename) for LoadRepositoryCache.
  // InvalidArgument when a dependency is malformed or the name is taken.
  absl::Status AddRepository(std::string_view name, int priority,
                             const std::vector<Package>& packages,
                             const std::string& solv_cache_path = "");
  // Loads a repository from a .solv cache written by AddRepository. NotFound when the file is
  // missing; DataLoss when it is not a readable .solv file (the caller rebuilds it).
  absl::Status LoadRepositoryCache(std::string_view name, int priority,
                                   const std::string& solv_cache_path);
  // Loads a repository from a libsolv testtags file (tests/data/solv/*.repo: "=Pkg: name
  // version release arch", "=Req:", "=Prv:", "=Con:", "=Obs:" lines). Scenario fixtures only:
  // such packages carry no stone digest. EVRs are "<version>-<source>.<build>" as below.
  absl::Status AddTesttagsRepository(std::string_view name, int priority, const std::string& path,
                                     bool installed = false);
  // Replaces the installed set.
  absl::Status SetInstalled(const std::vector<InstalledPackage>& installed);

  // Repository packages whose name, summary or description contains `text` (case-insensitive).
  std::vector<StoneRef> Search(std::string_view text);
  // Packages (repository and installed) providing `dep`, e.g. "soname(libz.so.1(x86_64))".
  absl::StatusOr<std::vector<StoneRef>> WhatProvides(std::string_view dep);
  // Every package named `name` (installed and in repositories), best first.
  std::vector<StoneRef> FindByName(std::string_view name);
  // Dependency-only installed packages nothing explicit needs (the --autoremove set).
  std::vector<StoneRef> Orphans();

  size_t package_count() const;

  struct Impl;

 private:
  friend absl::StatusOr<Plan> Resolve(Universe& universe, const Request& request);
  std::unique_ptr<Impl> impl_;
};

// Solves `request` against `universe`. Unsatisfiable requests are data (Plan::problems); an
// error status means the solver itself could not run (bad request text, debug dir unwritable).
absl::StatusOr<Plan> Resolve(Universe& universe, const Request& request);

}  // namespace onix::moss::solver

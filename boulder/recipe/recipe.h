// stone.yaml: the recipe a packager writes (AerynOS's shape), parsed into plain data with
// every value remembering its recipe line, so errors read "stone.yaml:12: ...".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "moss/base/sha256.h"

namespace onix::boulder {

// One upstream source of a recipe.
struct Upstream {
  enum class Kind { kArchive, kGit };
  Kind kind = Kind::kArchive;
  std::string url;
  // kArchive: the SHA-256 of the archive (64 hex). kGit: the commit id (40 hex).
  std::string hash;
  // kArchive: leading path components dropped when unpacking (AerynOS "stripdirs").
  int strip_components = 1;
  // Directory below the build dir the source lands in; defaults to the archive's base name
  // without extension (or the repository's name).
  std::string unpack_dir;
  int line = 0;
};

// A shell step (setup/build/install/check) before macro expansion.
struct Step {
  std::string script;  // empty: the step is skipped
  int line = 0;        // recipe line of the script's first line
};

// A sub-package: the files matching `paths` (globs on /usr paths) go to `name`.
struct PackageSpec {
  std::string name;  // after %(name) expansion
  std::string summary;
  std::string description;
  std::vector<std::string> paths;
  std::vector<std::string> rundeps;  // Dependency::Parse form
  // Providers the analysis cannot see (e.g. a library without DT_SONAME).
  std::vector<std::string> provides;  // Dependency::Parse form
  int line = 0;
};

struct Recipe {
  std::string path;  // the recipe file, as given, for messages
  Digest digest;     // SHA-256 of the recipe file's bytes

  std::string name;
  std::string version;
  uint64_t release = 0;
  std::string homepage;
  std::vector<std::string> licenses;
  std::string summary;
  std::string description;
  // SOURCE_DATE_EPOCH of the build: every timestamp in the outputs is this.
  uint64_t source_date_epoch = 0;
  // "musl" (default; ELF interpreters must be musl's loader) or "glibc".
  std::string toolchain = "musl";

  std::vector<Upstream> upstreams;
  // `inputs:`: extra provenance lines (the quarry fills them in generated recipes, e.g.
  // "debian-source busybox 1:1.35.0-4+deb12u1 busybox_1.35.0.orig.tar.bz2 sha256:HEX"), each
  // printable UTF-8 without control characters, at most 4 KiB. Every stone of the recipe
  // carries one Meta `input` (tag 17) per upstream ("upstream URL sha256:HEX"), then these.
  std::vector<std::string> inputs;
  std::vector<std::string> builddeps;  // typed providers or names, resolved by moss
  int builddeps_line = 0;
  // Host paths bound read-only into the sandbox besides the declared host toolchain
  // (boulder/data/host/<toolchain>.yaml), each taken whole: "/usr" shows all of it.
  std::vector<std::string> host_paths;
  // Extra KEY=VALUE exports (before macro expansion).
  std::vector<std::pair<std::string, std::string>> environment;
  int environment_line = 0;

  Step setup, build, install, check;
  std::vector<PackageSpec> packages;

  // "<path>:<line>" for error messages.
  std::string Where(int line) const;
};

// Parses a recipe from `text`; `path` is only used in messages. Every error is
// InvalidArgument "<path>:<line>: <problem>" (a missing field names the line of the
// document's start, 1). Never throws: yaml-cpp exceptions are caught here.
absl::StatusOr<Recipe> ParseRecipe(std::string_view text, const std::string& path);

// Reads and parses the recipe file at `path`.
absl::StatusOr<Recipe> LoadRecipe(const std::string& path);

}  // namespace onix::boulder

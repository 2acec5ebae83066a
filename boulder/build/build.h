// boulder's build driver: recipe -> sources -> sandboxed steps -> collected install root
// -> analysis -> stones + manifest.json. Also the `boulder chroot` environment.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "boulder/package/package.h"

namespace onix::boulder {

struct BuildOptions {
  std::string recipe_path;
  std::string output_dir;      // stones + manifest.json land here
  std::string source_cache;    // content-addressed cache root (created)
  std::string mirror;          // optional local mirror of upstream files
  std::string repo;            // optional directory of stones builddeps are resolved from
  std::string check_manifest;  // optional committed manifest.json to compare with
  std::string macro_dir;       // empty: DefaultMacroDir()
  std::string work_parent;     // where the throwaway work tree goes (default $TMPDIR)
  int jobs = 0;                // %(jobs); 0: the number of CPUs
  bool keep_work = false;      // keep the work tree (its path is in BuildResult)
};

struct BuildResult {
  EmitResult emitted;
  std::string work_dir;  // only when keep_work: holds mason/install (the collected root)
};

// Builds the recipe. Every failure names the recipe (and the line where one applies: a
// bad field, an unknown macro, a failing step "<recipe>:<line>: step build failed: exit
// status 2"), and leaves output_dir without new stones (see EmitPackages). Runs the steps
// in RunSandboxed with SOURCE_DATE_EPOCH from the recipe, LC_ALL=C, TZ=UTC, umask 022, the
// recipe's host paths bound read-only, /mason (sources, build, install) writable.
absl::StatusOr<BuildResult> BuildRecipe(const BuildOptions& options);

// Prepares the same sandbox as BuildRecipe (sources unpacked, no steps run) and runs an
// interactive /bin/sh in it, in the recipe's working directory. Returns the shell's exit
// code.
absl::StatusOr<int> ChrootRecipe(const BuildOptions& options);

// Drafts a stone.yaml for the archive at `url` (file:// or in the mirror / cache, which
// `sha256` may be empty for: the archive is hashed then), detecting autotools, CMake or
// Meson from its file list.
absl::StatusOr<std::string> DraftRecipe(const std::string& url, const std::string& mirror);

}  // namespace onix::boulder

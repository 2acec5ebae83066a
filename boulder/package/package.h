// Splitting an analysed install root into packages (main, -devel, -docs, -dbginfo and the
// recipe's own), writing one stone each plus manifest.json, and checking a manifest.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "boulder/analyse/analyse.h"
#include "boulder/recipe/recipe.h"
#include "moss/stone/types.h"

namespace onix::boulder {

// One package and the "/usr/..." paths (files and symlinks) it owns.
struct PackagePlan {
  PackageSpec spec;  // name, summary, description, path globs (recipe's, then defaults)
  std::vector<std::string> files;
};

// True when `glob` selects `path`: fnmatch without FNM_PATHNAME (so "*" spans "/"), or
// `glob` names a directory `path` is below.
bool PathMatches(const std::string& glob, const std::string& path);

// One package of the default split (boulder/data/split.yaml), "%(name)" still in it.
struct SplitPackage {
  std::string name;                   // "%(name)-devel"
  std::string summary;                // "Development files for %(name)"
  std::vector<std::string> paths;     // globs matching any path
  std::vector<std::string> symlinks;  // globs matching only symlinks
};

// Reads a split file (`packages:` list of `NAME: {summary, paths, symlinks}`). Errors name
// the file and line; an unknown field or a glob outside /usr/ is InvalidArgument.
absl::StatusOr<std::vector<SplitPackage>> LoadSplit(const std::string& path);

// Where the default split lives next to the macro directory: <macro_dir>/../split.yaml.
std::string SplitFile(const std::string& macro_dir);

// Assigns every path to the first package whose globs match it: the recipe's packages in
// recipe order, then the `split` packages in file order, then the main package NAME.
// `symlinks` is the subset of `paths` that are symlinks. Packages without files are
// dropped, except the main package.
std::vector<PackagePlan> PlanPackages(const Recipe& recipe, const std::vector<SplitPackage>& split,
                                      const std::vector<std::string>& paths,
                                      const std::vector<std::string>& symlinks);

// A source as the manifest records it.
struct SourceRecord {
  std::string url;
  std::string kind;    // "archive" or "git"
  std::string hash;    // recipe hash: archive sha256 or git commit
  std::string digest;  // sha256 of the archive, or of the git checkout's tree
};

// A resolved build dependency as the manifest records it.
struct BuildDepRecord {
  std::string dep;     // as the recipe names it, "binary(make)"
  std::string source;  // the stone file it came from, or "host"
  std::string sha256;  // of that stone; empty for host tools
};

struct EmitRequest {
  const Recipe* recipe = nullptr;
  std::string install_root;  // host directory holding usr/ (normalised and analysed)
  std::map<std::string, FileFacts> facts;
  std::vector<SourceRecord> sources;
  std::vector<BuildDepRecord> builddeps;
  std::vector<SplitPackage> split;               // the default split (LoadSplit)
  std::map<std::string, std::string> toolchain;  // identity of the host toolchain
  std::string output_dir;                        // created if missing
  std::string scratch_dir;                       // per-package trees are staged here
  std::string check_manifest;                    // a committed manifest.json, or empty
};

struct EmitResult {
  std::vector<std::string> stones;  // paths in output_dir, package order
  std::string manifest_path;
  std::vector<stone::Meta> metas;
};

// Writes every package's stone and manifest.json into a staging directory inside
// output_dir, compares the manifest with `check_manifest` when given (FailedPrecondition
// listing the differences), and only then renames the stones and the manifest into
// output_dir. Commit point: the renames. A failure before them leaves output_dir as it
// was (the staging directory is removed); a crash may leave a ".boulder-staging-*"
// directory, never a stone under its final name that the manifest does not describe.
absl::StatusOr<EmitResult> EmitPackages(const EmitRequest& request);

// "NAME-VERSION-RELEASE-1-x86_64.stone".
std::string StoneFileName(const stone::Meta& meta);

}  // namespace onix::boulder

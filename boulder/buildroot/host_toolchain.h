// The declared host toolchain: which of the quarry host's files a build sees, read from a
// data file (boulder/data/host/<toolchain>.yaml) and closed over symlinks and shared libraries.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace onix::boulder {

// One host path the sandbox shows at the same place, read-only.
struct HostEntry {
  enum class Kind { kDir, kFile, kSymlink };
  std::string path;  // absolute, its parent directories resolved (no symlink above it)
  Kind kind = Kind::kFile;
  std::string link_target;  // kSymlink: the link's text, recreated as is
};

struct HostToolchain {
  std::vector<std::string> files;  // the declaration files read (the named one first)
  std::string digest;              // SHA-256 over those files' names and bytes
  // Sorted by path; nothing lies below a kDir entry (the directory brings it).
  std::vector<HostEntry> entries;
};

// Reads the declaration `file` (yaml: `include` sibling files, `library-dirs`, `paths` of
// globs with {a,b}), adds `extra_paths` (a recipe's `host-paths`, taken whole), and closes
// the set: every symlink's target, every ELF file's interpreter and DT_NEEDED libraries
// (looked up in the library dirs), for declared directories also what the programs and
// libraries inside them need. A declared pattern that matches nothing, a dangling declared
// link, or a library a declared program needs that no library dir holds is an error naming
// the declaration file. `/usr` itself in `extra_paths` brings /etc/alternatives with it.
absl::StatusOr<HostToolchain> ResolveHostToolchain(const std::string& file,
                                                   const std::vector<std::string>& extra_paths);

// Where the declaration of `toolchain` lives next to the macro directory:
// <macro_dir>/../host/<toolchain>.yaml.
std::string HostToolchainFile(const std::string& macro_dir, const std::string& toolchain);

}  // namespace onix::boulder

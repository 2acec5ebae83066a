// Analysis of a collected install root: splits debug info off ELF files, and derives each
// file's providers and dependencies (soname(), binary(), sysbinary(), pkgconfig()).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "moss/stone/types.h"

namespace onix::boulder {

// What one path of the install root provides and needs.
struct FileFacts {
  std::vector<stone::Dependency> provides;
  std::vector<stone::Dependency> depends;
  // The soname of a library outside the public library directories (/usr/lib, ...): it
  // satisfies its own package's dependencies but is never offered to other packages, so a
  // private runtime (onix-tools' glibc under /usr/lib/onix/runtime) cannot stand in for a
  // public library of the same soname (musl's libzstd.so.1).
  std::vector<stone::Dependency> private_provides;
};

struct AnalyseOptions {
  // "musl": every ELF interpreter must be musl's loader and nothing may need glibc's
  // libc.so.6; a violation is FailedPrecondition listing the files.
  std::string toolchain = "musl";
  // Split debug info into /usr/lib/debug/usr/<path>.debug (objcopy --only-keep-debug),
  // strip the original and link the two with .gnu_debuglink.
  bool split_debug = true;
};

// The musl loader every dynamically linked musl program must name.
inline constexpr char kMuslInterpreter[] = "/lib/ld-musl-x86_64.so.1";

// Analyses `install_root` (a host directory holding "usr/"), after optionally splitting
// debug info in place. Returns facts keyed by "/usr/..." path for every regular file and
// symlink that has any. Uses the host's objcopy and strip (binutils), which are
// deterministic for the same input.
absl::StatusOr<std::map<std::string, FileFacts>> AnalyseInstallRoot(const std::string& install_root,
                                                                    const AnalyseOptions& options);

// Parses the Requires: line(s) of a pkg-config file into pkgconfig() names (versions and
// operators dropped).
std::vector<std::string> PkgconfigRequires(const std::string& pc_text);

}  // namespace onix::boulder

// The build root: a throwaway machine root moss installs a recipe's build dependencies into,
// and the sandbox's /usr assembled from it plus the declared host toolchain.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "boulder/buildroot/host_toolchain.h"
#include "boulder/package/package.h"
#include "boulder/sandbox/sandbox.h"

namespace onix::boulder {

// "file:///abs/dir" for a directory, the URI itself for file://, http:// and https://.
// A directory without a stone.index is FailedPrecondition (index it with `moss index`).
absl::StatusOr<std::string> RepoUri(const std::string& repo);

// Installs `deps` (package names or typed providers such as "soname(libz.so.1(x86_64))" or
// "pkgconfig(zlib)") into the new machine root `root` with moss's by-name path: `repo` is
// added as its only repository, its index fetched, libsolv resolves the request with the
// dependencies' closure, and one transaction makes ROOT/usr. No deps: ROOT/usr is an empty
// directory. Unsatisfiable requests are FailedPrecondition carrying the solver's problems.
// Returns one record per installed package (its stone file name and SHA-256).
absl::StatusOr<std::vector<BuildDepRecord>> InstallBuildRoot(const std::string& root,
                                                             const std::string& repo,
                                                             const std::vector<std::string>& deps);

// Makes `sandbox_usr` (must not exist) a hardlink copy of `root_usr` with a mount point
// for every host toolchain entry below /usr (replacing what the build root has there: the
// declared toolchain wins) and the toolchain's symlinks recreated, and adds to `cfg` the
// binds that make it the sandbox's /usr: sandbox_usr on /usr first, then each host entry
// at its own path, read-only. Links outside /usr become cfg->symlinks.
absl::Status AssembleSandboxUsr(const std::string& root_usr, const std::string& sandbox_usr,
                                const HostToolchain& toolchain, SandboxConfig* cfg);

}  // namespace onix::boulder

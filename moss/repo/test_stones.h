// Test stones with dependencies for repository and resolution tests: one small file per
// package, packed by the real stone writer.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace onix::moss::repo::testing {

// Writes "<dir>/<name>-<version>.stone" (source release 1, build release 1, x86_64) holding
// /usr/share/<name>.txt, with `depends`/`provides` in stone::Dependency text form.
absl::StatusOr<std::string> MakeRepoStone(const std::string& dir, const std::string& name,
                                          const std::string& version,
                                          const std::vector<std::string>& depends = {},
                                          const std::vector<std::string>& provides = {});

}  // namespace onix::moss::repo::testing

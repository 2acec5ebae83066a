// Path-based file helpers for repository data (configs, caches, downloads): these paths are
// user-given absolute or cwd-relative paths, not names below a root dirfd, so moss/base/fs_at's
// beneath-only resolution does not apply. Errors name the path.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "moss/base/fd.h"
#include "moss/base/sha256.h"

namespace onix::moss::repo {

absl::StatusOr<UniqueFd> OpenPath(const std::string& path, int flags, mode_t mode = 0);
// NotFound when missing; ResourceExhausted above `max_size`.
absl::StatusOr<std::string> ReadPath(const std::string& path, size_t max_size = 64u << 20);
// mkdir -p.
absl::Status MkdirAll(const std::string& path, mode_t mode = 0755);
absl::StatusOr<Digest> Sha256Path(const std::string& path, uint64_t* size = nullptr);

}  // namespace onix::moss::repo

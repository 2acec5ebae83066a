// The Nix build users in a root's /etc/passwd, /etc/group, /etc/shadow (and /etc/gshadow when
// present): group nixbld (gid 30000) and users nixbld1..32 (uids 30001-30032).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace onix::nixplane {

inline constexpr int kNixbldGid = 30000;
inline constexpr int kNixbldFirstUid = 30001;
inline constexpr int kNixbldCount = 32;

// What EnsureBuildUsers added (entries that were already present are not listed), so that
// RemoveBuildUsers can take away exactly those.
struct UsersChange {
  std::vector<std::string> added_users;
  bool added_group = false;
  std::vector<std::string> created_files;  // e.g. "etc/passwd" when the root had none
};

// Makes the nixbld group and users present in `root_fd`'s etc/ with the declared fields,
// leaving every other line byte-for-byte as it was. An existing nixbld entry with the right
// id is rewritten to the declared form when it differs (convergence). Refuses with
// FailedPrecondition, before writing anything, when a nixbld name has another id or one of
// the ids is taken by another name. Each file is replaced atomically and only if its bytes
// change (so a second call writes nothing); a crash leaves each file old or new.
absl::StatusOr<UsersChange> EnsureBuildUsers(int root_fd);

// Removes the lines for the users and group listed in `change` from passwd, group, shadow and
// gshadow. Other lines are kept as they are; a file in `created_files` that ends up empty is
// removed. /etc/shadow and /etc/gshadow are only edited when the root has them.
absl::Status RemoveBuildUsers(int root_fd, const UsersChange& change);

}  // namespace onix::nixplane

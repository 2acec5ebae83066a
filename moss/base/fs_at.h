// Directory-fd-relative filesystem operations for the commit path (libglnx's glnx-fdio in
// ONIX form). Every call retries EINTR and names the syscall and path in its error.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "moss/base/fd.h"

namespace onix::fs {

// Whether a write must be on stable storage before the call returns (Nix's FsSync).
enum class Durability { kNone, kFsync };

// How a multi-component path is resolved relative to its directory fd.
enum class Resolve {
  // Every component must be a real directory below the fd: symlinks and ".." are refused
  // (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS). The default on the commit path.
  kBeneathNoSymlinks,
  // Symlinks are followed as if the fd were "/" (openat2 RESOLVE_IN_ROOT), so an absolute
  // or ".."-heavy link inside a machine root can never leave that root.
  kInRoot,
};

// Checks that `path` is a clean relative path: not empty, not absolute, no "", "." or ".."
// component, no NUL. Returns InvalidArgument naming the path otherwise.
absl::Status ValidateRelativePath(std::string_view path);

// Splits "a/b/c" into {"a", "b", "c"}; does not validate.
std::vector<std::string> SplitPath(std::string_view path);

// Opens an absolute or cwd-relative directory (O_DIRECTORY | O_CLOEXEC).
absl::StatusOr<UniqueFd> OpenDir(const std::string& path);

// Opens `path` below `dirfd` with `flags` (O_CLOEXEC is always added) without escaping it.
// `path` must pass ValidateRelativePath, or be "." for the fd itself. Uses openat2 where the
// kernel has it and a component-by-component O_NOFOLLOW walk where it does not.
absl::StatusOr<UniqueFd> OpenAt(int dirfd, std::string_view path, int flags, mode_t mode = 0,
                                Resolve resolve = Resolve::kBeneathNoSymlinks);
absl::StatusOr<UniqueFd> OpenDirAt(int dirfd, std::string_view path,
                                   Resolve resolve = Resolve::kBeneathNoSymlinks);

// lstat of `name` relative to `dirfd` (never follows a final symlink).
absl::StatusOr<struct stat> StatAt(int dirfd, std::string_view name);
// Like StatAt, but NotFound becomes `false`.
absl::StatusOr<bool> ExistsAt(int dirfd, std::string_view name);

// The process umask, read from /proc/self/status without changing it (umask(2) would race
// with other threads); 022 when /proc is not mounted.
mode_t CurrentUmask();

// mkdirat; AlreadyExists if `name` exists (whatever it is).
absl::Status MkdirAt(int dirfd, std::string_view name, mode_t mode);
// Creates every missing directory of `path` below `dirfd`; existing directories are fine,
// an existing non-directory (or symlink) component is FailedPrecondition.
absl::Status MkdirAllAt(int dirfd, std::string_view path, mode_t mode);

absl::Status LinkAt(int old_dirfd, std::string_view old_name, int new_dirfd,
                    std::string_view new_name);
absl::Status SymlinkAt(std::string_view target, int dirfd, std::string_view name);
absl::StatusOr<std::string> ReadLinkAt(int dirfd, std::string_view name);

// unlinkat(name, 0): files and symlinks only.
absl::Status UnlinkAt(int dirfd, std::string_view name);
// unlinkat(name, AT_REMOVEDIR): empty directories only.
absl::Status RmdirAt(int dirfd, std::string_view name);
// Removes `name` and everything below it without following symlinks. Missing is OK.
// Not atomic: callers that need atomicity rename the tree aside first.
absl::Status RemoveTreeAt(int dirfd, std::string_view name);

// renameat(2); replaces a file or an empty directory at the target.
absl::Status RenameAt(int old_dirfd, std::string_view old_name, int new_dirfd,
                      std::string_view new_name);
// renameat2(RENAME_EXCHANGE): both names must exist; they swap atomically.
absl::Status RenameExchangeAt(int old_dirfd, std::string_view old_name, int new_dirfd,
                              std::string_view new_name);
// renameat2(RENAME_NOREPLACE): AlreadyExists if the target exists.
absl::Status RenameNoReplaceAt(int old_dirfd, std::string_view old_name, int new_dirfd,
                               std::string_view new_name);

absl::Status FsyncFd(int fd, std::string_view what);
// Opens `name` (a directory below `dirfd`, "." for dirfd itself) and fsyncs it, making the
// names created, renamed or removed in it durable.
absl::Status FsyncDirAt(int dirfd, std::string_view name = ".");
// syncfs(2) on the filesystem holding `fd`: one call instead of thousands of fsyncs.
absl::Status SyncFs(int fd);

// Reads a whole regular file; ResourceExhausted if it is larger than `max_size`.
absl::StatusOr<std::string> ReadFileAt(int dirfd, std::string_view name,
                                       size_t max_size = 64u << 20);
// Writes all of `data` to `fd`, retrying short writes and EINTR.
absl::Status WriteAll(int fd, std::string_view data, std::string_view what);

// Replaces `name` in `dirfd` with `contents` atomically: a reader (or a crash at any moment)
// sees the complete old file or the complete new one, never a part. The data goes to an
// anonymous O_TMPFILE (a named temp file where unsupported), is fsynced when `durability`
// says so, is linked under a temporary name and renamed over `name`; then the file (again:
// vfat writes a renamed file's directory slot only with its inode) and the directory are
// fsynced. A crash may leave a ".<name>.tmp-*" file behind, never a partial `name`.
absl::Status WriteFileAtomicAt(int dirfd, std::string_view name, std::string_view contents,
                               mode_t mode, Durability durability);

// Lists the entry names of a directory fd (without "." and ".."), sorted.
absl::StatusOr<std::vector<std::string>> ListDir(int dirfd);

// Returns the absolute path of an open fd (through /proc/self/fd), for messages and for
// handing a path to a child process.
std::string FdPath(int fd);

namespace internal {
// Makes OpenAt use its component-walk fallback, as on kernels without openat2, so tests
// can prove the fallback refuses the same escapes.
void DisableOpenat2ForTesting();
}  // namespace internal

}  // namespace onix::fs

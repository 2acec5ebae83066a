#include "moss/base/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix {

absl::StatusOr<FileLock> FileLock::Acquire(int dirfd, std::string_view name, LockWait wait) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd fd, fs::OpenAt(dirfd, name, O_RDWR | O_CREAT, 0644));
  const int op = LOCK_EX | (wait == LockWait::kFail ? LOCK_NB : 0);
  for (;;) {
    if (::flock(fd.get(), op) == 0) break;
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EWOULDBLOCK) {
      char buf[32] = {};
      ssize_t n = ::pread(fd.get(), buf, sizeof(buf) - 1, 0);
      std::string holder = n > 0 ? std::string(absl::StripAsciiWhitespace(std::string(buf, n)))
                                 : std::string("unknown");
      return absl::UnavailableError(StrCat("another process (pid ", holder, ") holds the lock ",
                                           std::string(name), "; wait for it to finish or retry"));
    }
    return ErrnoError(err, StrCat("flock(", std::string(name), ")"));
  }
  const std::string pid = StrCat(::getpid(), "\n");
  if (::ftruncate(fd.get(), 0) == 0) {
    // The pid is advisory (for messages); failing to write it does not affect the lock. (A
    // (void) cast does not silence glibc's warn_unused_result under _FORTIFY_SOURCE.)
    if (::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0) {
    }
  }
  return FileLock(std::move(fd));
}

}  // namespace onix

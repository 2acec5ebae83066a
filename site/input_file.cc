#include "site/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "moss/base/fd.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::site {

absl::StatusOr<InputFile> ReadInput(int dirfd, std::string_view path) {
  constexpr off_t kMaxSize = 16 << 20;
  const std::string p(path);
  UniqueFd fd(::openat(dirfd, p.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    return ErrnoError(err, StrCat("opening ", p));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("fstat(", p, ")"));
  }
  if (!S_ISREG(st.st_mode)) return FailedPrecondition(StrCat(p, " is not a regular file"));
  if (st.st_size > kMaxSize) {
    return absl::ResourceExhaustedError(StrCat(p, " is larger than 16 MiB"));
  }
  InputFile file;
  file.mtime = st.st_mtime;
  file.contents.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < file.contents.size()) {
    const ssize_t n = ::read(fd.get(), file.contents.data() + done, file.contents.size() - done);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return ErrnoError(err, StrCat("reading ", p));
    }
    if (n == 0) break;  // the file shrank while we read; keep what is there
    done += static_cast<size_t>(n);
  }
  file.contents.resize(done);
  return file;
}

bool IsRegularInput(int dirfd, std::string_view name) {
  struct stat st;
  return ::fstatat(dirfd, std::string(name).c_str(), &st, 0) == 0 && S_ISREG(st.st_mode);
}

}  // namespace onix::site

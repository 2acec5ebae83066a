#include "moss/repo/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::moss::repo {

absl::StatusOr<UniqueFd> OpenPath(const std::string& path, int flags, mode_t mode) {
  for (;;) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd >= 0) return UniqueFd(fd);
    const int err = errno;
    if (err == EINTR) continue;
    return ErrnoError(err, StrCat("opening ", path));
  }
}

absl::StatusOr<std::string> ReadPath(const std::string& path, size_t max_size) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd fd, OpenPath(path, O_RDONLY));
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return ErrnoError(err, StrCat("reading ", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_size) {
      return absl::ResourceExhaustedError(
          StrCat("reading ", path, ": larger than ", max_size, " bytes"));
    }
  }
  return out;
}

absl::Status MkdirAll(const std::string& path, mode_t mode) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    const std::string prefix = path.substr(0, i);
    if (::mkdir(prefix.c_str(), mode) != 0) {
      const int err = errno;
      if (err == EEXIST) {
        struct stat st;
        if (::stat(prefix.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
        return FailedPrecondition(StrCat("creating ", path, ": ", prefix, " is not a directory"));
      }
      return ErrnoError(err, StrCat("creating directory ", prefix));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Digest> Sha256Path(const std::string& path, uint64_t* size) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd fd, OpenPath(path, O_RDONLY));
  auto d = Sha256Fd(fd.get(), size);
  if (!d.ok()) return Annotate(d.status(), StrCat("hashing ", path));
  return d;
}

}  // namespace onix::moss::repo

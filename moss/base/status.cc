#include "moss/base/status.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "moss/base/str_cat.h"

namespace onix {

absl::Status ErrnoError(int err, std::string_view what) {
  std::string msg = std::string(what) + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(msg);
    case EEXIST:
    case ENOTEMPTY:
      return absl::AlreadyExistsError(msg);
    case EPERM:
    case EACCES:
    case EROFS:
      return absl::PermissionDeniedError(msg);
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
      return absl::ResourceExhaustedError(msg);
    case EINVAL:
    case ELOOP:
    case ENAMETOOLONG:
    case EXDEV:
      return absl::InvalidArgumentError(msg);
    case EBUSY:
    case EAGAIN:
    case EINTR:
      return absl::UnavailableError(msg);
    case ENOSYS:
    case EOPNOTSUPP:
      return absl::UnimplementedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::Status Annotate(const absl::Status& status, std::string_view context) {
  if (status.ok()) return status;
  std::string msg = std::string(context) + ": " + std::string(status.message());
  absl::Status out(status.code(), msg);
  return out;
}

int ReportStatus(std::string_view program, const absl::Status& status) {
  if (status.ok()) return 0;
  // The message is a chain of our clauses around untrusted text (paths, names): every control
  // character but the lines we mean is escaped, so a NUL no longer cuts the reason off and an
  // ESC or CR cannot rewrite the terminal.
  const std::string msg = EscapeControl(status.message(), "\n\t");
  std::fprintf(stderr, "%.*s: error: ", static_cast<int>(program.size()), program.data());
  std::fwrite(msg.data(), 1, msg.size(), stderr);
  std::fputc('\n', stderr);
  if (absl::IsNotFound(status) || absl::IsInvalidArgument(status)) return 2;
  return 1;
}

}  // namespace onix

#include "moss/base/fs_at.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>

#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::fs {
namespace {

constexpr int kMaxSymlinkHops = 40;

template <typename Fn>
auto RetryEintr(Fn fn) {
  for (;;) {
    auto r = fn();
    if (r >= 0 || errno != EINTR) return r;
  }
}

std::string Str(std::string_view s) { return std::string(s); }

// openat2 is missing before Linux 5.6 and under some seccomp profiles; remember once.
bool& Openat2Unavailable() {
  static bool unavailable = false;
  return unavailable;
}

long RawOpenat2(int dirfd, const char* path, int flags, mode_t mode, uint64_t resolve) {
  struct open_how how;
  std::memset(&how, 0, sizeof(how));
  how.flags = static_cast<uint64_t>(flags);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = resolve;
  return ::syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

// Fallback for kBeneathNoSymlinks without openat2: every intermediate component is
// opened O_NOFOLLOW | O_DIRECTORY, so a symlink anywhere fails with ELOOP/ENOTDIR.
absl::StatusOr<UniqueFd> WalkBeneath(int dirfd, const std::vector<std::string>& parts, int flags,
                                     mode_t mode, std::string_view path) {
  UniqueFd current;
  int at = dirfd;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    int fd = RetryEintr([&] {
      return ::openat(at, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    });
    if (fd < 0) {
      const int err = errno;
      return ErrnoError(err, StrCat("openat(", path, ")"));
    }
    current.reset(fd);
    at = current.get();
  }
  int fd = RetryEintr(
      [&] { return ::openat(at, parts.back().c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode); });
  if (fd < 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("openat(", path, ")"));
  }
  return UniqueFd(fd);
}

// Fallback for kInRoot without openat2: resolves symlinks by hand with ".." clamped at the
// root, so the result is what RESOLVE_IN_ROOT would give.
absl::StatusOr<UniqueFd> WalkInRoot(int rootfd, std::string_view path, int flags, mode_t mode) {
  std::vector<std::string> pending = SplitPath(path);
  std::reverse(pending.begin(), pending.end());
  std::vector<UniqueFd> stack;  // open directories from the root down
  int hops = 0;
  auto current = [&] { return stack.empty() ? rootfd : stack.back().get(); };
  while (!pending.empty()) {
    std::string part = std::move(pending.back());
    pending.pop_back();
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!stack.empty()) stack.pop_back();
      continue;
    }
    const bool last = pending.empty();
    struct stat st;
    if (::fstatat(current(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode) &&
        !(last && (flags & O_NOFOLLOW))) {
      if (++hops > kMaxSymlinkHops) return ErrnoError(ELOOP, StrCat("resolving ", path));
      ONIX_ASSIGN_OR_RETURN(std::string target, ReadLinkAt(current(), part));
      if (!target.empty() && target[0] == '/') stack.clear();
      std::vector<std::string> sub = SplitPath(target);
      for (auto it = sub.rbegin(); it != sub.rend(); ++it) pending.push_back(*it);
      continue;
    }
    if (last) {
      int fd = RetryEintr(
          [&] { return ::openat(current(), part.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode); });
      if (fd < 0) {
        const int err = errno;
        return ErrnoError(err, StrCat("openat(", path, ")"));
      }
      return UniqueFd(fd);
    }
    int fd = RetryEintr([&] {
      return ::openat(current(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    });
    if (fd < 0) {
      const int err = errno;
      return ErrnoError(err, StrCat("openat(", path, ")"));
    }
    stack.emplace_back(fd);
  }
  int fd = RetryEintr([&] { return ::openat(current(), ".", flags | O_CLOEXEC, mode); });
  if (fd < 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("openat(", path, ")"));
  }
  return UniqueFd(fd);
}

long RenameAt2(int olddirfd, const char* oldpath, int newdirfd, const char* newpath,
               unsigned flags) {
  return RetryEintr(
      [&] { return ::syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags); });
}

std::string RandomSuffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(8, 'x');
  for (auto& c : s) c = kChars[rng() % (sizeof(kChars) - 1)];
  return s;
}

}  // namespace

void internal::DisableOpenat2ForTesting() { Openat2Unavailable() = true; }

absl::Status ValidateRelativePath(std::string_view path) {
  if (path.empty()) return InvalidArgument("empty path");
  if (path.find('\0') != std::string_view::npos) {
    return InvalidArgument(StrCat("path contains NUL: ", path.substr(0, path.find('\0'))));
  }
  if (path.front() == '/') return InvalidArgument(StrCat("absolute path not allowed: ", path));
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.empty()) return InvalidArgument(StrCat("empty path component in: ", path));
    if (part == "." || part == "..") {
      return InvalidArgument(StrCat("'", part, "' component not allowed in: ", path));
    }
    start = end + 1;
  }
  return absl::OkStatus();
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) parts.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

absl::StatusOr<UniqueFd> OpenDir(const std::string& path) {
  int fd = RetryEintr([&] { return ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
  if (fd < 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("opening directory ", path));
  }
  return UniqueFd(fd);
}

absl::StatusOr<UniqueFd> OpenAt(int dirfd, std::string_view path, int flags, mode_t mode,
                                Resolve resolve) {
  if (path != ".") {
    ONIX_RETURN_IF_ERROR(ValidateRelativePath(path));
  }
  const std::string p = Str(path);
  flags |= O_CLOEXEC;
  if (!Openat2Unavailable()) {
    const uint64_t how = resolve == Resolve::kInRoot
                             ? (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
                             : (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    long fd = RetryEintr([&] { return RawOpenat2(dirfd, p.c_str(), flags, mode, how); });
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    const int err = errno;
    if (err != ENOSYS && err != EPERM) {
      if (err == EXDEV || err == ELOOP) {
        return ErrnoError(err, StrCat("opening ", p, " (refusing to leave the root)"));
      }
      return ErrnoError(err, StrCat("openat2(", p, ")"));
    }
    Openat2Unavailable() = true;
  }
  if (path == ".") {
    int fd = RetryEintr([&] { return ::openat(dirfd, ".", flags, mode); });
    if (fd < 0) {
      const int err = errno;
      return ErrnoError(err, "openat(.)");
    }
    return UniqueFd(fd);
  }
  if (resolve == Resolve::kInRoot) return WalkInRoot(dirfd, path, flags, mode);
  return WalkBeneath(dirfd, SplitPath(path), flags, mode, path);
}

absl::StatusOr<UniqueFd> OpenDirAt(int dirfd, std::string_view path, Resolve resolve) {
  return OpenAt(dirfd, path, O_RDONLY | O_DIRECTORY, 0, resolve);
}

absl::StatusOr<struct stat> StatAt(int dirfd, std::string_view name) {
  struct stat st;
  const std::string n = Str(name);
  if (::fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("stat(", n, ")"));
  }
  return st;
}

mode_t CurrentUmask() {
  mode_t mask = 022;
  if (FILE* f = std::fopen("/proc/self/status", "re")) {
    char line[256];
    while (std::fgets(line, sizeof(line), f)) {
      unsigned int m;
      if (std::sscanf(line, "Umask: %o", &m) == 1) {
        mask = static_cast<mode_t>(m);
        break;
      }
    }
    std::fclose(f);
  }
  return mask;
}

absl::StatusOr<bool> ExistsAt(int dirfd, std::string_view name) {
  auto st = StatAt(dirfd, name);
  if (st.ok()) return true;
  if (absl::IsNotFound(st.status())) return false;
  return st.status();
}

absl::Status MkdirAt(int dirfd, std::string_view name, mode_t mode) {
  const std::string n = Str(name);
  if (RetryEintr([&] { return ::mkdirat(dirfd, n.c_str(), mode); }) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("mkdir(", n, ")"));
  }
  return absl::OkStatus();
}

absl::Status MkdirAllAt(int dirfd, std::string_view path, mode_t mode) {
  ONIX_RETURN_IF_ERROR(ValidateRelativePath(path));
  std::vector<std::string> parts = SplitPath(path);
  UniqueFd current;
  int at = dirfd;
  std::string done;
  for (const auto& part : parts) {
    done = done.empty() ? part : done + "/" + part;
    if (::mkdirat(at, part.c_str(), mode) != 0) {
      const int err = errno;
      if (err != EEXIST) return ErrnoError(err, StrCat("mkdir(", done, ")"));
    }
    int fd = RetryEintr([&] {
      return ::openat(at, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    });
    if (fd < 0) {
      const int err = errno;
      if (err == ENOTDIR || err == ELOOP) {
        return FailedPrecondition(StrCat(done, " exists and is not a directory"));
      }
      return ErrnoError(err, StrCat("opening ", done));
    }
    current.reset(fd);
    at = current.get();
  }
  return absl::OkStatus();
}

absl::Status LinkAt(int old_dirfd, std::string_view old_name, int new_dirfd,
                    std::string_view new_name) {
  const std::string o = Str(old_name), n = Str(new_name);
  if (RetryEintr([&] { return ::linkat(old_dirfd, o.c_str(), new_dirfd, n.c_str(), 0); }) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("link(", o, ", ", n, ")"));
  }
  return absl::OkStatus();
}

absl::Status SymlinkAt(std::string_view target, int dirfd, std::string_view name) {
  const std::string t = Str(target), n = Str(name);
  if (RetryEintr([&] { return ::symlinkat(t.c_str(), dirfd, n.c_str()); }) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("symlink(", n, " -> ", t, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadLinkAt(int dirfd, std::string_view name) {
  const std::string n = Str(name);
  std::string buf(256, '\0');
  for (;;) {
    ssize_t len = ::readlinkat(dirfd, n.c_str(), buf.data(), buf.size());
    if (len < 0) {
      const int err = errno;
      return ErrnoError(err, StrCat("readlink(", n, ")"));
    }
    if (static_cast<size_t>(len) < buf.size()) {
      buf.resize(static_cast<size_t>(len));
      return buf;
    }
    buf.resize(buf.size() * 2);
  }
}

absl::Status UnlinkAt(int dirfd, std::string_view name) {
  const std::string n = Str(name);
  if (RetryEintr([&] { return ::unlinkat(dirfd, n.c_str(), 0); }) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("unlink(", n, ")"));
  }
  return absl::OkStatus();
}

absl::Status RmdirAt(int dirfd, std::string_view name) {
  const std::string n = Str(name);
  if (RetryEintr([&] { return ::unlinkat(dirfd, n.c_str(), AT_REMOVEDIR); }) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("rmdir(", n, ")"));
  }
  return absl::OkStatus();
}

absl::Status RemoveTreeAt(int dirfd, std::string_view name) {
  const std::string n = Str(name);
  struct stat st;
  if (::fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    const int err = errno;
    if (err == ENOENT) return absl::OkStatus();
    return ErrnoError(err, StrCat("stat(", n, ")"));
  }
  if (!S_ISDIR(st.st_mode)) return UnlinkAt(dirfd, n);
  int fd = RetryEintr(
      [&] { return ::openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC); });
  if (fd < 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("opening ", n));
  }
  UniqueFd child(fd);
  // Read-only directories (store shards, stripped trees) must become writable to empty them.
  if ((st.st_mode & S_IWUSR) == 0) ::fchmod(child.get(), st.st_mode | S_IWUSR | S_IXUSR);
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> entries, ListDir(child.get()));
  for (const auto& e : entries) {
    ONIX_RETURN_IF_ERROR_CTX(RemoveTreeAt(child.get(), e), StrCat("removing ", n));
  }
  return RmdirAt(dirfd, n);
}

absl::Status RenameAt(int old_dirfd, std::string_view old_name, int new_dirfd,
                      std::string_view new_name) {
  const std::string o = Str(old_name), n = Str(new_name);
  if (RetryEintr([&] { return ::renameat(old_dirfd, o.c_str(), new_dirfd, n.c_str()); }) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("rename(", o, ", ", n, ")"));
  }
  return absl::OkStatus();
}

absl::Status RenameExchangeAt(int old_dirfd, std::string_view old_name, int new_dirfd,
                              std::string_view new_name) {
  const std::string o = Str(old_name), n = Str(new_name);
  if (RenameAt2(old_dirfd, o.c_str(), new_dirfd, n.c_str(), RENAME_EXCHANGE) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("renameat2(", o, ", ", n, ", RENAME_EXCHANGE)"));
  }
  return absl::OkStatus();
}

absl::Status RenameNoReplaceAt(int old_dirfd, std::string_view old_name, int new_dirfd,
                               std::string_view new_name) {
  const std::string o = Str(old_name), n = Str(new_name);
  if (RenameAt2(old_dirfd, o.c_str(), new_dirfd, n.c_str(), RENAME_NOREPLACE) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("renameat2(", o, ", ", n, ", RENAME_NOREPLACE)"));
  }
  return absl::OkStatus();
}

// The path an fd was opened at, for an error message: dirfd-relative callers only know a
// name relative to some directory ("." for the directory itself), which does not tell the
// admin which file the disk failed on. `fallback` when /proc cannot say.
static std::string PathOfFd(int fd, std::string_view fallback) {
  char buf[4096];
  const std::string link = StrCat("/proc/self/fd/", fd);
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf));
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(buf)) return std::string(fallback);
  return std::string(buf, static_cast<size_t>(n));
}

absl::Status FsyncFd(int fd, std::string_view what) {
  if (RetryEintr([&] { return ::fsync(fd); }) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("fsync(", PathOfFd(fd, what), ")"));
  }
  return absl::OkStatus();
}

absl::Status FsyncDirAt(int dirfd, std::string_view name) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd fd, name == "." ? OpenAt(dirfd, ".", O_RDONLY | O_DIRECTORY)
                                                 : OpenDirAt(dirfd, name));
  return FsyncFd(fd.get(), name);
}

absl::Status SyncFs(int fd) {
  if (::syncfs(fd) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("syncfs(", PathOfFd(fd, "?"), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFileAt(int dirfd, std::string_view name, size_t max_size) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd fd, OpenAt(dirfd, name, O_RDONLY));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("fstat(", name, ")"));
  }
  if (!S_ISREG(st.st_mode)) return FailedPrecondition(StrCat(name, " is not a regular file"));
  if (static_cast<uint64_t>(st.st_size) > max_size) {
    return absl::ResourceExhaustedError(
        StrCat(name, " is ", st.st_size, " bytes, more than the limit of ", max_size));
  }
  std::string out;
  out.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return ErrnoError(err, StrCat("read(", name, ")"));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

absl::Status WriteAll(int fd, std::string_view data, std::string_view what) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return ErrnoError(err, StrCat("write(", what, ")"));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomicAt(int dirfd, std::string_view name, std::string_view contents,
                               mode_t mode, Durability durability) {
  const std::string n = Str(name);
  if (n.empty() || n.find('/') != std::string::npos) {
    return InvalidArgument(StrCat("atomic write needs a plain file name, got '", n, "'"));
  }
  const std::string tmp_name = StrCat(".", n, ".tmp-", RandomSuffix());
  UniqueFd fd;
  bool anonymous = true;
  int raw =
      RetryEintr([&] { return ::openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode); });
  if (raw < 0) {
    anonymous = false;
    raw = RetryEintr([&] {
      return ::openat(dirfd, tmp_name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);
    });
    if (raw < 0) {
      const int err = errno;
      return ErrnoError(err, StrCat("creating temporary file for ", n));
    }
  }
  fd.reset(raw);
  auto cleanup_named = [&] {
    if (!anonymous) ::unlinkat(dirfd, tmp_name.c_str(), 0);
  };
  absl::Status st = WriteAll(fd.get(), contents, n);
  if (st.ok() && ::fchmod(fd.get(), mode) != 0) {
    const int err = errno;
    st = ErrnoError(err, StrCat("fchmod(", n, ")"));
  }
  if (st.ok() && durability == Durability::kFsync) st = FsyncFd(fd.get(), n);
  if (st.ok() && anonymous) {
    const std::string proc = StrCat("/proc/self/fd/", fd.get());
    if (::linkat(AT_FDCWD, proc.c_str(), dirfd, tmp_name.c_str(), AT_SYMLINK_FOLLOW) != 0) {
      const int err = errno;
      st = ErrnoError(err, StrCat("linking temporary file for ", n));
    } else {
      anonymous = false;  // it has a name now and must be cleaned up on failure
    }
  }
  if (st.ok()) st = RenameAt(dirfd, tmp_name, dirfd, n);
  if (!st.ok()) {
    cleanup_named();
    return st;
  }
  if (durability == Durability::kFsync) {
    // The file again, before its directory: on vfat (the ESP) the rename only marks the file's
    // inode dirty, and its new directory slot gets the start cluster and size when that inode
    // is written back, which an fsync of the directory does not do (vfat_rename). With the
    // directory alone, a power cut left the new name 0 bytes long, its clusters free.
    ONIX_RETURN_IF_ERROR(FsyncFd(fd.get(), n));
    ONIX_RETURN_IF_ERROR(FsyncDirAt(dirfd));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ListDir(int dirfd) {
  int dup = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup < 0) {
    const int err = errno;
    return ErrnoError(err, "opening directory for listing");
  }
  DIR* dir = ::fdopendir(dup);
  if (dir == nullptr) {
    const int err = errno;
    ::close(dup);
    return ErrnoError(err, "fdopendir");
  }
  std::unique_ptr<DIR, int (*)(DIR*)> owner(dir, ::closedir);
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    struct dirent* ent = ::readdir(dir);
    if (ent == nullptr) {
      const int err = errno;
      if (err != 0) return ErrnoError(err, "readdir");
      break;
    }
    std::string_view n = ent->d_name;
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string FdPath(int fd) {
  const std::string proc = StrCat("/proc/self/fd/", fd);
  char buf[4096];
  ssize_t n = ::readlink(proc.c_str(), buf, sizeof(buf) - 1);
  if (n < 0) return proc;
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace onix::fs

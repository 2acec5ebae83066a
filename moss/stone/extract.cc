// StoneReader::ExtractTo: the layout as a plain tree below a directory fd, never outside it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/stone/stone.h"

namespace onix::stone {
namespace {

// Parent directories are opened beneath the root without following symlinks (openat2
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), and the last component is created with O_EXCL /
// mkdirat / symlinkat, none of which follow a final symlink. Sorted layouts visit siblings
// together, so one cached parent fd saves most opens.
class ParentCache {
 public:
  explicit ParentCache(int root) : root_(root) {}
  absl::StatusOr<int> Get(std::string_view parent) {
    if (parent.empty()) return root_;
    if (fd_.valid() && parent == path_) return fd_.get();
    ONIX_ASSIGN_OR_RETURN(fd_, fs::OpenDirAt(root_, parent));
    path_ = std::string(parent);
    return fd_.get();
  }

 private:
  int root_;
  std::string path_;
  UniqueFd fd_;
};

std::pair<std::string_view, std::string_view> SplitParent(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {std::string_view(), path};
  return {std::string_view(path).substr(0, slash), std::string_view(path).substr(slash + 1)};
}

absl::Status CopyFd(int from, int to, uint64_t length, std::string_view what) {
  uint64_t done = 0;
  while (done < length) {
    loff_t in_off = static_cast<loff_t>(done);
    ssize_t n = ::copy_file_range(from, &in_off, to, nullptr, length - done, 0);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EXDEV || err == ENOSYS || err == EOPNOTSUPP || err == EINVAL) break;
      return ErrnoError(err, StrCat("copy_file_range(", what, ")"));
    }
    if (n == 0) return Internal(StrCat("copying ", what, ": source shorter than expected"));
    done += static_cast<uint64_t>(n);
  }
  if (done == length) return absl::OkStatus();
  std::string buf(1 << 20, '\0');  // only when the kernel could not copy
  while (done < length) {
    ssize_t n = ::pread(from, buf.data(), std::min<uint64_t>(buf.size(), length - done),
                        static_cast<off_t>(done));
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      if (err == EINTR) continue;
      return ErrnoError(err, StrCat("pread(", what, ")"));
    }
    ONIX_RETURN_IF_ERROR(fs::WriteAll(to, std::string_view(buf.data(), n), what));
    done += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::Status ApplyOwnerAndMode(int fd, const LayoutEntry& e, bool as_root) {
  // chown first: it clears setuid/setgid bits, which fchmod then sets.
  if (as_root && ::fchown(fd, e.uid, e.gid) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("fchown(", e.path, ")"));
  }
  if (::fchmod(fd, e.mode) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("fchmod(", e.path, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status StoneReader::ExtractTo(int dirfd) const {
  auto run = [&]() -> absl::Status {
    if (type_ != StoneType::kBinary) {
      return FailedPrecondition(StrCat("a ", StoneTypeName(type_), " stone has no content"));
    }
    const bool as_root = ::geteuid() == 0;
    ParentCache parents(dirfd);
    // Pass 1: directories (owner-writable until the end) and symlinks.
    for (const LayoutEntry& e : layout_) {
      if (e.kind == FileKind::kRegular) continue;
      auto [parent, base] = SplitParent(e.path);
      ONIX_ASSIGN_OR_RETURN(int pfd, parents.Get(parent));
      const std::string name(base);
      if (e.kind == FileKind::kDirectory) {
        if (::mkdirat(pfd, name.c_str(), 0700) != 0) {
          const int err = errno;
          struct stat st;
          if (err != EEXIST || ::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
              !S_ISDIR(st.st_mode)) {
            return ErrnoError(err, StrCat("mkdirat(", e.path, ")"));
          }
        }
      } else {
        if (::symlinkat(e.target.c_str(), pfd, name.c_str()) != 0) {
          const int err = errno;
          return ErrnoError(err, StrCat("symlinkat(", e.path, ")"));
        }
        if (as_root && ::fchownat(pfd, name.c_str(), e.uid, e.gid, AT_SYMLINK_NOFOLLOW) != 0) {
          const int err = errno;
          return ErrnoError(err, StrCat("lchown(", e.path, ")"));
        }
      }
    }
    // Pass 2: regular files, streamed from Content. The first path of a digest receives the
    // bytes; its duplicates are copied from it once the digest is verified.
    std::map<Digest, std::vector<const LayoutEntry*>> by_digest;
    for (const LayoutEntry& e : layout_) {
      if (e.kind == FileKind::kRegular) by_digest[e.digest].push_back(&e);
    }
    UniqueFd current;
    const std::vector<const LayoutEntry*>* paths = nullptr;
    auto create = [&](const LayoutEntry& e) -> absl::StatusOr<UniqueFd> {
      auto [parent, base] = SplitParent(e.path);
      ONIX_ASSIGN_OR_RETURN(int pfd, parents.Get(parent));
      const std::string name(base);
      int fd =
          ::openat(pfd, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0) {
        const int err = errno;
        return ErrnoError(err, StrCat("creating '", e.path, "'"));
      }
      return UniqueFd(fd);
    };
    ONIX_RETURN_IF_ERROR(StreamContent(
        [&](const ContentRange& c) -> absl::Status {
          auto it = by_digest.find(c.digest);
          // Open() proved every range belongs to a layout path; this is defence in depth.
          if (it == by_digest.end()) return Internal(StrCat("no path for ", c.digest.Hex()));
          paths = &it->second;
          ONIX_ASSIGN_OR_RETURN(current, create(*paths->front()));
          return absl::OkStatus();
        },
        [&](std::string_view bytes) {
          return fs::WriteAll(current.get(), bytes, paths->front()->path);
        },
        [&](const ContentRange& c) -> absl::Status {
          for (size_t i = 1; i < paths->size(); ++i) {
            const LayoutEntry& dup = *(*paths)[i];
            ONIX_ASSIGN_OR_RETURN(UniqueFd fd, create(dup));
            ONIX_RETURN_IF_ERROR(CopyFd(current.get(), fd.get(), c.length, dup.path));
            ONIX_RETURN_IF_ERROR(ApplyOwnerAndMode(fd.get(), dup, as_root));
          }
          ONIX_RETURN_IF_ERROR(ApplyOwnerAndMode(current.get(), *paths->front(), as_root));
          current.reset();
          return absl::OkStatus();
        }));
    // Pass 3: directory modes, deepest first, so a read-only directory is sealed only after
    // everything below it exists.
    for (auto it = layout_.rbegin(); it != layout_.rend(); ++it) {
      if (it->kind != FileKind::kDirectory) continue;
      ONIX_ASSIGN_OR_RETURN(UniqueFd fd, fs::OpenDirAt(dirfd, it->path));
      ONIX_RETURN_IF_ERROR(ApplyOwnerAndMode(fd.get(), *it, as_root));
    }
    return absl::OkStatus();
  };
  return Annotate(run(), StrCat("extracting stone ", path_));
}

}  // namespace onix::stone

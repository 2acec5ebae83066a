#include "moss/state/tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "absl/strings/str_split.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::moss::state {
namespace {

std::string Parent(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string Base(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

absl::StatusOr<UniqueFd> OpenParent(int dirfd, const std::string& path) {
  const std::string parent = Parent(path);
  return fs::OpenDirAt(dirfd, parent);
}

// Copies an object into `name` below `parent_fd` when a hardlink is impossible (another
// filesystem, link count limit): FICLONE shares extents where the filesystem can, a plain
// copy otherwise.
absl::Status CopyObject(const store::Store& store, const store::ObjectKey& key, int parent_fd,
                        const std::string& name) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd src, fs::OpenAt(store.fd(), key.RelPath(), O_RDONLY));
  int raw =
      ::openat(parent_fd, name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (raw < 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("creating ", name));
  }
  UniqueFd dst(raw);
  if (::ioctl(dst.get(), FICLONE, src.get()) != 0) {
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::read(src.get(), buf, sizeof(buf));
      if (n < 0) {
        const int err = errno;
        if (err == EINTR) continue;
        return ErrnoError(err, StrCat("reading object ", key.Name()));
      }
      if (n == 0) break;
      ONIX_RETURN_IF_ERROR(fs::WriteAll(dst.get(), std::string_view(buf, n), name));
    }
  }
  if (::geteuid() == 0 && ::fchown(dst.get(), key.uid, key.gid) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("chown(", name, ")"));
  }
  if (::fchmod(dst.get(), key.mode) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("chmod(", name, ")"));
  }
  return absl::OkStatus();
}

absl::Status PlaceFile(const store::Store& store, const stone::LayoutEntry& e, int parent_fd,
                       const std::string& name) {
  const store::ObjectKey key = KeyOf(e);
  const std::string rel = key.RelPath();
  if (::linkat(store.fd(), rel.c_str(), parent_fd, name.c_str(), 0) == 0) {
    return absl::OkStatus();
  }
  const int err = errno;
  if (err == EXDEV || err == EMLINK || err == EPERM) return CopyObject(store, key, parent_fd, name);
  return ErrnoError(err, StrCat("linking ", e.path, " from store object ", key.Name()));
}

absl::Status PlaceSymlink(const stone::LayoutEntry& e, int parent_fd, const std::string& name) {
  ONIX_RETURN_IF_ERROR(fs::SymlinkAt(e.target, parent_fd, name));
  if (::geteuid() == 0 && (e.uid != 0 || e.gid != 0) &&
      ::fchownat(parent_fd, name.c_str(), e.uid, e.gid, AT_SYMLINK_NOFOLLOW) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("chown(", e.path, ")"));
  }
  return absl::OkStatus();
}

absl::Status FinishDir(const stone::LayoutEntry& e, int parent_fd, const std::string& name) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd dir, fs::OpenDirAt(parent_fd, name));
  if (::geteuid() == 0 && ::fchown(dir.get(), e.uid, e.gid) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("chown(", e.path, ")"));
  }
  if (::fchmod(dir.get(), e.mode & 07777) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("chmod(", e.path, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

store::ObjectKey KeyOf(const stone::LayoutEntry& entry) {
  return store::ObjectKey::For(entry.digest, entry.mode, entry.uid, entry.gid);
}

// Directories above this depth (the top, usr, usr/share) spread their subdirectories over
// the filesystem's block groups while they are created (see BuildTree).
constexpr int kSpreadDepth = 3;

absl::Status BuildTree(const store::Store& store, const std::vector<stone::LayoutEntry>& layout,
                       int dirfd, const BuildOptions& options) {
  const bool as_root = ::geteuid() == 0;
  const mode_t umask = fs::CurrentUmask();
  struct stat top;
  if (::fstat(dirfd, &top) != 0) {
    const int err = errno;
    return ErrnoError(err, "fstat(tree)");
  }
  // A directory whose mkdir mode is already its final mode and owner needs no finishing
  // pass: mkdir gives root:root to root and the umask-filtered mode, and none of our new
  // directories is setgid before the finishing pass (so nothing inherits a gid).
  auto finished_by_mkdir = [&](const stone::LayoutEntry& e) {
    const mode_t mode = e.mode & 07777;
    return (top.st_mode & S_ISGID) == 0 && (mode & 07000) == 0 && (mode & 0700) == 0700 &&
           (mode & umask) == 0 && (!as_root || (e.uid == 0 && e.gid == 0));
  };

  // The layout as a tree of directories. Node 0 is `dirfd` itself.
  struct DirNode {
    const stone::LayoutEntry* entry = nullptr;
    int depth = 0;                                  // 0 for the top, 1 for its children
    std::vector<uint32_t> dirs;                     // child directories
    std::vector<const stone::LayoutEntry*> others;  // symlinks and files
  };
  std::vector<DirNode> nodes(1);
  std::unordered_map<std::string_view, uint32_t> node_of;
  node_of.reserve(layout.size() / 8 + 1);
  std::vector<const stone::LayoutEntry*> unfinished;
  for (const auto& e : layout) {
    ONIX_RETURN_IF_ERROR(fs::ValidateRelativePath(e.path));
    if (e.kind != stone::FileKind::kDirectory) continue;
    if (!node_of.emplace(e.path, static_cast<uint32_t>(nodes.size())).second) {
      return InvalidArgument(StrCat("building the tree: directory ", e.path, " is listed twice"));
    }
    nodes.push_back(
        {&e, 1 + static_cast<int>(std::count(e.path.begin(), e.path.end(), '/')), {}, {}});
    if (!finished_by_mkdir(e)) unfinished.push_back(&e);
  }
  for (const auto& e : layout) {
    const size_t slash = e.path.rfind('/');
    uint32_t parent = 0;
    if (slash != std::string::npos) {
      auto it = node_of.find(std::string_view(e.path).substr(0, slash));
      if (it == node_of.end()) {
        return InvalidArgument(StrCat("building the tree: the parent of ", e.path,
                                      " is not a directory of the layout"));
      }
      parent = it->second;
    }
    if (e.kind == stone::FileKind::kDirectory) {
      nodes[parent].dirs.push_back(node_of.at(e.path));
    } else {
      nodes[parent].others.push_back(&e);
    }
  }

  // Workers take one directory each: create its subdirectories (and hand them to the
  // others at once), then its symlinks and files. Creating inodes (mkdir, symlink) is the
  // dear part, not linkat, so directories are made by all workers rather than first by
  // one; all entries of one directory come from one worker, so workers do not queue on a
  // directory's inode lock, and each opens a directory once.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<uint32_t> queue = {0};
  int active = 0;
  bool failed = false;
  absl::Status first_error;
  auto fill = [&](uint32_t index) -> absl::Status {
    const DirNode& node = nodes[index];
    UniqueFd own;
    int fd = dirfd;
    if (node.entry != nullptr) {
      ONIX_ASSIGN_OR_RETURN(own, fs::OpenDirAt(dirfd, node.entry->path));
      fd = own.get();
    }
    // The top levels of the tree are marked as tops of hierarchies (FS_TOPDIR_FL) while
    // their subdirectories are made, so ext4's Orlov allocator spreads those over the
    // emptiest block groups instead of packing every directory of the tree into its
    // parent's group from the group's first inode on. Without a journal, ext4 skips there
    // every inode freed in the last minutes one by one (recently_deleted()), so after the
    // previous state's tree was removed each mkdir scanned past all of its inodes: the
    // build grew with the square of the tree. The mark is a placement hint only: it is
    // cleared once the subdirectories exist, and a filesystem without it builds the same.
    const bool spread = !node.dirs.empty() && node.depth < kSpreadDepth;
    int flags = 0;
    const bool marked =
        spread && ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_TOPDIR_FL) == 0 && [&] {
          int top_flags = flags | FS_TOPDIR_FL;
          return ::ioctl(fd, FS_IOC_SETFLAGS, &top_flags) == 0;
        }();
    absl::Status made;
    for (uint32_t child : node.dirs) {
      const stone::LayoutEntry& e = *nodes[child].entry;
      const mode_t mode = finished_by_mkdir(e) ? (e.mode & 0777) : 0755;
      made = fs::MkdirAt(fd, Base(e.path), mode);
      if (!made.ok()) {
        made = Annotate(made, StrCat("creating directory ", e.path));
        break;
      }
    }
    if (marked && ::ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0 && made.ok()) {
      const int err = errno;
      made = ErrnoError(err, StrCat("clearing the placement hint of ",
                                    node.entry ? node.entry->path : std::string("the tree")));
    }
    ONIX_RETURN_IF_ERROR(made);
    if (!node.dirs.empty()) {
      std::lock_guard<std::mutex> lock(mu);
      queue.insert(queue.end(), node.dirs.begin(), node.dirs.end());
      cv.notify_all();
    }
    for (const stone::LayoutEntry* e : node.others) {
      if (e->kind == stone::FileKind::kRegular) {
        ONIX_RETURN_IF_ERROR(PlaceFile(store, *e, fd, Base(e->path)));
      } else {
        ONIX_RETURN_IF_ERROR_CTX(PlaceSymlink(*e, fd, Base(e->path)),
                                 StrCat("creating symlink ", e->path));
      }
    }
    return absl::OkStatus();
  };
  auto worker = [&] {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return failed || !queue.empty() || active == 0; });
      if (failed || queue.empty()) return;  // failed, or nothing queued and nobody working
      const uint32_t index = queue.front();
      queue.pop_front();
      ++active;
      lock.unlock();
      absl::Status s = fill(index);
      lock.lock();
      --active;
      if (!s.ok() && !failed) {
        failed = true;
        first_error = std::move(s);
      }
      if (failed || active == 0) cv.notify_all();
    }
  };
  // Creating inodes and linking are kernel work that also waits on directory locks, so a
  // couple more workers than CPUs keep it moving.
  int threads = options.threads > 0
                    ? options.threads
                    : std::min<int>(8, std::max(1u, std::thread::hardware_concurrency()) + 2);
  threads = std::max(1, std::min<int>(threads, static_cast<int>(nodes.size())));
  if (threads <= 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  ONIX_RETURN_IF_ERROR(first_error);

  // Directory modes last (deepest first: a child's path sorts after its parent's), so a
  // read-only directory does not stop us filling it; only the directories mkdir could not
  // finish.
  std::sort(
      unfinished.begin(), unfinished.end(),
      [](const stone::LayoutEntry* a, const stone::LayoutEntry* b) { return a->path > b->path; });
  for (const stone::LayoutEntry* e : unfinished) {
    ONIX_ASSIGN_OR_RETURN(UniqueFd parent, OpenParent(dirfd, e->path));
    ONIX_RETURN_IF_ERROR(FinishDir(*e, parent.get(), Base(e->path)));
  }
  return absl::OkStatus();
}

namespace {

struct DirEntry {
  std::string name;
  bool dir;
};

// The entries of the open directory `fd` (its offset is consumed), types from getdents64
// itself: no dup, no fdopendir (which would fstat), no stat per entry.
absl::StatusOr<std::vector<DirEntry>> ReadEntries(int fd, std::string_view what) {
  struct LinuxDirent64 {
    ino64_t d_ino;
    off64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
  };
  std::vector<DirEntry> out;
  alignas(8) char buf[32768];
  for (;;) {
    const long n = ::syscall(SYS_getdents64, fd, buf, sizeof(buf));
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return ErrnoError(err, StrCat("getdents64(", what, ")"));
    }
    if (n == 0) return out;
    for (long off = 0; off < n;) {
      const auto* e = reinterpret_cast<const LinuxDirent64*>(buf + off);
      off += e->d_reclen;
      const std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      bool dir = e->d_type == DT_DIR;
      if (e->d_type == DT_UNKNOWN) {
        struct stat st;
        dir = ::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
      }
      out.push_back({std::string(name), dir});
    }
  }
}

absl::Status RemoveContents(int fd, const std::string& what, int depth) {
  ONIX_ASSIGN_OR_RETURN(std::vector<DirEntry> entries, ReadEntries(fd, what));
  // A read-only directory (a stripped tree) is made writable on its first refusal, which
  // costs nothing for the usual writable ones.
  std::atomic<bool> made_writable{false};
  auto unlink = [&](const std::string& name, int flags) -> absl::Status {
    for (;;) {
      if (::unlinkat(fd, name.c_str(), flags) == 0) return absl::OkStatus();
      const int err = errno;
      if (err == ENOENT) return absl::OkStatus();
      struct stat st;
      if (err == EACCES && !made_writable && ::fstat(fd, &st) == 0 &&
          ::fchmod(fd, st.st_mode | S_IWUSR | S_IXUSR) == 0) {
        made_writable = true;
        continue;
      }
      return ErrnoError(err, StrCat(flags ? "rmdir(" : "unlink(", what, "/", name, ")"));
    }
  };
  std::vector<const DirEntry*> subdirs;
  for (const DirEntry& e : entries) {
    if (e.dir) {
      subdirs.push_back(&e);
    } else {
      ONIX_RETURN_IF_ERROR(unlink(e.name, 0));
    }
  }
  auto remove_dir = [&](const DirEntry& e) -> absl::Status {
    const std::string path = StrCat(what, "/", e.name);
    int raw = ::openat(fd, e.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (raw < 0) {
      const int err = errno;
      return ErrnoError(err, StrCat("opening ", path));
    }
    UniqueFd child(raw);
    ONIX_RETURN_IF_ERROR(RemoveContents(child.get(), path, depth + 1));
    return unlink(e.name, AT_REMOVEDIR);
  };
  const int threads = std::min<int>(static_cast<int>(subdirs.size()), 4);
  if (depth >= 2 || threads <= 1) {
    for (const DirEntry* e : subdirs) ONIX_RETURN_IF_ERROR(remove_dir(*e));
    return absl::OkStatus();
  }
  std::atomic<size_t> next{0};
  std::vector<absl::Status> results(subdirs.size());
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < subdirs.size();)
        results[i] = remove_dir(*subdirs[i]);
    });
  }
  for (auto& t : pool) t.join();
  for (const auto& r : results) ONIX_RETURN_IF_ERROR(r);
  return absl::OkStatus();
}

}  // namespace

absl::Status RemoveTree(int dirfd, const std::string& name) {
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    const int err = errno;
    if (err == ENOENT) return absl::OkStatus();
    return ErrnoError(err, StrCat("stat(", name, ")"));
  }
  if (!S_ISDIR(st.st_mode)) return fs::UnlinkAt(dirfd, name);
  int raw = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (raw < 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("opening ", name));
  }
  UniqueFd top(raw);
  if ((st.st_mode & S_IWUSR) == 0) (void)::fchmod(top.get(), st.st_mode | S_IWUSR | S_IXUSR);
  ONIX_RETURN_IF_ERROR_CTX(RemoveContents(top.get(), name, 0), StrCat("removing ", name));
  return fs::RmdirAt(dirfd, name);
}

absl::StatusOr<std::vector<TreeProblem>> CheckTree(const store::Store& store,
                                                   const std::vector<stone::LayoutEntry>& layout,
                                                   int dirfd, const ObjectOk& object_ok) {
  std::vector<TreeProblem> problems;
  for (const auto& e : layout) {
    absl::StatusOr<struct stat> st = fs::StatAt(dirfd, e.path);
    if (!st.ok()) {
      problems.push_back(
          {e.path, absl::IsNotFound(st.status()) ? "missing" : std::string(st.status().message())});
      continue;
    }
    const mode_t type = st->st_mode & S_IFMT;
    if (e.kind == stone::FileKind::kDirectory) {
      if (type != S_IFDIR) {
        problems.push_back({e.path, "is not a directory"});
      } else if ((st->st_mode & 07777) != (e.mode & 07777)) {
        problems.push_back({e.path, "has the wrong mode"});
      }
      continue;
    }
    if (e.kind == stone::FileKind::kSymlink) {
      if (type != S_IFLNK) {
        problems.push_back({e.path, "is not a symlink"});
        continue;
      }
      ONIX_ASSIGN_OR_RETURN(std::string target, fs::ReadLinkAt(dirfd, e.path));
      if (target != e.target) problems.push_back({e.path, "points elsewhere"});
      continue;
    }
    if (type != S_IFREG) {
      problems.push_back({e.path, "is not a regular file"});
      continue;
    }
    const store::ObjectKey key = KeyOf(e);
    if ((st->st_mode & 07777) != key.mode) {
      problems.push_back({e.path, "has the wrong mode"});
      continue;
    }
    absl::StatusOr<struct stat> obj = fs::StatAt(store.fd(), key.RelPath());
    if (obj.ok() && obj->st_dev == st->st_dev && obj->st_ino == st->st_ino) {
      if (!object_ok(key)) problems.push_back({e.path, "shares a corrupt store object"});
      continue;
    }
    ONIX_ASSIGN_OR_RETURN(Digest got, Sha256FileAt(dirfd, e.path));
    if (got != e.digest) problems.push_back({e.path, "content does not match"});
  }
  return problems;
}

absl::Status RepairEntry(const store::Store& store, const stone::LayoutEntry& e, int dirfd) {
  const std::string what = StrCat("repairing ", e.path);
  ONIX_ASSIGN_OR_RETURN(UniqueFd parent, OpenParent(dirfd, e.path));
  const std::string name = Base(e.path);
  absl::StatusOr<struct stat> st = fs::StatAt(parent.get(), name);
  if (e.kind == stone::FileKind::kDirectory) {
    if (st.ok() && !S_ISDIR(st->st_mode)) {
      ONIX_RETURN_IF_ERROR_CTX(fs::UnlinkAt(parent.get(), name), what);
    }
    if (!st.ok() || !S_ISDIR(st->st_mode)) {
      ONIX_RETURN_IF_ERROR_CTX(fs::MkdirAt(parent.get(), name, 0755), what);
    }
    return Annotate(FinishDir(e, parent.get(), name), what);
  }
  const std::string tmp = StrCat(".moss-repair-", name);
  ONIX_RETURN_IF_ERROR_CTX(fs::RemoveTreeAt(parent.get(), tmp), what);
  if (e.kind == stone::FileKind::kSymlink) {
    ONIX_RETURN_IF_ERROR_CTX(PlaceSymlink(e, parent.get(), tmp), what);
  } else {
    ONIX_RETURN_IF_ERROR_CTX(PlaceFile(store, e, parent.get(), tmp), what);
  }
  // A directory cannot be renamed over by a file: remove it first (not atomic, but the
  // entry was wrong anyway).
  if (st.ok() && S_ISDIR(st->st_mode)) {
    ONIX_RETURN_IF_ERROR_CTX(fs::RemoveTreeAt(parent.get(), name), what);
  }
  return Annotate(fs::RenameAt(parent.get(), tmp, parent.get(), name), what);
}

std::string NewToken() {
  unsigned char bytes[8];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    ssize_t n = ::getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  return HexEncode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

absl::Status WriteTreeId(int dirfd, const TreeId& id) {
  return fs::WriteFileAtomicAt(dirfd, ".fstx", StrCat(id.fstx, "\n", id.token, "\n"), 0444,
                               fs::Durability::kFsync);
}

absl::StatusOr<TreeId> ReadTreeId(int dirfd) {
  ONIX_ASSIGN_OR_RETURN(std::string text, fs::ReadFileAt(dirfd, ".fstx", 4096));
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  if (lines.empty()) return DataLoss("reading .fstx: the file is empty");
  TreeId id;
  id.fstx = lines[0];
  if (lines.size() > 1) id.token = lines[1];
  return id;
}

}  // namespace onix::moss::state

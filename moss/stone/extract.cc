// StoneReader::ExtractTo: the layout as a plain tree below a directory fd, never outside it.
//
// File creation, not decompression, is most of the cost (an ext4 create here is 20 µs to
// 1 ms depending on recent deletes), so the calling thread only decodes and verifies Content
// while a few workers create directories and files. Several creating threads also keep their
// share of a CPU that other processes are loading, as a `zstd -d | tar -x` pipeline does.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/stone/stone.h"

namespace onix::stone {
namespace {

// Files up to this size are decoded into memory and handed to a worker; bigger ones are
// written by the decoding thread as their bytes arrive, so memory stays bounded.
constexpr uint64_t kBufferedFileMax = 4u << 20;
// Decoded bytes waiting for a worker, at most.
constexpr uint64_t kQueuedBytesMax = 32u << 20;

// Parent directories are opened beneath the root without following symlinks (openat2
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), and the last component is created with O_EXCL /
// mkdirat / symlinkat, none of which follow a final symlink. Sorted layouts visit siblings
// together, so one cached parent fd (per thread) saves most opens.
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

// What creation already gets right, so the fchown/fchmod after it can be skipped: the
// creator's uid/gid (unless the parent is setgid, whose gid new entries inherit) and the
// permission bits the umask lets through.
struct Creator {
  bool as_root = false;
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t umask = 022;

  bool NeedsChown(const LayoutEntry& e, bool parent_setgid) const {
    return as_root && (e.uid != uid || e.gid != gid || parent_setgid);
  }
  // Directories are created 0700 when their final mode would stop us from filling them;
  // files can be created read-only (the creating fd is writable whatever the mode). Special
  // bits and bits the umask removes are set afterwards.
  bool CreatesFinalMode(const LayoutEntry& e) const {
    const mode_t mode = e.mode & 07777;
    const mode_t need = e.kind == FileKind::kDirectory ? 0700 : 0;
    return (mode & 07000) == 0 && (mode & need) == need && (mode & umask) == 0;
  }
  absl::Status Apply(int fd, const LayoutEntry& e, bool parent_setgid) const {
    // chown first: it clears setuid/setgid bits, which fchmod then sets.
    const bool chown = NeedsChown(e, parent_setgid);
    if (chown && ::fchown(fd, e.uid, e.gid) != 0) {
      const int err = errno;
      return ErrnoError(err, StrCat("fchown(", e.path, ")"));
    }
    if ((chown || !CreatesFinalMode(e)) && ::fchmod(fd, e.mode) != 0) {
      const int err = errno;
      return ErrnoError(err, StrCat("fchmod(", e.path, ")"));
    }
    return absl::OkStatus();
  }
};

// Runs jobs on a few threads; the first error stops the rest and is kept.
class Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this, i] { Run(i); });
  }
  ~Pool() { Finish().IgnoreError(); }

  int size() const { return static_cast<int>(threads_.size()); }
  bool failed() const { return failed_.load(); }

  // Queues `job` (run with the worker's index) once fewer than kQueuedBytesMax bytes wait.
  // False when a job failed (nothing more will run).
  bool Submit(std::function<absl::Status(int)> job, uint64_t bytes = 0) {
    std::unique_lock<std::mutex> lock(mu_);
    room_.wait(lock, [&] {
      return failed_ || queued_bytes_ == 0 || queued_bytes_ + bytes <= kQueuedBytesMax;
    });
    if (failed_) return false;
    queue_.push_back({std::move(job), bytes});
    queued_bytes_ += bytes;
    work_.notify_one();
    return true;
  }

  // Waits until every queued job ran; the first error, if any.
  absl::Status Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait(lock, [&] { return (queue_.empty() && running_ == 0) || failed_; });
    if (failed_) idle_.wait(lock, [&] { return running_ == 0; });
    return error_;
  }

  absl::Status Finish() {
    absl::Status s = Wait();
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_.notify_all();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    return s;
  }

 private:
  struct Job {
    std::function<absl::Status(int)> fn;
    uint64_t bytes;
  };

  void Run(int index) {
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
        ++running_;
      }
      absl::Status s = failed_ ? absl::OkStatus() : job.fn(index);
      job.fn = nullptr;  // frees the job's bytes before we account for them
      std::lock_guard<std::mutex> lock(mu_);
      --running_;
      queued_bytes_ -= job.bytes;
      if (!s.ok() && !failed_) {
        error_ = s;
        failed_ = true;
        queue_.clear();
        queued_bytes_ = 0;
      }
      room_.notify_all();
      idle_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable work_, room_, idle_;
  std::deque<Job> queue_;
  uint64_t queued_bytes_ = 0;
  int running_ = 0;
  bool stop_ = false;
  std::atomic<bool> failed_{false};
  absl::Status error_;
  std::vector<std::thread> threads_;
};

int Workers() {
  const int cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::clamp(cpus + 1, 3, 8);
}

}  // namespace

absl::Status StoneReader::ExtractTo(int dirfd) const {
  auto run = [&]() -> absl::Status {
    if (type_ != StoneType::kBinary) {
      return FailedPrecondition(StrCat("a ", StoneTypeName(type_), " stone has no content"));
    }
    Creator creator;
    creator.as_root = ::geteuid() == 0;
    creator.uid = ::geteuid();
    creator.gid = ::getegid();
    creator.umask = fs::CurrentUmask();
    // Directories whose new entries inherit their gid: the target itself and reused
    // directories when setgid (the ones we create are not setgid until pass 3).
    std::set<std::string, std::less<>> setgid_dirs;
    {
      struct stat st;
      if (::fstat(dirfd, &st) != 0) {
        const int err = errno;
        return ErrnoError(err, "fstat(target)");
      }
      if (st.st_mode & S_ISGID) setgid_dirs.insert("");
    }
    std::mutex setgid_mu;
    auto parent_setgid = [&](std::string_view parent) {
      std::lock_guard<std::mutex> lock(setgid_mu);
      return setgid_dirs.count(parent) > 0;
    };

    const int workers = Workers();
    std::vector<ParentCache> parents;
    parents.reserve(static_cast<size_t>(workers));
    for (int i = 0; i < workers; ++i) parents.emplace_back(dirfd);

    // Pass 1: directories, one depth at a time (a level's parents exist once the level above
    // is done), then symlinks. A directory stays owner-writable until pass 3.
    std::map<size_t, std::vector<const LayoutEntry*>> dirs_by_depth;
    std::vector<const LayoutEntry*> symlinks;
    for (const LayoutEntry& e : layout_) {
      if (e.kind == FileKind::kDirectory) {
        dirs_by_depth[static_cast<size_t>(std::count(e.path.begin(), e.path.end(), '/'))].push_back(
            &e);
      } else if (e.kind == FileKind::kSymlink) {
        symlinks.push_back(&e);
      }
    }
    auto make_dir = [&](const LayoutEntry& e, int worker) -> absl::Status {
      auto [parent, base] = SplitParent(e.path);
      ONIX_ASSIGN_OR_RETURN(int pfd, parents[worker].Get(parent));
      const std::string name(base);
      const mode_t mode = creator.CreatesFinalMode(e) ? (e.mode & 0777) : 0700;
      if (::mkdirat(pfd, name.c_str(), mode) != 0) {
        const int err = errno;
        struct stat st;
        if (err != EEXIST || ::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(st.st_mode)) {
          return ErrnoError(err, StrCat("mkdirat(", e.path, ")"));
        }
        if (st.st_mode & S_ISGID) {
          std::lock_guard<std::mutex> lock(setgid_mu);
          setgid_dirs.insert(e.path);
        }
      }
      return absl::OkStatus();
    };
    auto make_symlink = [&](const LayoutEntry& e, int worker) -> absl::Status {
      auto [parent, base] = SplitParent(e.path);
      ONIX_ASSIGN_OR_RETURN(int pfd, parents[worker].Get(parent));
      const std::string name(base);
      if (::symlinkat(e.target.c_str(), pfd, name.c_str()) != 0) {
        const int err = errno;
        return ErrnoError(err, StrCat("symlinkat(", e.path, ")"));
      }
      if (creator.NeedsChown(e, parent_setgid(parent)) &&
          ::fchownat(pfd, name.c_str(), e.uid, e.gid, AT_SYMLINK_NOFOLLOW) != 0) {
        const int err = errno;
        return ErrnoError(err, StrCat("lchown(", e.path, ")"));
      }
      return absl::OkStatus();
    };
    std::map<Digest, std::vector<const LayoutEntry*>> by_digest;
    for (const LayoutEntry& e : layout_) {
      if (e.kind == FileKind::kRegular) by_digest[e.digest].push_back(&e);
    }
    auto create = [&](const LayoutEntry& e, ParentCache& cache) -> absl::StatusOr<UniqueFd> {
      auto [parent, base] = SplitParent(e.path);
      ONIX_ASSIGN_OR_RETURN(int pfd, cache.Get(parent));
      const std::string name(base);
      const mode_t mode = creator.CreatesFinalMode(e) ? (e.mode & 0777) : 0600;
      int fd =
          ::openat(pfd, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
      if (fd < 0) {
        const int err = errno;
        return ErrnoError(err, StrCat("creating '", e.path, "'"));
      }
      return UniqueFd(fd);
    };
    auto finish = [&](int fd, const LayoutEntry& e) {
      return creator.Apply(fd, e, parent_setgid(SplitParent(e.path).first));
    };
    // Declared after everything its jobs use, so it is joined (even on an early return)
    // before any of that goes away.
    Pool pool(workers);

    // Jobs of a few entries each: one per entry would cost more in hand-offs than it saves.
    auto submit_batches = [&](const std::vector<const LayoutEntry*>& entries,
                              std::function<absl::Status(const LayoutEntry&, int)> fn) {
      constexpr size_t kBatch = 16;
      for (size_t i = 0; i < entries.size(); i += kBatch) {
        const size_t end = std::min(entries.size(), i + kBatch);
        if (!pool.Submit([&entries, fn, i, end](int worker) -> absl::Status {
              for (size_t j = i; j < end; ++j) ONIX_RETURN_IF_ERROR(fn(*entries[j], worker));
              return absl::OkStatus();
            })) {
          return;
        }
      }
    };
    for (const auto& [depth, entries] : dirs_by_depth) {
      submit_batches(entries, make_dir);
      ONIX_RETURN_IF_ERROR(pool.Wait());
    }
    submit_batches(symlinks, make_symlink);

    // Pass 2: regular files. The decoder (this thread) verifies each digest before a worker
    // creates its paths from the decoded bytes; the first path of a digest is written, its
    // duplicates too (from the same buffer). Files above kBufferedFileMax are written here as
    // they stream, duplicates copied from the first once the digest is verified.
    ParentCache own_parents(dirfd);  // the decoder's, for big files
    const std::vector<const LayoutEntry*>* paths = nullptr;
    bool buffered = false;
    std::shared_ptr<std::string> buf;
    UniqueFd current;
    ONIX_RETURN_IF_ERROR(StreamContent(
        [&](const ContentRange& c) -> absl::Status {
          if (pool.failed()) return pool.Wait();
          auto it = by_digest.find(c.digest);
          // Open() proved every range belongs to a layout path; this is defence in depth.
          if (it == by_digest.end()) return Internal(StrCat("no path for ", c.digest.Hex()));
          paths = &it->second;
          buffered = c.length <= kBufferedFileMax;
          if (buffered) {
            buf = std::make_shared<std::string>();
            buf->reserve(static_cast<size_t>(c.length));
            return absl::OkStatus();
          }
          ONIX_ASSIGN_OR_RETURN(current, create(*paths->front(), own_parents));
          return absl::OkStatus();
        },
        [&](std::string_view bytes) -> absl::Status {
          if (buffered) {
            buf->append(bytes.data(), bytes.size());
            return absl::OkStatus();
          }
          return fs::WriteAll(current.get(), bytes, paths->front()->path);
        },
        [&](const ContentRange& c) -> absl::Status {
          if (buffered) {
            const auto* todo = paths;
            std::shared_ptr<std::string> bytes = std::move(buf);
            const uint64_t size = bytes->size();
            pool.Submit(
                [&, todo, bytes](int worker) -> absl::Status {
                  for (const LayoutEntry* e : *todo) {
                    ONIX_ASSIGN_OR_RETURN(UniqueFd fd, create(*e, parents[worker]));
                    ONIX_RETURN_IF_ERROR(fs::WriteAll(fd.get(), *bytes, e->path));
                    ONIX_RETURN_IF_ERROR(finish(fd.get(), *e));
                  }
                  return absl::OkStatus();
                },
                size);
            return absl::OkStatus();
          }
          for (size_t i = 1; i < paths->size(); ++i) {
            const LayoutEntry& dup = *(*paths)[i];
            ONIX_ASSIGN_OR_RETURN(UniqueFd fd, create(dup, own_parents));
            ONIX_RETURN_IF_ERROR(CopyFd(current.get(), fd.get(), c.length, dup.path));
            ONIX_RETURN_IF_ERROR(finish(fd.get(), dup));
          }
          ONIX_RETURN_IF_ERROR(finish(current.get(), *paths->front()));
          current.reset();
          return absl::OkStatus();
        }));
    ONIX_RETURN_IF_ERROR(pool.Finish());

    // Pass 3: directory modes and owners where creation did not already give them, deepest
    // first, so a read-only directory is sealed only after everything below it exists.
    for (auto it = layout_.rbegin(); it != layout_.rend(); ++it) {
      if (it->kind != FileKind::kDirectory) continue;
      const bool setgid_parent = parent_setgid(SplitParent(it->path).first);
      if (!creator.NeedsChown(*it, setgid_parent) && creator.CreatesFinalMode(*it)) continue;
      ONIX_ASSIGN_OR_RETURN(UniqueFd fd, fs::OpenDirAt(dirfd, it->path));
      ONIX_RETURN_IF_ERROR(creator.Apply(fd.get(), *it, setgid_parent));
    }
    return absl::OkStatus();
  };
  return Annotate(run(), StrCat("extracting stone ", path_));
}

}  // namespace onix::stone

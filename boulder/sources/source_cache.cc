#include "boulder/sources/source_cache.h"

#include <fcntl.h>
#include <git2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "boost/filesystem.hpp"
#include "boulder/util/util.h"
#include "moss/base/c_free.h"
#include "moss/base/fd.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"

namespace onix::boulder {

namespace {

using RepoPtr = std::unique_ptr<git_repository, CFree<git_repository_free>>;
using RemotePtr = std::unique_ptr<git_remote, CFree<git_remote_free>>;
using CommitPtr = std::unique_ptr<git_commit, CFree<git_commit_free>>;
using TreePtr = std::unique_ptr<git_tree, CFree<git_tree_free>>;

void InitLibgit2() {
  static std::once_flag once;
  std::call_once(once, [] { git_libgit2_init(); });
}

absl::Status GitError(int rc, std::string_view what) {
  const git_error* e = git_error_last();
  return Internal(StrCat(what, ": ", e != nullptr && e->message != nullptr ? e->message : "",
                         " (libgit2 ", rc, ")"));
}

bool Exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

std::string BaseName(const std::string& url) {
  std::string b = url;
  while (!b.empty() && b.back() == '/') b.pop_back();
  return b.substr(b.rfind('/') + 1);
}

// Copies `from` to a new file `to` (which must not exist) and returns its digest.
absl::StatusOr<Digest> CopyHashing(const std::string& from, const std::string& to) {
  UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) {
    const int err = errno;
    return ErrnoError(err, StrCat("opening ", from));
  }
  UniqueFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!out) {
    const int err = errno;
    return ErrnoError(err, StrCat("creating ", to));
  }
  Sha256 h;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(in.get(), buf, sizeof buf);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return ErrnoError(err, StrCat("reading ", from));
    }
    if (n == 0) break;
    h.Update(buf, static_cast<size_t>(n));
    ONIX_RETURN_IF_ERROR(fs::WriteAll(out.get(), std::string_view(buf, n), to));
  }
  ONIX_RETURN_IF_ERROR(fs::FsyncFd(out.get(), to));
  return h.Finish();
}

absl::StatusOr<Digest> HashPath(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    return ErrnoError(err, StrCat("opening ", path));
  }
  return Sha256Fd(fd.get());
}

}  // namespace

absl::StatusOr<SourceCache> SourceCache::Open(const std::string& root, const std::string& mirror) {
  ONIX_RETURN_IF_ERROR_CTX(MakeDirs(root + "/sha256"), "opening source cache");
  ONIX_RETURN_IF_ERROR_CTX(MakeDirs(root + "/git"), "opening source cache");
  return SourceCache(root, mirror);
}

absl::StatusOr<std::string> SourceCache::FetchArchive(const std::string& url,
                                                      const std::string& sha256) {
  std::string want = sha256;
  std::transform(want.begin(), want.end(), want.begin(), ::tolower);
  const std::string final_path = StrCat(root_, "/sha256/", want);
  if (Exists(final_path)) {
    ONIX_ASSIGN_OR_RETURN(Digest got, HashPath(final_path));
    if (got.Hex() == want) return final_path;
    // A corrupted cache entry is replaced, not trusted.
    ONIX_RETURN_IF_ERROR(fs::UnlinkAt(AT_FDCWD, final_path));
  }
  std::vector<std::string> candidates;
  if (!mirror_.empty()) {
    candidates.push_back(StrCat(mirror_, "/", want));
    candidates.push_back(StrCat(mirror_, "/", BaseName(url)));
  }
  if (url.rfind("file://", 0) == 0) {
    candidates.push_back(url.substr(7));
  } else if (!url.empty() && url[0] == '/') {
    candidates.push_back(url);
  }
  std::string from;
  for (const std::string& c : candidates) {
    if (Exists(c)) {
      from = c;
      break;
    }
  }
  if (from.empty()) {
    return NotFound(StrCat("fetching ", url, ": not in the source cache",
                           mirror_.empty() ? "" : StrCat(" nor in the mirror ", mirror_),
                           " (boulder does not download; fill the mirror or use "
                           "'boulder fetch --from-debian-source')"));
  }
  const std::string tmp = StrCat(root_, "/sha256/.tmp-", ::getpid(), "-", want);
  (void)::unlink(tmp.c_str());
  auto digest = CopyHashing(from, tmp);
  if (!digest.ok()) {
    (void)::unlink(tmp.c_str());
    return Annotate(digest.status(), StrCat("fetching ", url));
  }
  if (digest->Hex() != want) {
    (void)::unlink(tmp.c_str());
    return DataLoss(
        StrCat("fetching ", url, ": sha256 mismatch: recipe says ", want, ", got ", digest->Hex()));
  }
  (void)::chmod(tmp.c_str(), 0444);
  ONIX_RETURN_IF_ERROR(fs::RenameAt(AT_FDCWD, tmp, AT_FDCWD, final_path));
  return final_path;
}

absl::StatusOr<Digest> SourceCache::AddFile(const std::string& path) {
  ONIX_ASSIGN_OR_RETURN(Digest d, HashPath(path));
  auto cached = FetchArchive(StrCat("file://", path), d.Hex());
  if (!cached.ok()) return Annotate(cached.status(), StrCat("adding ", path, " to the cache"));
  return d;
}

absl::StatusOr<std::string> SourceCache::FetchGit(const std::string& url,
                                                  const std::string& commit) {
  InitLibgit2();
  const std::string repo_path = StrCat(root_, "/git/", Sha256Of(url).Hex());
  git_oid oid;
  if (git_oid_fromstr(&oid, commit.c_str()) != 0) {
    return InvalidArgument(StrCat("git upstream ", url, ": bad commit id ", commit));
  }
  git_repository* raw = nullptr;
  if (!Exists(repo_path)) {
    int rc = git_repository_init(&raw, repo_path.c_str(), /*is_bare=*/1);
    if (rc != 0) return GitError(rc, StrCat("creating bare repository ", repo_path));
  } else {
    int rc = git_repository_open_bare(&raw, repo_path.c_str());
    if (rc != 0) return GitError(rc, StrCat("opening ", repo_path));
  }
  RepoPtr repo(raw);
  git_commit* c = nullptr;
  if (git_commit_lookup(&c, repo.get(), &oid) == 0) {
    git_commit_free(c);
    return repo_path;
  }
  // Not here yet: fetch every branch and tag from the upstream (or its mirror copy).
  std::string from = url;
  if (!mirror_.empty()) {
    const std::string local = StrCat(mirror_, "/", BaseName(url));
    if (Exists(local)) from = local;
  }
  git_remote* rr = nullptr;
  int rc = git_remote_create_anonymous(&rr, repo.get(), from.c_str());
  if (rc != 0) return GitError(rc, StrCat("fetching ", url));
  RemotePtr remote(rr);
  char spec1[] = "+refs/heads/*:refs/heads/*";
  char spec2[] = "+refs/tags/*:refs/tags/*";
  char* specs[] = {spec1, spec2};
  git_strarray refspecs = {specs, 2};
  git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
  rc = git_remote_fetch(remote.get(), &refspecs, &opts, nullptr);
  if (rc != 0) return GitError(rc, StrCat("fetching ", url));
  if (git_commit_lookup(&c, repo.get(), &oid) != 0) {
    return NotFound(StrCat("fetching ", url, ": commit ", commit, " is not in the repository"));
  }
  git_commit_free(c);
  return repo_path;
}

absl::StatusOr<Digest> CheckoutGit(const std::string& repo_path, const std::string& commit,
                                   const std::string& dest) {
  InitLibgit2();
  git_repository* raw = nullptr;
  int rc = git_repository_open_bare(&raw, repo_path.c_str());
  if (rc != 0) return GitError(rc, StrCat("opening ", repo_path));
  RepoPtr repo(raw);
  git_oid oid;
  if (git_oid_fromstr(&oid, commit.c_str()) != 0) {
    return InvalidArgument(StrCat("bad commit id ", commit));
  }
  git_commit* c = nullptr;
  rc = git_commit_lookup(&c, repo.get(), &oid);
  if (rc != 0) return GitError(rc, StrCat("looking up commit ", commit));
  CommitPtr cm(c);
  git_tree* t = nullptr;
  rc = git_commit_tree(&t, cm.get());
  if (rc != 0) return GitError(rc, StrCat("reading the tree of ", commit));
  TreePtr tree(t);
  ONIX_RETURN_IF_ERROR(MakeDirs(dest));
  git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
  co.checkout_strategy = GIT_CHECKOUT_FORCE;
  co.target_directory = dest.c_str();
  rc = git_checkout_tree(repo.get(), reinterpret_cast<const git_object*>(tree.get()), &co);
  if (rc != 0) return GitError(rc, StrCat("checking out ", commit, " into ", dest));
  // The checkout's digest: every path (sorted), its mode class and its content.
  std::vector<std::string> paths;
  boost::system::error_code ec;
  for (boost::filesystem::recursive_directory_iterator it(dest, ec), end; !ec && it != end;
       it.increment(ec)) {
    paths.push_back(it->path().lexically_relative(dest).string());
  }
  if (ec) return ErrnoError(ec.value(), StrCat("listing ", dest));
  std::sort(paths.begin(), paths.end());
  Sha256 h;
  for (const std::string& p : paths) {
    const std::string full = StrCat(dest, "/", p);
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0) {
      const int err = errno;
      return ErrnoError(err, StrCat("stat ", full));
    }
    const char* kind = S_ISDIR(st.st_mode)   ? "d"
                       : S_ISLNK(st.st_mode) ? "l"
                       : (st.st_mode & 0111) ? "x"
                                             : "f";
    h.Update(p);
    h.Update("", 1);
    h.Update(kind);
    h.Update("", 1);
    if (S_ISREG(st.st_mode)) {
      ONIX_ASSIGN_OR_RETURN(Digest d, HashPath(full));
      h.Update(d.bytes.data(), d.bytes.size());
    } else if (S_ISLNK(st.st_mode)) {
      ONIX_ASSIGN_OR_RETURN(std::string target, fs::ReadLinkAt(AT_FDCWD, full));
      h.Update(target);
    }
  }
  return h.Finish();
}

absl::Status UnpackArchive(const std::string& archive, const std::string& dest,
                           int strip_components) {
  ONIX_RETURN_IF_ERROR(MakeDirs(dest));
  auto r = RunCommandOk({"tar", "-x", "--no-same-owner", "--no-same-permissions", "-f", archive,
                         "-C", dest, StrCat("--strip-components=", strip_components)});
  if (!r.ok()) return Annotate(r.status(), StrCat("unpacking ", archive));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> FetchDebianSource(SourceCache& cache,
                                                           const std::string& mirror,
                                                           const std::string& package) {
  ONIX_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make("boulder-apt-"));
  auto out = RunCommandOk({"apt-get", "source", "--download-only", package}, tmp.path());
  if (!out.ok()) return Annotate(out.status(), StrCat("fetching Debian source of ", package));
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(tmp.fd()));
  std::stable_partition(names.begin(), names.end(), [](const std::string& n) {
    return n.find(".orig.tar.") != std::string::npos;
  });
  std::vector<std::string> lines;
  for (const std::string& n : names) {
    const std::string p = StrCat(tmp.path(), "/", n);
    ONIX_ASSIGN_OR_RETURN(Digest d, cache.AddFile(p));
    if (!mirror.empty()) {
      ONIX_RETURN_IF_ERROR(MakeDirs(mirror));
      const std::string m = StrCat(mirror, "/", n);
      if (!Exists(m)) {
        auto copied = CopyHashing(p, m);
        if (!copied.ok()) return copied.status();
      }
    }
    lines.push_back(StrCat(n, " ", d.Hex()));
  }
  if (lines.empty()) return NotFound(StrCat("apt-get source ", package, " downloaded nothing"));
  return lines;
}

}  // namespace onix::boulder

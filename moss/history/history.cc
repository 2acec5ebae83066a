#include "moss/history/history.h"

#include <algorithm>

#include "moss/base/c_free.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::moss::history {
namespace {

using TreeBuilderPtr = std::unique_ptr<git_treebuilder, CFree<git_treebuilder_free>>;
using CommitPtr = std::unique_ptr<git_commit, CFree<git_commit_free>>;
using TreePtr = std::unique_ptr<git_tree, CFree<git_tree_free>>;
using RefPtr = std::unique_ptr<git_reference, CFree<git_reference_free>>;
using SigPtr = std::unique_ptr<git_signature, CFree<git_signature_free>>;

absl::Status GitError(int rc, std::string_view what) {
  const git_error* e = git_error_last();
  return Internal(StrCat(what, ": ", e && e->message ? e->message : "libgit2 error ", rc));
}

std::string StateRef(std::string_view fstx) { return StrCat("refs/states/", fstx); }

// Loose objects written in its scope are not fsynced one by one (a first install writes a blob
// per package: ~1,500 fsyncs at the medium size); Sync() makes them durable together with one
// syncfs before any ref may name them. Refs keep their own fsync (InitLibgit2Once).
class BatchedObjectWrites {
 public:
  explicit BatchedObjectWrites(git_repository* repo) : repo_(repo) {
    git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 0);
  }
  ~BatchedObjectWrites() { git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1); }
  BatchedObjectWrites(const BatchedObjectWrites&) = delete;
  BatchedObjectWrites& operator=(const BatchedObjectWrites&) = delete;

  absl::Status Sync() {
    git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
    const char* dir = git_repository_path(repo_);
    ONIX_ASSIGN_OR_RETURN(UniqueFd fd, fs::OpenDir(dir));
    return fs::SyncFs(fd.get());
  }

 private:
  git_repository* repo_;
};

// Writes a tree for `files` (already relative to this level) and returns its id.
absl::StatusOr<git_oid> WriteTree(git_repository* repo,
                                  const std::map<std::string, std::string>& files) {
  git_treebuilder* raw = nullptr;
  int rc = git_treebuilder_new(&raw, repo, nullptr);
  if (rc != 0) return GitError(rc, "creating a tree");
  TreeBuilderPtr tb(raw);
  std::map<std::string, std::map<std::string, std::string>> subdirs;
  for (const auto& [path, content] : files) {
    const size_t slash = path.find('/');
    if (slash != std::string::npos) {
      subdirs[path.substr(0, slash)][path.substr(slash + 1)] = content;
      continue;
    }
    git_oid blob;
    rc = git_blob_create_from_buffer(&blob, repo, content.data(), content.size());
    if (rc != 0) return GitError(rc, StrCat("writing blob ", path));
    rc = git_treebuilder_insert(nullptr, tb.get(), path.c_str(), &blob, GIT_FILEMODE_BLOB);
    if (rc != 0) return GitError(rc, StrCat("adding ", path, " to a tree"));
  }
  for (const auto& [dir, sub] : subdirs) {
    ONIX_ASSIGN_OR_RETURN(git_oid sub_oid, WriteTree(repo, sub));
    rc = git_treebuilder_insert(nullptr, tb.get(), dir.c_str(), &sub_oid, GIT_FILEMODE_TREE);
    if (rc != 0) return GitError(rc, StrCat("adding ", dir, " to a tree"));
  }
  git_oid out;
  rc = git_treebuilder_write(&out, tb.get());
  if (rc != 0) return GitError(rc, "writing a tree");
  return out;
}

absl::StatusOr<std::optional<git_oid>> RefTarget(git_repository* repo, const std::string& name) {
  git_oid oid;
  const int rc = git_reference_name_to_id(&oid, repo, name.c_str());
  if (rc == GIT_ENOTFOUND) return std::optional<git_oid>();
  if (rc != 0) return GitError(rc, StrCat("reading ref ", name));
  return std::optional<git_oid>(oid);
}

std::string OidHex(const git_oid& oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof(buf), &oid);
  return buf;
}

// libgit2's global state, set up once per process and never torn down: its initialisation
// also loads the system CA certificates for its TLS stream (~20 ms, Debian's mbedTLS build),
// which an init/shutdown pair per opened root paid on every state switch.
void InitLibgit2Once() {
  static const bool done = [] {
    git_libgit2_init();
    // libgit2 does not fsync by default: a power cut after a commit left a zero-length loose
    // ref (refs/states/<fstx>) that every later `moss state recover` failed on (VM scenario
    // power-cut-during-transaction). With this, objects, refs and the index are fsynced.
    git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
    return true;
  }();
  (void)done;
}

}  // namespace

absl::StatusOr<History> History::Open(const std::string& git_dir) {
  InitLibgit2Once();
  git_repository* raw = nullptr;
  int rc = git_repository_open_bare(&raw, git_dir.c_str());
  if (rc == GIT_ENOTFOUND) {
    git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
    opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
    opts.initial_head = "active";
    rc = git_repository_init_ext(&raw, git_dir.c_str(), &opts);
  }
  if (rc != 0) return GitError(rc, StrCat("opening history ", git_dir));
  return History(raw);
}

History History::Unavailable(absl::Status why) {
  History h(nullptr);
  h.unavailable_ = std::move(why);
  return h;
}

History::~History() = default;

absl::StatusOr<std::string> History::CommitState(std::string_view fstx,
                                                 const std::map<std::string, std::string>& files,
                                                 std::string_view message,
                                                 std::string_view parent_fstx, int64_t when_unix) {
  if (!repo_) return unavailable_;
  const std::string what = StrCat("committing state ", fstx, " to history");
  git_repository* repo = repo_.get();
  BatchedObjectWrites batch(repo);
  ONIX_ASSIGN_OR_RETURN(git_oid tree_oid, WriteTree(repo, files));
  ONIX_ASSIGN_OR_RETURN(std::optional<git_oid> existing, RefTarget(repo, StateRef(fstx)));
  if (existing) {
    git_commit* raw = nullptr;
    if (git_commit_lookup(&raw, repo, &*existing) == 0) {
      CommitPtr c(raw);
      if (git_oid_equal(git_commit_tree_id(c.get()), &tree_oid)) return OidHex(*existing);
    }
  }
  git_tree* raw_tree = nullptr;
  int rc = git_tree_lookup(&raw_tree, repo, &tree_oid);
  if (rc != 0) return GitError(rc, what);
  TreePtr tree(raw_tree);
  CommitPtr parent;
  if (!parent_fstx.empty()) {
    ONIX_ASSIGN_OR_RETURN(std::optional<git_oid> p, RefTarget(repo, StateRef(parent_fstx)));
    if (p) {
      git_commit* raw = nullptr;
      rc = git_commit_lookup(&raw, repo, &*p);
      if (rc != 0) return GitError(rc, what);
      parent.reset(raw);
    }
  }
  git_signature* raw_sig = nullptr;
  rc = git_signature_new(&raw_sig, "moss", "moss@onix", when_unix, 0);
  if (rc != 0) return GitError(rc, what);
  SigPtr sig(raw_sig);
  const git_commit* parents[1] = {parent.get()};
  git_oid commit;
  const std::string msg(message);
  rc = git_commit_create(&commit, repo, nullptr, sig.get(), sig.get(), "UTF-8", msg.c_str(),
                         tree.get(), parent ? 1 : 0, parents);
  if (rc != 0) return GitError(rc, what);
  ONIX_RETURN_IF_ERROR_CTX(batch.Sync(), what);
  git_reference* raw_ref = nullptr;
  const std::string ref = StateRef(fstx);
  rc = git_reference_create(&raw_ref, repo, ref.c_str(), &commit, /*force=*/1, msg.c_str());
  if (rc != 0) return GitError(rc, what);
  RefPtr owned(raw_ref);
  return OidHex(commit);
}

absl::Status History::SetActive(std::string_view fstx) {
  if (!repo_) return unavailable_;
  ONIX_ASSIGN_OR_RETURN(std::optional<git_oid> target, RefTarget(repo_.get(), StateRef(fstx)));
  if (!target) return NotFound(StrCat("history has no commit for state ", fstx));
  // Already there (every recovery check re-asserts the active state): no ref write, no
  // reflog line, no fsync.
  ONIX_ASSIGN_OR_RETURN(std::optional<git_oid> current,
                        RefTarget(repo_.get(), "refs/heads/active"));
  if (current && git_oid_equal(&*current, &*target)) return absl::OkStatus();
  git_reference* raw = nullptr;
  const std::string log = StrCat("activate ", fstx);
  const int rc =
      git_reference_create(&raw, repo_.get(), "refs/heads/active", &*target, 1, log.c_str());
  if (rc != 0) return GitError(rc, StrCat("pointing history's active ref at ", fstx));
  RefPtr owned(raw);
  return absl::OkStatus();
}

absl::Status History::DropState(std::string_view fstx) {
  if (!repo_) return unavailable_;
  git_reference* raw = nullptr;
  const std::string ref = StateRef(fstx);
  int rc = git_reference_lookup(&raw, repo_.get(), ref.c_str());
  if (rc == GIT_ENOTFOUND) return absl::OkStatus();
  if (rc != 0) return GitError(rc, StrCat("dropping history ref of ", fstx));
  RefPtr owned(raw);
  rc = git_reference_delete(owned.get());
  if (rc != 0) return GitError(rc, StrCat("dropping history ref of ", fstx));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> History::CommitOf(std::string_view fstx) {
  if (!repo_) return unavailable_;
  ONIX_ASSIGN_OR_RETURN(std::optional<git_oid> target, RefTarget(repo_.get(), StateRef(fstx)));
  if (!target) return std::optional<std::string>();
  return std::optional<std::string>(OidHex(*target));
}

absl::StatusOr<std::vector<std::string>> History::StateRefs() {
  if (!repo_) return unavailable_;
  git_strarray refs = {nullptr, 0};
  const int rc = git_reference_list(&refs, repo_.get());
  if (rc != 0) return GitError(rc, "listing history refs");
  std::vector<std::string> out;
  constexpr std::string_view kPrefix = "refs/states/";
  for (size_t i = 0; i < refs.count; ++i) {
    std::string_view name = refs.strings[i];
    if (name.substr(0, kPrefix.size()) == kPrefix) out.emplace_back(name.substr(kPrefix.size()));
  }
  git_strarray_dispose(&refs);
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::string> History::MessageOf(std::string_view fstx) {
  if (!repo_) return unavailable_;
  ONIX_ASSIGN_OR_RETURN(std::optional<git_oid> target, RefTarget(repo_.get(), StateRef(fstx)));
  if (!target) return NotFound(StrCat("history has no commit for state ", fstx));
  git_commit* raw = nullptr;
  const int rc = git_commit_lookup(&raw, repo_.get(), &*target);
  if (rc != 0) return GitError(rc, StrCat("reading history of ", fstx));
  CommitPtr c(raw);
  return std::string(git_commit_message(c.get()));
}

}  // namespace onix::moss::history

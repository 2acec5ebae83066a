// The audit trail of a machine root: a bare git repository (ROOT/.moss/history.git) written
// with libgit2, one commit per state, readable with plain `git log --stat`.
#pragma once

#include <git2.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace onix::moss::history {

// Refs: "refs/states/<fstx>" for every retained state and "refs/heads/active" (HEAD points
// at it, so `git log` with no arguments shows the active state's ancestry).
class History {
 public:
  // Opens the bare repository at `git_dir`, creating it (HEAD -> refs/heads/active) when
  // missing.
  static absl::StatusOr<History> Open(const std::string& git_dir);

  // A history that could not be opened (a damaged or unreadable history.git): every call
  // returns `why`. The audit trail is never a reason for a root to stop working, so the
  // machine root keeps one of these and the post-commit phases warn instead.
  static History Unavailable(absl::Status why);
  // Whether Open succeeded (false for Unavailable).
  bool available() const { return repo_ != nullptr; }

  History(History&&) = default;
  History& operator=(History&&) = default;
  ~History();

  // Commits a state: a tree of `files` (path -> content; "a/b" makes a subtree), the
  // message, the commit of `parent_fstx` as parent when it has a ref, author "moss", time
  // `when_unix`. Sets refs/states/<fstx>. Idempotent: when the ref already exists with the
  // same tree, nothing changes. Returns the commit id (hex). The ref update is libgit2's
  // lock-file + rename, so a crash leaves the old ref or the new one.
  absl::StatusOr<std::string> CommitState(std::string_view fstx,
                                          const std::map<std::string, std::string>& files,
                                          std::string_view message, std::string_view parent_fstx,
                                          int64_t when_unix);
  // Points refs/heads/active at the commit of `fstx` (NotFound when it has none).
  absl::Status SetActive(std::string_view fstx);
  // Deletes refs/states/<fstx> (missing is OK). Commits stay reachable from descendants.
  absl::Status DropState(std::string_view fstx);
  // The commit id of refs/states/<fstx>, if any.
  absl::StatusOr<std::optional<std::string>> CommitOf(std::string_view fstx);
  // The fstx names of every refs/states/* ref, sorted.
  absl::StatusOr<std::vector<std::string>> StateRefs();
  // The commit message of `fstx`'s commit.
  absl::StatusOr<std::string> MessageOf(std::string_view fstx);

 private:
  struct RepoFree {
    void operator()(git_repository* r) const noexcept { git_repository_free(r); }
  };
  explicit History(git_repository* repo) : repo_(repo) {}

  std::unique_ptr<git_repository, RepoFree> repo_;
  absl::Status unavailable_;  // why repo_ is null
};

}  // namespace onix::moss::history

// An opened machine root: ROOT's fds, its lock, store, database and history, and the
// queries every moss command shares (active state, retained states, a state's layout).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "moss/base/fd.h"
#include "moss/base/file_lock.h"
#include "moss/db/db.h"
#include "moss/history/history.h"
#include "moss/state/layout.h"
#include "moss/state/manifest.h"
#include "moss/store/store.h"

namespace onix::moss::transaction {

// A state that exists on disk. Also what the boot hook receives (boot/bls StateBootInfo).
struct RetainedState {
  uint64_t number = 0;
  std::string fstx;
  std::string usr_dir;  // absolute path of the state's usr tree
  int64_t created_unix = 0;
  bool active = false;
  std::string summary;
  std::string parent_fstx;
};

enum class Access {
  kRead,   // queries, for any user: no lock, the database opened read-only (Db::OpenReadOnly:
           // nothing written, an old schema refused); NotFound when ROOT has no /.moss
  kWrite,  // transactions: creates the /.moss skeleton and holds ROOT/.moss/lock
};

class MachineRoot {
 public:
  // Opens the machine root `path` (a directory). kWrite takes the lock: with kWait a busy
  // lock prints one "waiting" line to stderr and blocks; with kFail it is Unavailable naming
  // the holder's pid.
  static absl::StatusOr<MachineRoot> Open(const std::string& path, Access access,
                                          LockWait wait = LockWait::kWait);

  MachineRoot(MachineRoot&&) = default;
  MachineRoot& operator=(MachineRoot&&) = default;

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }
  int moss_fd() const { return moss_fd_.get(); }
  // ROOT/.moss/root: staging and archived states.
  int states_fd() const { return states_fd_.get(); }
  bool writable() const { return lock_ != nullptr; }
  store::Store& store() { return *store_; }
  db::Db& db() { return *db_; }
  history::History& history() { return *history_; }

  // The fstx named by ROOT/usr/.fstx; nullopt when ROOT/usr is missing or not a moss tree.
  absl::StatusOr<std::optional<std::string>> ActiveFstx();
  // The active state's record; nullopt before the first transaction.
  absl::StatusOr<std::optional<db::StateRecord>> ActiveState();
  // Committed states whose tree exists, oldest first.
  absl::StatusOr<std::vector<RetainedState>> RetainedStates();
  // Finds a committed state by "N" or "N-xxxx": InvalidArgument for a malformed id,
  // NotFound naming it when no state matches.
  absl::StatusOr<db::StateRecord> ResolveState(std::string_view id);
  // Absolute path of the usr tree of `fstx`, active or archived.
  std::string UsrDirOf(std::string_view fstx, bool active) const;
  // Relative to states_fd(): "<fstx>/usr".
  static std::string ArchivedUsr(std::string_view fstx);

  absl::StatusOr<state::Manifest> ManifestOf(const db::StateRecord& state);
  // The merged layout of a manifest, from the database.
  absl::StatusOr<std::vector<state::OwnedEntry>> LayoutOf(const state::Manifest& manifest);
  // The same as DiffLayouts of the two states' merged layouts (from = nullopt: no state),
  // reading only the layouts of the packages they do not share (`packages`, from
  // db::Db::DiffPackageSets), plus the owners of those packages' directories where a shared
  // package could decide them: an activation costs the size of the change, not of the trees.
  absl::StatusOr<state::LayoutDiff> DiffStates(std::optional<uint64_t> from, uint64_t to,
                                               const db::PackageSetDiff& packages);

 private:
  MachineRoot() = default;

  std::string path_;
  UniqueFd fd_, moss_fd_, states_fd_;
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<db::Db> db_;
  std::unique_ptr<history::History> history_;
};

}  // namespace onix::moss::transaction

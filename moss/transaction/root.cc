#include "moss/transaction/root.h"

#include <cstdio>
#include <map>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/state/fstx.h"
#include "moss/state/tree.h"

namespace onix::moss::transaction {
namespace {

absl::Status EnsureDir(int dirfd, std::string_view name) {
  absl::Status s = fs::MkdirAt(dirfd, name, 0755);
  if (absl::IsAlreadyExists(s)) return absl::OkStatus();
  return s;
}

}  // namespace

absl::StatusOr<MachineRoot> MachineRoot::Open(const std::string& path, Access access,
                                              LockWait wait) {
  const std::string what = StrCat("opening machine root ", path);
  MachineRoot r;
  r.path_ = path;
  while (r.path_.size() > 1 && r.path_.back() == '/') r.path_.pop_back();
  ONIX_ASSIGN_OR_RETURN(r.fd_, fs::OpenDir(r.path_));
  if (access == Access::kWrite) {
    ONIX_RETURN_IF_ERROR_CTX(EnsureDir(r.fd_.get(), ".moss"), what);
  }
  absl::StatusOr<UniqueFd> moss = fs::OpenDirAt(r.fd_.get(), ".moss");
  if (absl::IsNotFound(moss.status())) {
    return NotFound(StrCat(what, ": no .moss directory (moss has not installed anything here)"));
  }
  if (!moss.ok()) return Annotate(moss.status(), what);
  r.moss_fd_ = std::move(*moss);
  if (access == Access::kWrite) {
    absl::StatusOr<FileLock> lock = FileLock::Acquire(r.moss_fd_.get(), "lock", LockWait::kFail);
    if (absl::IsUnavailable(lock.status()) && wait == LockWait::kWait) {
      std::fprintf(stderr, "moss: waiting for the lock on %s/.moss: %s\n", r.path_.c_str(),
                   std::string(lock.status().message()).c_str());
      lock = FileLock::Acquire(r.moss_fd_.get(), "lock", LockWait::kWait);
    }
    if (!lock.ok()) return Annotate(lock.status(), what);
    r.lock_ = std::make_unique<FileLock>(std::move(*lock));
    for (const char* d : {"root", "db", "cache", "cache/stones"}) {
      ONIX_RETURN_IF_ERROR_CTX(EnsureDir(r.moss_fd_.get(), d), what);
    }
  }
  ONIX_ASSIGN_OR_RETURN(r.states_fd_, fs::OpenDirAt(r.moss_fd_.get(), "root"));
  ONIX_ASSIGN_OR_RETURN(store::Store store, store::Store::Open(r.moss_fd_.get()));
  r.store_ = std::make_unique<store::Store>(std::move(store));
  ONIX_ASSIGN_OR_RETURN(db::Db db, db::Db::Open(StrCat(r.path_, "/.moss/db/moss.sqlite")));
  r.db_ = std::make_unique<db::Db>(std::move(db));
  ONIX_ASSIGN_OR_RETURN(history::History h,
                        history::History::Open(StrCat(r.path_, "/.moss/history.git")));
  r.history_ = std::make_unique<history::History>(std::move(h));
  return r;
}

absl::StatusOr<std::optional<std::string>> MachineRoot::ActiveFstx() {
  absl::StatusOr<UniqueFd> usr = fs::OpenDirAt(fd(), "usr");
  if (absl::IsNotFound(usr.status())) return std::optional<std::string>();
  if (!usr.ok()) return usr.status();
  absl::StatusOr<state::TreeId> id = state::ReadTreeId(usr->get());
  if (absl::IsNotFound(id.status())) return std::optional<std::string>();
  if (!id.ok()) return Annotate(id.status(), StrCat("reading ", path_, "/usr/.fstx"));
  return std::optional<std::string>(id->fstx);
}

absl::StatusOr<std::optional<db::StateRecord>> MachineRoot::ActiveState() {
  ONIX_ASSIGN_OR_RETURN(std::optional<std::string> fstx, ActiveFstx());
  if (!fstx) return std::optional<db::StateRecord>();
  ONIX_ASSIGN_OR_RETURN(state::Fstx id, state::Fstx::Parse(*fstx));
  ONIX_ASSIGN_OR_RETURN(std::optional<db::StateRecord> rec, db_->GetState(id.number));
  if (!rec || rec->fstx != *fstx) {
    return FailedPrecondition(StrCat(path_, "/usr is state ", *fstx,
                                     " but the database does not know it; run moss state verify"));
  }
  return rec;
}

std::string MachineRoot::ArchivedUsr(std::string_view fstx) { return StrCat(fstx, "/usr"); }

std::string MachineRoot::UsrDirOf(std::string_view fstx, bool active) const {
  return active ? StrCat(path_, "/usr") : StrCat(path_, "/.moss/root/", fstx, "/usr");
}

absl::StatusOr<std::vector<RetainedState>> MachineRoot::RetainedStates() {
  ONIX_ASSIGN_OR_RETURN(std::optional<std::string> active, ActiveFstx());
  ONIX_ASSIGN_OR_RETURN(std::vector<db::StateRecord> states, db_->States());
  std::vector<RetainedState> out;
  for (const auto& s : states) {
    const bool is_active = active && *active == s.fstx;
    if (!is_active) {
      ONIX_ASSIGN_OR_RETURN(bool exists, fs::ExistsAt(states_fd(), ArchivedUsr(s.fstx)));
      if (!exists) continue;
    }
    out.push_back({s.number, s.fstx, UsrDirOf(s.fstx, is_active), s.created_unix, is_active,
                   s.summary, s.parent_fstx});
  }
  return out;
}

absl::StatusOr<db::StateRecord> MachineRoot::ResolveState(std::string_view id) {
  ONIX_ASSIGN_OR_RETURN(state::Fstx query, state::Fstx::Parse(id));
  ONIX_ASSIGN_OR_RETURN(std::optional<db::StateRecord> rec, db_->GetState(query.number));
  if (rec && rec->committed) {
    ONIX_ASSIGN_OR_RETURN(state::Fstx full, state::Fstx::Parse(rec->fstx));
    if (query.Names(full)) return *rec;
  }
  return NotFound(StrCat("no state ", id, " in ", path_, " (see moss state list)"));
}

absl::StatusOr<state::Manifest> MachineRoot::ManifestOf(const db::StateRecord& st) {
  absl::StatusOr<std::string> json = db_->ManifestJson(st.number);
  if (!json.ok()) return Annotate(json.status(), StrCat("reading state ", st.fstx));
  absl::StatusOr<state::Manifest> m = state::Manifest::FromJson(*json);
  if (!m.ok()) return Annotate(m.status(), StrCat("reading state ", st.fstx));
  return m;
}

absl::StatusOr<std::vector<state::OwnedEntry>> MachineRoot::LayoutOf(
    const state::Manifest& manifest) {
  std::vector<db::LayoutPtr> layouts;
  layouts.reserve(manifest.packages.size());
  for (const auto& p : manifest.packages) {
    ONIX_ASSIGN_OR_RETURN(db::LayoutPtr l, db_->Layout(p.stone_digest));
    layouts.push_back(std::move(l));
  }
  std::vector<state::PackageLayout> in;
  for (size_t i = 0; i < layouts.size(); ++i) {
    in.push_back({manifest.packages[i].meta.name, layouts[i].get()});
  }
  return state::MergeLayouts(in);
}

absl::StatusOr<state::LayoutDiff> MachineRoot::DiffStates(std::optional<uint64_t> from, uint64_t to,
                                                          const db::PackageSetDiff& packages) {
  // Only the packages the states do not share can make a path differ. A file or symlink has
  // one owner per state, so theirs are exact. A directory may also come from a shared
  // package, and the merged entry is its first owner by name (MergeLayouts over the
  // name-sorted manifest): see the walk below for when that needs the database.
  auto side = [&](const std::vector<db::PackageRow>& rows)
      -> absl::StatusOr<std::vector<state::OwnedEntry>> {
    std::vector<db::LayoutPtr> layouts;
    for (const auto& p : rows) {
      ONIX_ASSIGN_OR_RETURN(db::LayoutPtr l, db_->Layout(p.stone_digest));
      layouts.push_back(std::move(l));
    }
    std::vector<state::PackageLayout> in;
    for (size_t i = 0; i < layouts.size(); ++i) in.push_back({rows[i].name, layouts[i].get()});
    return state::MergeLayouts(in);
  };
  ONIX_ASSIGN_OR_RETURN(std::vector<state::OwnedEntry> gone, side(packages.only_in_from));
  ONIX_ASSIGN_OR_RETURN(std::vector<state::OwnedEntry> come, side(packages.only_in_to));
  auto owner_entry =
      [&](uint64_t number,
          const std::string& path) -> absl::StatusOr<std::optional<stone::LayoutEntry>> {
    ONIX_ASSIGN_OR_RETURN(std::vector<db::PathOwner> owners, db_->FindPath(number, path));
    if (owners.empty()) return std::optional<stone::LayoutEntry>();
    return std::optional<stone::LayoutEntry>(owners.front().entry);
  };
  state::LayoutDiff d;
  size_t i = 0, j = 0;
  while (i < gone.size() || j < come.size()) {
    const int c = i == gone.size()   ? 1
                  : j == come.size() ? -1
                                     : gone[i].entry.path.compare(come[j].entry.path);
    const state::OwnedEntry* a = c <= 0 ? &gone[i] : nullptr;
    const state::OwnedEntry* b = c >= 0 ? &come[j] : nullptr;
    const std::string& path = a ? a->entry.path : b->entry.path;
    std::optional<stone::LayoutEntry> x, y;
    if (a) x = a->entry;
    if (b) y = b->entry;
    const bool directory = (a && a->entry.kind == stone::FileKind::kDirectory) ||
                           (b && b->entry.kind == stone::FileKind::kDirectory);
    // The same package on both sides with the same entry (an update that kept the
    // directory): whichever shared package may sort before it is in both states too, so both
    // merged entries are the same. That is the common case ("lib", "share"), and it is
    // settled without asking the database which of a thousand owners comes first.
    const bool kept = a && b && a->package == b->package && a->entry == b->entry;
    // A directory on one side only whose other state ships no such path at all (a package's
    // own directory, added or removed with it) is settled by one indexed probe.
    bool settled = kept;
    if (directory && !settled && a && !b) {
      ONIX_ASSIGN_OR_RETURN(const bool shipped, db_->StateShipsPath(to, path));
      settled = !shipped;
    } else if (directory && !settled && b && !a) {
      bool shipped = false;
      if (from) {
        ONIX_ASSIGN_OR_RETURN(shipped, db_->StateShipsPath(*from, path));
      }
      settled = !shipped;
    }
    // In both states (a shipped it, or a shared package does in both) and every stone ships
    // the same entry: unchanged, whichever owner comes first.
    if (directory && !settled) {
      ONIX_ASSIGN_OR_RETURN(const bool agree, db_->DirectoryOwnersAgree(path));
      if (agree) {
        x.reset();
        y.reset();
        settled = true;
      }
    }
    if (directory && !settled) {
      if (from) {
        ONIX_ASSIGN_OR_RETURN(x, owner_entry(*from, path));
      }
      ONIX_ASSIGN_OR_RETURN(y, owner_entry(to, path));
    }
    if (x && !y) {
      d.removed.push_back(path);
    } else if (!x && y) {
      d.added.push_back(path);
    } else if (x && y && !(*x == *y)) {
      d.changed.push_back(path);
    }
    if (a) ++i;
    if (b) ++j;
  }
  return d;
}

}  // namespace onix::moss::transaction

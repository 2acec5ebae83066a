#include "moss/transaction/root.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/state/fstx.h"
#include "moss/state/tree.h"
#include "moss/stone/format.h"

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
  // Queries open the database read-only, so they work for any user and never migrate it.
  const std::string db_path = StrCat(r.path_, "/.moss/db/moss.sqlite");
  ONIX_ASSIGN_OR_RETURN(
      db::Db db, access == Access::kWrite ? db::Db::Open(db_path) : db::Db::OpenReadOnly(db_path));
  r.db_ = std::make_unique<db::Db>(std::move(db));
  // A history that does not open (damaged history.git) must not lock the admin out of the
  // machine: every history step then fails on its own and is skipped with a warning.
  absl::StatusOr<history::History> h =
      history::History::Open(StrCat(r.path_, "/.moss/history.git"));
  r.history_ = std::make_unique<history::History>(
      h.ok() ? std::move(*h)
             : history::History::Unavailable(
                   Annotate(h.status(),
                            "the history is unavailable (move .moss/history.git away and "
                            "the next moss command starts a new one)")));
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

namespace {

using stone::internal::LayoutRecord;

// The packages one state has and the other lacks, with their layouts read in place.
struct ChangedPackage {
  const db::PackageRow* row = nullptr;
  db::EncodedLayout encoded;
  std::vector<LayoutRecord> records;  // sorted by path, pointing into `encoded`
  // A file or symlink the other side's package of the same name ships identically: its path
  // cannot differ (it has one owner per state), so the diff skips it.
  std::vector<bool> kept;
};

absl::StatusOr<std::vector<ChangedPackage>> ReadChanged(db::Db& db,
                                                        const std::vector<db::PackageRow>& rows) {
  std::vector<ChangedPackage> out(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    ChangedPackage& p = out[i];
    p.row = &rows[i];
    ONIX_ASSIGN_OR_RETURN(p.encoded, db.EncodedLayoutOf(rows[i].stone_digest));
    absl::StatusOr<std::vector<LayoutRecord>> records =
        stone::internal::DecodeLayoutRecords(p.encoded.bytes, p.encoded.count);
    if (!records.ok()) {
      return DataLoss(StrCat("layout of ", rows[i].name, " ", rows[i].version_release, ": ",
                             records.status().message()));
    }
    p.records = *std::move(records);
    auto by_path = [](const LayoutRecord& a, const LayoutRecord& b) { return a.path < b.path; };
    if (!std::is_sorted(p.records.begin(), p.records.end(), by_path)) {
      std::stable_sort(p.records.begin(), p.records.end(), by_path);
    }
    p.kept.assign(p.records.size(), false);
  }
  return out;
}

// Marks the files and symlinks an update left as they were: the same path with the same
// entry in the old and the new stone of one package name. Both sides are sorted by name, each
// layout by path, so this is one merge walk per updated package.
void MarkKept(std::vector<ChangedPackage>& gone, std::vector<ChangedPackage>& come) {
  size_t i = 0, j = 0;
  while (i < gone.size() && j < come.size()) {
    const int c = gone[i].row->name.compare(come[j].row->name);
    if (c < 0) {
      ++i;
    } else if (c > 0) {
      ++j;
    } else {
      ChangedPackage& a = gone[i++];
      ChangedPackage& b = come[j++];
      size_t x = 0, y = 0;
      while (x < a.records.size() && y < b.records.size()) {
        const int p = a.records[x].path.compare(b.records[y].path);
        if (p < 0) {
          ++x;
        } else if (p > 0) {
          ++y;
        } else {
          if (a.records[x].kind != stone::FileKind::kDirectory && a.records[x] == b.records[y]) {
            a.kept[x] = b.kept[y] = true;
          }
          ++x;
          ++y;
        }
      }
    }
  }
}

// The records of one side that are not kept, sorted by path; where packages share a path (a
// directory), the first package by name owns it, as in state::MergeLayouts.
struct SideRecord {
  const LayoutRecord* record;
  const ChangedPackage* package;  // into the side's vector, which is in name order
};

std::vector<SideRecord> MergeSide(const std::vector<ChangedPackage>& side) {
  // Each package's records are one sorted run: merging the runs pairwise compares each
  // record about log2(packages) times, half of what sorting them all would.
  std::vector<SideRecord> all;
  std::vector<size_t> run_starts;
  for (const auto& p : side) {
    run_starts.push_back(all.size());
    for (size_t k = 0; k < p.records.size(); ++k) {
      if (!p.kept[k]) all.push_back({&p.records[k], &p});
    }
  }
  run_starts.push_back(all.size());
  auto before = [](const SideRecord& x, const SideRecord& y) {
    const int c = x.record->path.compare(y.record->path);
    return c != 0 ? c < 0 : x.package < y.package;
  };
  for (size_t width = 1; width + 1 < run_starts.size(); width *= 2) {
    for (size_t i = 0; i + width + 1 < run_starts.size(); i += 2 * width) {
      const size_t mid = run_starts[i + width];
      const size_t last = run_starts[std::min(i + 2 * width, run_starts.size() - 1)];
      std::inplace_merge(all.begin() + run_starts[i], all.begin() + mid, all.begin() + last,
                         before);
    }
  }
  std::vector<SideRecord> out;
  out.reserve(all.size());
  for (const SideRecord& r : all) {
    if (out.empty() || out.back().record->path != r.record->path) out.push_back(r);
  }
  return out;
}

}  // namespace

absl::StatusOr<state::LayoutDiff> MachineRoot::DiffStates(std::optional<uint64_t> from, uint64_t to,
                                                          const db::PackageSetDiff& packages) {
  // Only the packages the states do not share can make a path differ, and of an updated
  // package only the records its new stone does not repeat. A file or symlink has one owner
  // per state, so its records are exact. A directory may also come from a shared package,
  // and a state's entry for it is its first owner by name (MergeLayouts over the name-sorted
  // manifest): see the walk below for when that needs the database.
  ONIX_ASSIGN_OR_RETURN(std::vector<ChangedPackage> gone_packages,
                        ReadChanged(*db_, packages.only_in_from));
  ONIX_ASSIGN_OR_RETURN(std::vector<ChangedPackage> come_packages,
                        ReadChanged(*db_, packages.only_in_to));
  // A kept file or symlink is unchanged: in each state its one owner is that package.
  MarkKept(gone_packages, come_packages);
  const std::vector<SideRecord> gone = MergeSide(gone_packages);
  const std::vector<SideRecord> come = MergeSide(come_packages);

  auto owner_entry =
      [&](uint64_t number,
          std::string_view path) -> absl::StatusOr<std::optional<stone::LayoutEntry>> {
    ONIX_ASSIGN_OR_RETURN(std::vector<db::PathOwner> owners, db_->FindPath(number, path));
    if (owners.empty()) return std::optional<stone::LayoutEntry>();
    return std::optional<stone::LayoutEntry>(owners.front().entry);
  };
  state::LayoutDiff d;
  auto classify = [&](std::string_view path, bool in_from, bool in_to, bool equal) {
    if (in_from && !in_to) {
      d.removed.emplace_back(path);
    } else if (!in_from && in_to) {
      d.added.emplace_back(path);
    } else if (in_from && in_to && !equal) {
      d.changed.emplace_back(path);
    }
  };
  size_t i = 0, j = 0;
  while (i < gone.size() || j < come.size()) {
    const int c = i == gone.size()   ? 1
                  : j == come.size() ? -1
                                     : gone[i].record->path.compare(come[j].record->path);
    const LayoutRecord* a = c <= 0 ? gone[i].record : nullptr;
    const LayoutRecord* b = c >= 0 ? come[j].record : nullptr;
    // The same package on both sides with the same entry (an update that kept the
    // directory): whichever shared package may sort before it is in both states too, so both
    // merged entries are the same. That is the common case ("lib", "share"), and it is
    // settled without asking the database which of a thousand owners comes first.
    const bool kept =
        a && b && gone[i].package->row->name == come[j].package->row->name && *a == *b;
    if (a) ++i;
    if (b) ++j;
    if (kept) continue;
    const std::string_view path = a ? a->path : b->path;
    const bool directory = (a && a->kind == stone::FileKind::kDirectory) ||
                           (b && b->kind == stone::FileKind::kDirectory);
    if (!directory) {
      classify(path, a, b, a && b && *a == *b);
      continue;
    }
    if (a && !b) {
      ONIX_ASSIGN_OR_RETURN(const bool shipped, db_->StateShipsPath(to, path));
      if (!shipped) {
        classify(path, true, false, false);
        continue;
      }
    } else if (b && !a) {
      bool shipped = false;
      if (from) {
        ONIX_ASSIGN_OR_RETURN(shipped, db_->StateShipsPath(*from, path));
      }
      if (!shipped) {
        classify(path, false, true, false);
        continue;
      }
    }
    // In both states (a shipped it, or a shared package does in both) and every stone ships
    // the same entry: unchanged, whichever owner comes first.
    ONIX_ASSIGN_OR_RETURN(const bool agree, db_->DirectoryOwnersAgree(path));
    if (agree) continue;
    std::optional<stone::LayoutEntry> x, y;
    if (from) {
      ONIX_ASSIGN_OR_RETURN(x, owner_entry(*from, path));
    }
    ONIX_ASSIGN_OR_RETURN(y, owner_entry(to, path));
    classify(path, x.has_value(), y.has_value(), x && y && *x == *y);
  }
  return d;
}

}  // namespace onix::moss::transaction

#include "nix-integration/seed/users.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "moss/base/fd.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::nixplane {
namespace {

// One database file (passwd-style: one record per line, ':'-separated fields).
struct DbFile {
  std::string path;  // relative to the root, e.g. "etc/passwd"
  bool existed = false;
  mode_t mode = 0644;
  std::string original;
  std::vector<std::string> lines;
};

absl::StatusOr<DbFile> LoadDb(int root_fd, const std::string& path, mode_t default_mode) {
  DbFile db;
  db.path = path;
  db.mode = default_mode;
  auto st = fs::StatAt(root_fd, path);
  if (!st.ok() && !absl::IsNotFound(st.status())) return st.status();
  if (st.ok()) {
    db.existed = true;
    db.mode = st->st_mode & 07777;
    ONIX_ASSIGN_OR_RETURN(db.original, fs::ReadFileAt(root_fd, path));
    for (auto line : absl::StrSplit(db.original, '\n')) db.lines.emplace_back(line);
    // A file ending in "\n" splits into a trailing empty element; it is not a record.
    if (!db.lines.empty() && db.lines.back().empty()) db.lines.pop_back();
  }
  return db;
}

std::vector<std::string> Fields(const std::string& line) { return absl::StrSplit(line, ':'); }

absl::Status SaveDb(int root_fd, const DbFile& db) {
  std::string out;
  for (const auto& l : db.lines) out += l + "\n";
  if (db.existed && out == db.original) return absl::OkStatus();
  const size_t slash = db.path.rfind('/');
  ONIX_ASSIGN_OR_RETURN(UniqueFd dir, fs::OpenDirAt(root_fd, db.path.substr(0, slash)));
  return Annotate(fs::WriteFileAtomicAt(dir.get(), db.path.substr(slash + 1), out, db.mode,
                                        fs::Durability::kFsync),
                  StrCat("writing ", db.path));
}

std::string UserName(int i) { return StrCat("nixbld", i); }

std::string PasswdLine(int i) {
  return StrCat(UserName(i), ":x:", kNixbldFirstUid + i - 1, ":", kNixbldGid, ":Nix build user ", i,
                ":/var/empty:/usr/sbin/nologin");
}

std::string Members() {
  std::vector<std::string> names;
  for (int i = 1; i <= kNixbldCount; ++i) names.push_back(UserName(i));
  return absl::StrJoin(names, ",");
}

std::string GroupLine() { return StrCat("nixbld:x:", kNixbldGid, ":", Members()); }

// Puts `wanted` in place of the line whose first field is `name`, or appends it.
void Upsert(DbFile& db, const std::string& name, const std::string& wanted) {
  for (auto& l : db.lines) {
    if (Fields(l)[0] == name) {
      l = wanted;
      return;
    }
  }
  db.lines.push_back(wanted);
}

// Refuses when `name` exists with another id, or `id` belongs to another name.
absl::Status CheckIds(const DbFile& db, const std::string& what, const std::string& name, int id,
                      bool* present) {
  *present = false;
  const std::string id_str = StrCat(id);
  for (const auto& l : db.lines) {
    auto f = Fields(l);
    if (f.size() < 3) continue;
    if (f[0] == name && f[2] != id_str) {
      return FailedPrecondition(StrCat(db.path, ": ", what, " '", name, "' exists with id ", f[2],
                                       ", but the nix plane needs id ", id,
                                       " (gid 30000, uids 30001-30032)"));
    }
    if (f[0] != name && f[2] == id_str) {
      return FailedPrecondition(StrCat(db.path, ": id ", id, " is taken by ", what, " '", f[0],
                                       "', but the nix plane needs it for '", name,
                                       "' (gid 30000, uids 30001-30032)"));
    }
    if (f[0] == name) *present = true;
  }
  return absl::OkStatus();
}

void RemoveNames(DbFile& db, const std::set<std::string>& names) {
  db.lines.erase(std::remove_if(db.lines.begin(), db.lines.end(),
                                [&](const std::string& l) { return names.count(Fields(l)[0]); }),
                 db.lines.end());
}

// Writes `db`, or removes it when seeding created it and nothing else is left in it.
absl::Status SaveOrRemove(int root_fd, const DbFile& db, const UsersChange& change) {
  const auto& created = change.created_files;
  if (db.lines.empty() && std::find(created.begin(), created.end(), db.path) != created.end()) {
    return fs::UnlinkAt(root_fd, db.path);
  }
  return SaveDb(root_fd, db);
}

}  // namespace

absl::StatusOr<UsersChange> EnsureBuildUsers(int root_fd) {
  ONIX_RETURN_IF_ERROR_CTX(fs::MkdirAllAt(root_fd, "etc", 0755), "creating etc");
  UsersChange change;
  ONIX_ASSIGN_OR_RETURN(DbFile passwd, LoadDb(root_fd, "etc/passwd", 0644));
  ONIX_ASSIGN_OR_RETURN(DbFile group, LoadDb(root_fd, "etc/group", 0644));
  ONIX_ASSIGN_OR_RETURN(DbFile shadow, LoadDb(root_fd, "etc/shadow", 0640));
  if (!passwd.existed) change.created_files.push_back(passwd.path);
  if (!group.existed) change.created_files.push_back(group.path);
  ONIX_ASSIGN_OR_RETURN(DbFile gshadow, LoadDb(root_fd, "etc/gshadow", 0640));

  // Every check runs before the first write, so a refusal leaves all files as they were.
  bool present = false;
  ONIX_RETURN_IF_ERROR(CheckIds(group, "group", "nixbld", kNixbldGid, &present));
  change.added_group = !present;
  for (int i = 1; i <= kNixbldCount; ++i) {
    ONIX_RETURN_IF_ERROR(CheckIds(passwd, "user", UserName(i), kNixbldFirstUid + i - 1, &present));
    if (!present) change.added_users.push_back(UserName(i));
  }

  Upsert(group, "nixbld", GroupLine());
  for (int i = 1; i <= kNixbldCount; ++i) {
    Upsert(passwd, UserName(i), PasswdLine(i));
    // Locked password; no aging fields, so the line is the same on every run.
    if (shadow.existed) Upsert(shadow, UserName(i), StrCat(UserName(i), ":!:::::::"));
  }
  if (gshadow.existed) Upsert(gshadow, "nixbld", StrCat("nixbld:!::", Members()));
  ONIX_RETURN_IF_ERROR(SaveDb(root_fd, group));
  if (gshadow.existed) ONIX_RETURN_IF_ERROR(SaveDb(root_fd, gshadow));
  ONIX_RETURN_IF_ERROR(SaveDb(root_fd, passwd));
  if (shadow.existed) ONIX_RETURN_IF_ERROR(SaveDb(root_fd, shadow));
  return change;
}

absl::Status RemoveBuildUsers(int root_fd, const UsersChange& change) {
  std::set<std::string> users;
  for (const auto& u : change.added_users) {
    // Only names we would have created: a receipt cannot make us delete "root".
    for (int i = 1; i <= kNixbldCount; ++i) {
      if (u == UserName(i)) users.insert(u);
    }
  }
  for (const char* path : {"etc/passwd", "etc/shadow"}) {
    ONIX_ASSIGN_OR_RETURN(DbFile db, LoadDb(root_fd, path, 0644));
    if (!db.existed) continue;
    RemoveNames(db, users);
    ONIX_RETURN_IF_ERROR(SaveOrRemove(root_fd, db, change));
  }
  if (change.added_group) {
    for (const char* path : {"etc/group", "etc/gshadow"}) {
      ONIX_ASSIGN_OR_RETURN(DbFile db, LoadDb(root_fd, path, 0644));
      if (!db.existed) continue;
      RemoveNames(db, {"nixbld"});
      ONIX_RETURN_IF_ERROR(SaveOrRemove(root_fd, db, change));
    }
  }
  return absl::OkStatus();
}

}  // namespace onix::nixplane

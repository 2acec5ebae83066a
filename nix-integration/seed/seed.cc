#include "nix-integration/seed/seed.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "moss/base/fd.h"
#include "moss/base/fs_at.h"
#include "moss/base/sha256.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "nix-integration/seed/users.h"
#include "nlohmann/json.hpp"

namespace onix::nixplane {
namespace {

constexpr char kEnableLink[] = "etc/systemd/system/sockets.target.wants/nix-daemon.socket";
constexpr char kEnableTarget[] = "../nix-daemon.socket";

// What seedings created, so unseed can take away exactly that.
struct Receipt {
  UsersChange users;
  std::map<std::string, std::string> files;  // target -> sha256 hex of the bytes we wrote
  std::map<std::string, std::string> links;  // link -> target
  std::vector<std::string> dirs;             // created by us, in creation order
};

std::string ToJson(const Receipt& r) {
  nlohmann::json j;
  j["version"] = 1;
  j["users"] = r.users.added_users;
  j["group_added"] = r.users.added_group;
  j["created_db_files"] = r.users.created_files;
  j["files"] = r.files;
  j["links"] = r.links;
  j["dirs"] = r.dirs;
  return j.dump(2) + "\n";
}

absl::StatusOr<Receipt> ParseReceipt(const std::string& text) {
  Receipt r;
  try {
    auto j = nlohmann::json::parse(text);
    if (j.at("version").get<int>() != 1) return InvalidArgument("unknown receipt version");
    r.users.added_users = j.at("users").get<std::vector<std::string>>();
    r.users.added_group = j.at("group_added").get<bool>();
    r.users.created_files = j.at("created_db_files").get<std::vector<std::string>>();
    r.files = j.at("files").get<std::map<std::string, std::string>>();
    r.links = j.at("links").get<std::map<std::string, std::string>>();
    r.dirs = j.at("dirs").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(StrCat("parsing receipt: ", e.what()));
  }
  return r;
}

// Loads the receipt; an absent one is an empty receipt and `*found` is false.
absl::StatusOr<Receipt> LoadReceipt(int root_fd, bool* found) {
  auto text = fs::ReadFileAt(root_fd, kReceiptPath);
  *found = text.ok();
  if (absl::IsNotFound(text.status())) return Receipt{};
  if (!text.ok()) return Annotate(text.status(), StrCat("reading ", kReceiptPath));
  auto receipt = ParseReceipt(*text);
  if (!receipt.ok()) return Annotate(receipt.status(), StrCat("reading ", kReceiptPath));
  return receipt;
}

std::string Parent(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string Base(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// Creates the missing directories of `path`, recording each one it made in `created`.
absl::Status MkdirsRecorded(int root_fd, const std::string& path,
                            std::vector<std::string>* created) {
  std::string prefix;
  for (const auto& part : fs::SplitPath(path)) {
    prefix = prefix.empty() ? part : StrCat(prefix, "/", part);
    ONIX_ASSIGN_OR_RETURN(bool exists, fs::ExistsAt(root_fd, prefix));
    if (exists) continue;
    ONIX_RETURN_IF_ERROR(fs::MkdirAt(root_fd, prefix, 0755));
    if (created && std::find(created->begin(), created->end(), prefix) == created->end()) {
      created->push_back(prefix);
    }
  }
  return absl::OkStatus();
}

absl::Status WriteAt(int root_fd, const std::string& path, const std::string& data, mode_t mode) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd dir, fs::OpenDirAt(root_fd, Parent(path)));
  return Annotate(fs::WriteFileAtomicAt(dir.get(), Base(path), data, mode, fs::Durability::kFsync),
                  StrCat("writing ", path));
}

// Reads `path` if it is a regular file; nullopt when missing. A symlink or other non-file
// at a seeded path counts as a local override (its "bytes" never match).
absl::StatusOr<std::optional<std::string>> ReadIfFile(int root_fd, const std::string& path) {
  auto st = fs::StatAt(root_fd, path);
  if (absl::IsNotFound(st.status())) return std::optional<std::string>();
  if (!st.ok()) return st.status();
  if (!S_ISREG(st->st_mode)) return std::optional<std::string>(std::string("\0<not a file>", 13));
  ONIX_ASSIGN_OR_RETURN(std::string data, fs::ReadFileAt(root_fd, path));
  return std::optional<std::string>(std::move(data));
}

absl::StatusOr<std::string> ReadDeclared(int root_fd, const ManagedFile& f) {
  auto data = fs::ReadFileAt(root_fd, f.source);
  if (!data.ok()) {
    return Annotate(data.status(), StrCat("reading declared default /", f.source,
                                          " (is the onix-nix-integration stone installed?)"));
  }
  return data;
}

// The runtime dirs the daemon and per-user profiles need. /nix itself, the store and the db
// are the daemon's to create.
constexpr const char* kRuntimeDirs[] = {
    "nix",
    "nix/var",
    "nix/var/nix",
    "nix/var/nix/profiles",
    "nix/var/nix/profiles/per-user",
    "nix/var/nix/gcroots",
    "nix/var/nix/gcroots/per-user",
    "nix/var/nix/daemon-socket",
};

absl::Status EnsureRuntimeDirs(int root_fd, std::vector<std::string>* changed) {
  for (const char* dir : kRuntimeDirs) {
    auto st = fs::StatAt(root_fd, dir);
    if (absl::IsNotFound(st.status())) {
      ONIX_RETURN_IF_ERROR(fs::MkdirAt(root_fd, dir, 0755));
      // mkdir applies the umask; the mode is part of the contract.
      if (::fchmodat(root_fd, dir, 0755, 0) != 0) {
        const int err = errno;
        return ErrnoError(err, StrCat("chmod /", dir));
      }
      changed->push_back(StrCat("/", dir));
      continue;
    }
    if (!st.ok()) return st.status();
    if (!S_ISDIR(st->st_mode)) {
      return FailedPrecondition(StrCat("/", dir, " exists and is not a directory"));
    }
    if ((st->st_mode & 07777) != 0755) {
      if (::fchmodat(root_fd, dir, 0755, 0) != 0) {
        const int err = errno;
        return ErrnoError(err, StrCat("chmod /", dir));
      }
      changed->push_back(StrCat("/", dir, " (mode)"));
    }
  }
  return absl::OkStatus();
}

// A seeded file that already holds the declared bytes can still carry the wrong mode or owner
// (an installer or an admin's `cp` made it): a non-executable init script never starts the
// daemon, and a nix.conf a user can write makes that user trusted. We converge both, as we do
// the bytes. Files are root's when we run as root; an unprivileged seed (tests) leaves owners.
absl::Status CorrectModeAndOwner(int root_fd, const ManagedFile& f,
                                 std::vector<std::string>* changed) {
  ONIX_ASSIGN_OR_RETURN(struct stat st, fs::StatAt(root_fd, f.target));
  if ((st.st_mode & 07777) != f.mode) {
    if (::fchmodat(root_fd, f.target.c_str(), f.mode, 0) != 0) {
      const int err = errno;
      return ErrnoError(err, StrCat("chmod /", f.target));
    }
    char modes[32];
    std::snprintf(modes, sizeof(modes), "%04o -> %04o", st.st_mode & 07777, f.mode);
    changed->push_back(StrCat("/", f.target, " (mode ", modes, ")"));
  }
  if (::geteuid() == 0 && (st.st_uid != 0 || st.st_gid != 0)) {
    if (::fchownat(root_fd, f.target.c_str(), 0, 0, AT_SYMLINK_NOFOLLOW) != 0) {
      const int err = errno;
      return ErrnoError(err, StrCat("chown /", f.target));
    }
    changed->push_back(StrCat("/", f.target, " (owner ", st.st_uid, ":", st.st_gid, " -> 0:0)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<DriftEntry>> DriftAt(int root_fd) {
  std::vector<DriftEntry> drift;
  for (const auto& f : ManagedFiles()) {
    ONIX_ASSIGN_OR_RETURN(std::string declared, ReadDeclared(root_fd, f));
    ONIX_ASSIGN_OR_RETURN(auto current, ReadIfFile(root_fd, f.target));
    if (!current) {
      drift.push_back({StrCat("/", f.target), DriftEntry::Kind::kMissing});
    } else if (*current != declared) {
      drift.push_back({StrCat("/", f.target), DriftEntry::Kind::kModified});
    }
  }
  return drift;
}

}  // namespace

const std::vector<ManagedFile>& ManagedFiles() {
  static const auto* files = new std::vector<ManagedFile>{
      {"nix.conf", "usr/share/defaults/nix/nix.conf", "etc/nix/nix.conf", 0644},
      {"registry.json", "usr/share/defaults/nix/registry.json", "etc/nix/registry.json", 0644},
      {"flake-registry.json", "usr/share/defaults/nix/flake-registry.json",
       "etc/nix/flake-registry.json", 0644},
      {"nix.sh", "usr/share/onix/nix-integration/nix.sh", "etc/profile.d/nix.sh", 0644},
      {"nix.fish", "usr/share/onix/nix-integration/nix.fish", "etc/fish/conf.d/nix.fish", 0644},
      {"nix-daemon.service", "usr/share/onix/nix-integration/nix-daemon.service",
       "etc/systemd/system/nix-daemon.service", 0644},
      {"nix-daemon.socket", "usr/share/onix/nix-integration/nix-daemon.socket",
       "etc/systemd/system/nix-daemon.socket", 0644},
      {"nix-daemon.init", "usr/share/onix/nix-integration/nix-daemon.init", "etc/init.d/nix-daemon",
       0755},
      {"tmpfiles.conf", "usr/share/onix/nix-integration/tmpfiles.conf",
       "etc/tmpfiles.d/nix-daemon.conf", 0644},
      {"sysusers.conf", "usr/share/onix/nix-integration/sysusers.conf", "etc/sysusers.d/nix.conf",
       0644},
  };
  return *files;
}

const std::vector<ManagedFile>& StoneOnlyFiles() {
  static const auto* files = new std::vector<ManagedFile>{
      {"onix-nix-integration.service", "usr/lib/systemd/system/onix-nix-integration.service", "",
       0644},
      {"onix-nix-integration.trigger", "usr/share/moss/triggers/sys.d/onix-nix-integration.trigger",
       "", 0644},
      // busybox-init images: rc.sysinit runs it at boot (sync, then nix-daemon).
      {"rc.d-30-nix", "usr/lib/onix/rc.d/30-nix", "", 0755},
  };
  return *files;
}

std::string DriftEntry::ToString() const {
  return StrCat(path, kind == Kind::kModified ? ": modified" : ": missing");
}

absl::StatusOr<SeedReport> Seed(const std::string& root) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd root_fd, fs::OpenDir(root));
  SeedReport report;
  bool had_receipt = false;
  ONIX_ASSIGN_OR_RETURN(Receipt receipt, LoadReceipt(root_fd.get(), &had_receipt));

  // Read every declared default first: a missing stone fails before anything is written.
  std::vector<std::string> declared;
  for (const auto& f : ManagedFiles()) {
    ONIX_ASSIGN_OR_RETURN(std::string d, ReadDeclared(root_fd.get(), f));
    declared.push_back(std::move(d));
  }

  ONIX_ASSIGN_OR_RETURN(UsersChange users, EnsureBuildUsers(root_fd.get()));
  for (const auto& u : users.added_users) {
    report.changed.push_back(StrCat("user ", u));
    auto& added = receipt.users.added_users;
    if (std::find(added.begin(), added.end(), u) == added.end()) added.push_back(u);
  }
  for (const auto& f : users.created_files) {
    auto& created = receipt.users.created_files;
    if (std::find(created.begin(), created.end(), f) == created.end()) created.push_back(f);
  }
  if (users.added_group) {
    report.changed.push_back("group nixbld");
    receipt.users.added_group = true;
  }

  for (size_t i = 0; i < ManagedFiles().size(); ++i) {
    const ManagedFile& f = ManagedFiles()[i];
    const std::string& want = declared[i];
    ONIX_ASSIGN_OR_RETURN(auto current, ReadIfFile(root_fd.get(), f.target));
    const auto last = receipt.files.find(f.target);
    bool write = false;
    if (!current) {
      write = true;
    } else if (*current == want) {
      ONIX_RETURN_IF_ERROR(CorrectModeAndOwner(root_fd.get(), f, &report.changed));
      continue;
    } else if (last != receipt.files.end() && Sha256Of(*current).Hex() == last->second) {
      // Still the bytes we wrote, so the declared default moved on: converge to it.
      write = true;
    } else {
      report.drift.push_back({StrCat("/", f.target), DriftEntry::Kind::kModified});
      continue;
    }
    if (write) {
      ONIX_RETURN_IF_ERROR(MkdirsRecorded(root_fd.get(), Parent(f.target), &receipt.dirs));
      ONIX_RETURN_IF_ERROR(WriteAt(root_fd.get(), f.target, want, f.mode));
      receipt.files[f.target] = Sha256Of(want).Hex();
      report.changed.push_back(StrCat("/", f.target));
    }
  }

  ONIX_ASSIGN_OR_RETURN(bool link_exists, fs::ExistsAt(root_fd.get(), kEnableLink));
  if (!link_exists) {
    ONIX_RETURN_IF_ERROR(MkdirsRecorded(root_fd.get(), Parent(kEnableLink), &receipt.dirs));
    ONIX_RETURN_IF_ERROR(fs::SymlinkAt(kEnableTarget, root_fd.get(), kEnableLink));
    receipt.links[kEnableLink] = kEnableTarget;
    report.changed.push_back(StrCat("/", kEnableLink));
  }

  ONIX_RETURN_IF_ERROR_CTX(EnsureRuntimeDirs(root_fd.get(), &report.changed),
                           "creating nix runtime directories");

  // The receipt is written last and only when it changes, so a re-seed is byte-for-byte a
  // no-op. Its own directories are recorded in it too.
  ONIX_RETURN_IF_ERROR(MkdirsRecorded(root_fd.get(), Parent(kReceiptPath), &receipt.dirs));
  const std::string json = ToJson(receipt);
  ONIX_ASSIGN_OR_RETURN(auto old_json, ReadIfFile(root_fd.get(), kReceiptPath));
  if (!old_json || *old_json != json) {
    ONIX_RETURN_IF_ERROR(WriteAt(root_fd.get(), kReceiptPath, json, 0644));
  }
  return report;
}

absl::StatusOr<std::vector<DriftEntry>> EtcNixDrift(const std::string& root) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd root_fd, fs::OpenDir(root));
  return DriftAt(root_fd.get());
}

absl::StatusOr<UnseedReport> Unseed(const std::string& root) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd root_fd, fs::OpenDir(root));
  bool found = false;
  ONIX_ASSIGN_OR_RETURN(Receipt receipt, LoadReceipt(root_fd.get(), &found));
  if (!found) {
    return NotFound(StrCat("unseeding ", root, ": no receipt at /", kReceiptPath,
                           ", so nothing was seeded here"));
  }
  UnseedReport report;
  for (const auto& [path, sha] : receipt.files) {
    ONIX_ASSIGN_OR_RETURN(auto current, ReadIfFile(root_fd.get(), path));
    if (!current) continue;
    if (Sha256Of(*current).Hex() != sha) {
      report.kept.push_back(StrCat("/", path));
      continue;
    }
    ONIX_RETURN_IF_ERROR(fs::UnlinkAt(root_fd.get(), path));
    report.removed.push_back(StrCat("/", path));
  }
  for (const auto& [path, target] : receipt.links) {
    auto actual = fs::ReadLinkAt(root_fd.get(), path);
    if (actual.ok() && *actual == target) {
      ONIX_RETURN_IF_ERROR(fs::UnlinkAt(root_fd.get(), path));
      report.removed.push_back(StrCat("/", path));
    }
  }
  ONIX_RETURN_IF_ERROR_CTX(RemoveBuildUsers(root_fd.get(), receipt.users), "removing nixbld users");
  for (const auto& u : receipt.users.added_users) report.removed.push_back(StrCat("user ", u));
  if (receipt.users.added_group) report.removed.push_back("group nixbld");
  ONIX_RETURN_IF_ERROR(fs::UnlinkAt(root_fd.get(), kReceiptPath));
  // Deepest first; a directory someone else put files into stays.
  std::vector<std::string> dirs = receipt.dirs;
  std::stable_sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) {
    return std::count(a.begin(), a.end(), '/') > std::count(b.begin(), b.end(), '/');
  });
  for (const auto& d : dirs) {
    absl::Status s = fs::RmdirAt(root_fd.get(), d);
    if (s.ok()) {
      report.removed.push_back(StrCat("/", d));
    } else if (!absl::IsNotFound(s)) {
      report.kept.push_back(StrCat("/", d));
    }
  }
  return report;
}

absl::Status InstallShippedData(const std::string& root, const std::string& data_dir) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd root_fd, fs::OpenDir(root));
  std::vector<ManagedFile> all = ManagedFiles();
  all.insert(all.end(), StoneOnlyFiles().begin(), StoneOnlyFiles().end());
  for (const auto& f : all) {
    // Build tools hand data files over as symlinks (runfiles), which the no-symlink reads of
    // fs_at refuse; resolve each one first.
    const std::string path = StrCat(data_dir, "/", f.data_name);
    char real[PATH_MAX];
    if (::realpath(path.c_str(), real) == nullptr) {
      const int err = errno;
      return ErrnoError(err, StrCat("resolving data file ", path));
    }
    const std::string real_path = real;
    ONIX_ASSIGN_OR_RETURN(UniqueFd data_fd, fs::OpenDir(Parent(real_path)));
    ONIX_ASSIGN_OR_RETURN(std::string data, fs::ReadFileAt(data_fd.get(), Base(real_path)));
    ONIX_RETURN_IF_ERROR(fs::MkdirAllAt(root_fd.get(), Parent(f.source), 0755));
    ONIX_RETURN_IF_ERROR(WriteAt(root_fd.get(), f.source, data, f.mode));
  }
  return absl::OkStatus();
}

}  // namespace onix::nixplane

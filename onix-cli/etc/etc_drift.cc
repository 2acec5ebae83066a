#include "onix-cli/etc/etc_drift.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "onix-cli/etc/unified_diff.h"

namespace onix::cli {
namespace {

// Reads a file or the target of a symlink, so both compare by "what /etc would give".
absl::StatusOr<std::string> ReadEntry(int dirfd, const std::string& path, bool* is_link) {
  ONIX_ASSIGN_OR_RETURN(struct stat st, fs::StatAt(dirfd, path));
  *is_link = S_ISLNK(st.st_mode);
  if (*is_link) return fs::ReadLinkAt(dirfd, path);
  return fs::ReadFileAt(dirfd, path);
}

absl::Status Walk(int defaults_fd, int etc_fd, const std::string& prefix,
                  std::vector<EtcDrift>& out) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd dir, prefix.empty()
                                          ? fs::OpenAt(defaults_fd, ".", O_RDONLY | O_DIRECTORY)
                                          : fs::OpenDirAt(defaults_fd, prefix));
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(dir.get()));
  for (const auto& name : names) {
    const std::string rel = prefix.empty() ? name : StrCat(prefix, "/", name);
    ONIX_ASSIGN_OR_RETURN(struct stat st, fs::StatAt(defaults_fd, rel));
    if (S_ISDIR(st.st_mode)) {
      ONIX_RETURN_IF_ERROR(Walk(defaults_fd, etc_fd, rel, out));
      continue;
    }
    bool default_link = false, local_link = false;
    ONIX_ASSIGN_OR_RETURN(std::string want, ReadEntry(defaults_fd, rel, &default_link));
    if (etc_fd < 0) {
      out.push_back({rel, DriftKind::kDeleted});
      continue;
    }
    auto have = ReadEntry(etc_fd, rel, &local_link);
    if (!have.ok()) {
      if (!absl::IsNotFound(have.status())) return have.status();
      out.push_back({rel, DriftKind::kDeleted});
    } else if (*have != want || local_link != default_link) {
      out.push_back({rel, DriftKind::kModified});
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<EtcDrift>> ComputeEtcDrift(int root_fd) {
  std::vector<EtcDrift> out;
  auto defaults = fs::OpenDirAt(root_fd, kDefaultsEtc);
  if (!defaults.ok()) {
    if (absl::IsNotFound(defaults.status())) return out;  // a state without factory defaults
    return Annotate(defaults.status(), "opening factory defaults");
  }
  auto etc = fs::OpenDirAt(root_fd, "etc");
  if (!etc.ok() && !absl::IsNotFound(etc.status())) return etc.status();
  ONIX_RETURN_IF_ERROR_CTX(Walk(defaults->get(), etc.ok() ? etc->get() : -1, "", out),
                           "comparing /etc with its factory defaults");
  return out;
}

absl::StatusOr<std::string> EtcDiff(int root_fd, std::string_view path) {
  ONIX_RETURN_IF_ERROR(fs::ValidateRelativePath(path));
  const std::string default_path = StrCat(kDefaultsEtc, "/", path);
  bool link = false;
  auto want = ReadEntry(root_fd, default_path, &link);
  if (!want.ok()) {
    if (absl::IsNotFound(want.status())) {
      return NotFound(StrCat("/etc/", path, " has no factory default in /", kDefaultsEtc));
    }
    return want.status();
  }
  auto have = ReadEntry(root_fd, StrCat("etc/", path), &link);
  std::string local;
  if (have.ok()) {
    local = *have;
  } else if (!absl::IsNotFound(have.status())) {
    return have.status();
  }
  return UnifiedDiff(*want, local, StrCat("/", default_path), StrCat("/etc/", path));
}

absl::Status ResetEtcFile(int root_fd, std::string_view path) {
  ONIX_RETURN_IF_ERROR(fs::ValidateRelativePath(path));
  const std::string default_path = StrCat(kDefaultsEtc, "/", path);
  auto st = fs::StatAt(root_fd, default_path);
  if (!st.ok()) {
    if (absl::IsNotFound(st.status())) {
      return NotFound(StrCat("/etc/", path, " has no factory default in /", kDefaultsEtc));
    }
    return st.status();
  }
  const std::string etc_path = StrCat("etc/", path);
  const size_t slash = etc_path.rfind('/');
  const std::string parent = etc_path.substr(0, slash), name = etc_path.substr(slash + 1);
  ONIX_RETURN_IF_ERROR(fs::MkdirAllAt(root_fd, parent, 0755));
  ONIX_ASSIGN_OR_RETURN(UniqueFd parent_fd, fs::OpenDirAt(root_fd, parent));
  if (S_ISLNK(st->st_mode)) {
    // A link is replaced through a temporary name so the swap stays atomic.
    ONIX_ASSIGN_OR_RETURN(std::string target, fs::ReadLinkAt(root_fd, default_path));
    const std::string tmp = StrCat(".", name, ".onix-reset");
    ONIX_RETURN_IF_ERROR(fs::RemoveTreeAt(parent_fd.get(), tmp));
    ONIX_RETURN_IF_ERROR(fs::SymlinkAt(target, parent_fd.get(), tmp));
    ONIX_RETURN_IF_ERROR(fs::RenameAt(parent_fd.get(), tmp, parent_fd.get(), name));
    return fs::FsyncDirAt(parent_fd.get());
  }
  ONIX_ASSIGN_OR_RETURN(std::string data, fs::ReadFileAt(root_fd, default_path));
  return Annotate(fs::WriteFileAtomicAt(parent_fd.get(), name, data, st->st_mode & 07777,
                                        fs::Durability::kFsync),
                  StrCat("resetting /etc/", path));
}

}  // namespace onix::cli

#include "moss/etcmerge/etcmerge.h"

#include <sys/stat.h>

#include <algorithm>
#include <map>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::moss::etcmerge {
namespace {

struct DefaultFile {
  std::string content;
  mode_t mode = 0644;
};
using Defaults = std::map<std::string, DefaultFile>;

absl::Status Collect(int dirfd, const std::string& prefix, Defaults& out) {
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(dirfd));
  for (const auto& name : names) {
    const std::string rel = prefix.empty() ? name : StrCat(prefix, "/", name);
    ONIX_ASSIGN_OR_RETURN(struct stat st, fs::StatAt(dirfd, name));
    if (S_ISDIR(st.st_mode)) {
      ONIX_ASSIGN_OR_RETURN(UniqueFd sub, fs::OpenDirAt(dirfd, name));
      ONIX_RETURN_IF_ERROR(Collect(sub.get(), rel, out));
    } else if (S_ISREG(st.st_mode)) {
      ONIX_ASSIGN_OR_RETURN(std::string content, fs::ReadFileAt(dirfd, name));
      out[rel] = {std::move(content), st.st_mode & 07777};
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Defaults> DefaultsOf(int usr_fd) {
  Defaults out;
  if (usr_fd < 0) return out;
  auto dir = fs::OpenDirAt(usr_fd, kDefaultsDir);
  if (absl::IsNotFound(dir.status())) return out;
  ONIX_RETURN_IF_ERROR(dir.status());
  ONIX_RETURN_IF_ERROR(Collect(dir->get(), "", out));
  return out;
}

}  // namespace

std::string_view ActionWord(EtcChange::Action action) {
  switch (action) {
    case EtcChange::Action::kAdded:
      return "added";
    case EtcChange::Action::kUpdated:
      return "updated";
    case EtcChange::Action::kRemoved:
      return "removed";
    case EtcChange::Action::kKeptLocal:
      return "kept-local";
  }
  return "unknown";
}

absl::StatusOr<std::vector<EtcChange>> MergeEtcDefaults(int root_fd, int old_usr_fd,
                                                        int new_usr_fd) {
  ONIX_ASSIGN_OR_RETURN(Defaults old_defaults, DefaultsOf(old_usr_fd));
  ONIX_ASSIGN_OR_RETURN(Defaults new_defaults, DefaultsOf(new_usr_fd));
  std::vector<std::string> paths;
  for (const auto& [p, _] : old_defaults) paths.push_back(p);
  for (const auto& [p, _] : new_defaults) {
    if (!old_defaults.count(p)) paths.push_back(p);
  }
  std::sort(paths.begin(), paths.end());
  std::vector<EtcChange> out;
  for (const auto& p : paths) {
    const auto o = old_defaults.find(p), n = new_defaults.find(p);
    const bool had = o != old_defaults.end(), has = n != new_defaults.end();
    if (had && has && o->second.content == n->second.content) continue;
    const std::string etc_path = StrCat("etc/", p);
    auto local = fs::ReadFileAt(root_fd, etc_path);
    if (!local.ok() && !absl::IsNotFound(local.status())) return local.status();
    const bool local_is_old = had ? (local.ok() && *local == o->second.content) : !local.ok();
    if (!local_is_old) {
      out.push_back({p, EtcChange::Action::kKeptLocal});
      continue;
    }
    const size_t slash = etc_path.rfind('/');
    const std::string parent = etc_path.substr(0, slash), name = etc_path.substr(slash + 1);
    if (has) {
      ONIX_RETURN_IF_ERROR(fs::MkdirAllAt(root_fd, parent, 0755));
      ONIX_ASSIGN_OR_RETURN(UniqueFd dir, fs::OpenDirAt(root_fd, parent));
      ONIX_RETURN_IF_ERROR_CTX(fs::WriteFileAtomicAt(dir.get(), name, n->second.content,
                                                     n->second.mode, fs::Durability::kFsync),
                               StrCat("writing /", etc_path));
      out.push_back({p, had ? EtcChange::Action::kUpdated : EtcChange::Action::kAdded});
    } else {
      ONIX_RETURN_IF_ERROR(fs::UnlinkAt(root_fd, etc_path));
      ONIX_ASSIGN_OR_RETURN(UniqueFd dir, fs::OpenDirAt(root_fd, parent));
      ONIX_RETURN_IF_ERROR(fs::FsyncDirAt(dir.get()));
      out.push_back({p, EtcChange::Action::kRemoved});
    }
  }
  return out;
}

}  // namespace onix::moss::etcmerge

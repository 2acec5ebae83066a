#include "onix-cli/machine/update.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <map>
#include <optional>

#include "boot/bls/sync.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/bootsync/bootsync.h"
#include "moss/repo/config.h"
#include "moss/repo/driver.h"
#include "moss/repo/repository.h"
#include "moss/transaction/root.h"
#include "nix-integration/daemon/fingerprint.h"
#include "nix-integration/opengl_bridge/bridge.h"
#include "onix-cli/etc/etc_drift.h"
#include "onix-cli/status/collect.h"

namespace onix::cli {
namespace {

using moss::transaction::Access;
using moss::transaction::MachineRoot;

constexpr std::string_view kDefaults = "share/defaults/etc";

struct DefaultFile {
  std::string content;
  mode_t mode = 0644;
};

// Every regular file below <usr>/share/defaults/etc, by path relative to it.
absl::Status CollectDefaults(int dirfd, const std::string& prefix,
                             std::map<std::string, DefaultFile>& out) {
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(dirfd));
  for (const auto& name : names) {
    const std::string rel = prefix.empty() ? name : StrCat(prefix, "/", name);
    ONIX_ASSIGN_OR_RETURN(struct stat st, fs::StatAt(dirfd, name));
    if (S_ISDIR(st.st_mode)) {
      ONIX_ASSIGN_OR_RETURN(UniqueFd sub, fs::OpenDirAt(dirfd, name));
      ONIX_RETURN_IF_ERROR(CollectDefaults(sub.get(), rel, out));
    } else if (S_ISREG(st.st_mode)) {
      ONIX_ASSIGN_OR_RETURN(std::string content, fs::ReadFileAt(dirfd, name));
      out[rel] = {std::move(content), st.st_mode & 07777};
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, DefaultFile>> DefaultsOf(const std::string& usr) {
  std::map<std::string, DefaultFile> out;
  if (usr.empty()) return out;  // no previous state: every default is new
  auto dir = fs::OpenDir(StrCat(usr, "/", kDefaults));
  if (absl::IsNotFound(dir.status())) return out;
  ONIX_RETURN_IF_ERROR(dir.status());
  ONIX_RETURN_IF_ERROR(CollectDefaults(dir->get(), "", out));
  return out;
}

std::string KernelOf(const std::string& usr) {
  auto k = boot::FindStateKernel(usr);
  return k.ok() ? k->version : "";
}

}  // namespace

absl::StatusOr<std::vector<EtcUpdate>> ReconcileEtc(const std::string& root,
                                                    const std::string& old_usr,
                                                    const std::string& new_usr) {
  ONIX_ASSIGN_OR_RETURN(auto old_defaults, DefaultsOf(old_usr));
  ONIX_ASSIGN_OR_RETURN(auto new_defaults, DefaultsOf(new_usr));
  ONIX_ASSIGN_OR_RETURN(UniqueFd root_fd, fs::OpenDir(root));
  std::vector<std::string> paths;
  for (const auto& [p, _] : old_defaults) paths.push_back(p);
  for (const auto& [p, _] : new_defaults) {
    if (!old_defaults.count(p)) paths.push_back(p);
  }
  std::sort(paths.begin(), paths.end());
  std::vector<EtcUpdate> out;
  for (const auto& p : paths) {
    const auto o = old_defaults.find(p), n = new_defaults.find(p);
    const bool had = o != old_defaults.end(), has = n != new_defaults.end();
    if (had && has && o->second.content == n->second.content) continue;
    const std::string etc_path = StrCat("etc/", p);
    auto local = fs::ReadFileAt(root_fd.get(), etc_path);
    if (!local.ok() && !absl::IsNotFound(local.status())) return local.status();
    const bool local_is_old = had ? (local.ok() && *local == o->second.content) : !local.ok();
    if (!local_is_old) {
      // The admin's file (edited, deleted, or made before the default existed): never touched.
      out.push_back({p, EtcUpdate::Action::kKeptLocal});
      continue;
    }
    const size_t slash = etc_path.rfind('/');
    if (has) {
      ONIX_RETURN_IF_ERROR(fs::MkdirAllAt(root_fd.get(), etc_path.substr(0, slash), 0755));
      ONIX_ASSIGN_OR_RETURN(UniqueFd dir, fs::OpenDirAt(root_fd.get(), etc_path.substr(0, slash)));
      ONIX_RETURN_IF_ERROR(fs::WriteFileAtomicAt(dir.get(), etc_path.substr(slash + 1),
                                                 n->second.content, n->second.mode,
                                                 fs::Durability::kFsync));
      out.push_back({p, had ? EtcUpdate::Action::kUpdated : EtcUpdate::Action::kAdded});
    } else {
      ONIX_RETURN_IF_ERROR(fs::UnlinkAt(root_fd.get(), etc_path));
      out.push_back({p, EtcUpdate::Action::kRemoved});
    }
  }
  return out;
}

absl::StatusOr<UpdateResult> Update(const UpdateRequest& req) {
  const std::string nix_root = NixRootOf(req.root);
  ONIX_ASSIGN_OR_RETURN(nixplane::PlaneFingerprint before, nixplane::Fingerprint(nix_root));
  UpdateResult result;
  {
    ONIX_ASSIGN_OR_RETURN(MachineRoot machine, MachineRoot::Open(req.root, Access::kRead));
    ONIX_ASSIGN_OR_RETURN(std::optional<std::string> active, machine.ActiveFstx());
    result.from_fstx = active.value_or("");
  }
  const std::string old_kernel = KernelOf(StrCat(req.root, "/usr"));

  // Like `dnf upgrade`: the repositories' indexes are refreshed first, so "update" means the
  // repositories as they are now.
  if (!req.dry_run) {
    ONIX_ASSIGN_OR_RETURN(std::vector<moss::repo::RepoConfig> repos,
                          moss::repo::ListRepos(req.root));
    for (const auto& repo : repos) {
      if (!repo.enabled) continue;
      ONIX_RETURN_IF_ERROR_CTX(moss::repo::UpdateRepo(req.root, repo),
                               StrCat("refreshing repository ", repo.name));
    }
  }
  moss::solver::Request request;
  request.sync = true;
  moss::repo::ByNameOptions options;
  options.dry_run = req.dry_run;
  options.apply.boot_hook = moss::bootsync::MakeBootHook();
  ONIX_RETURN_IF_ERROR(moss::repo::RunByName(req.root, request, options));

  ONIX_ASSIGN_OR_RETURN(MachineRoot machine, MachineRoot::Open(req.root, Access::kRead));
  ONIX_ASSIGN_OR_RETURN(std::optional<std::string> now, machine.ActiveFstx());
  result.to_fstx = now.value_or("");
  if (req.dry_run || result.to_fstx == result.from_fstx) {
    result.to_fstx = result.from_fstx;
    return result;
  }
  result.old_kernel = old_kernel;
  result.new_kernel = KernelOf(machine.UsrDirOf(result.to_fstx, /*active=*/true));
  ONIX_ASSIGN_OR_RETURN(result.etc,
                        ReconcileEtc(req.root, machine.UsrDirOf(result.from_fstx, /*active=*/false),
                                     machine.UsrDirOf(result.to_fstx, /*active=*/true)));
  StatusOptions paths;
  paths.root = req.root;
  paths.run_dir = req.run_dir;
  auto bridged = bridge::Rebuild(req.root, RunDirOf(paths), result.to_fstx);
  if (!bridged.ok()) {
    result.warnings.push_back(StrCat("graphics bridge not rebuilt: ", bridged.status().message()));
  }
  ONIX_ASSIGN_OR_RETURN(nixplane::PlaneFingerprint after, nixplane::Fingerprint(nix_root));
  result.nix_changes = nixplane::Diff(before, after);
  return result;
}

std::string FormatUpdate(const UpdateResult& r) {
  if (r.from_fstx == r.to_fstx) return StrCat("machine:     ", r.to_fstx, " (up to date)\n");
  std::string out =
      StrCat("machine:     ", r.from_fstx.empty() ? "none" : r.from_fstx, " -> ", r.to_fstx, "\n");
  if (r.old_kernel != r.new_kernel && !r.new_kernel.empty()) {
    out += StrCat("reboot:      to use the new kernel ", r.new_kernel,
                  r.old_kernel.empty() ? "" : StrCat(" (running ", r.old_kernel, ")"), "\n");
  }
  for (const auto& e : r.etc) {
    switch (e.action) {
      case EtcUpdate::Action::kAdded:
        out += StrCat("etc:         added /etc/", e.path, " (new factory default)\n");
        break;
      case EtcUpdate::Action::kUpdated:
        out += StrCat("etc:         updated /etc/", e.path, " to the new factory default\n");
        break;
      case EtcUpdate::Action::kRemoved:
        out += StrCat("etc:         removed /etc/", e.path, " (no longer a factory default)\n");
        break;
      case EtcUpdate::Action::kKeptLocal:
        out +=
            StrCat("etc:         kept your /etc/", e.path,
                   "; its factory default changed (onix etc diff --upstream /etc/", e.path, ")\n");
        break;
    }
  }
  for (const auto& w : r.warnings) out += StrCat("warning:     ", w, "\n");
  out += "plane:       machine\n";
  if (r.nix_changes.empty()) {
    out += "/nix:        untouched\n";
  } else {
    out += "/nix:        CHANGED\n";
    for (const auto& c : r.nix_changes) out += StrCat("  ", c, "\n");
  }
  return out;
}

}  // namespace onix::cli

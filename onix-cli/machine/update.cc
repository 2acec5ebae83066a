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
#include "moss/repo/report.h"
#include "moss/repo/repository.h"
#include "moss/transaction/root.h"
#include "nix-integration/daemon/fingerprint.h"
#include "nix-integration/opengl_bridge/bridge.h"
#include "onix-cli/etc/etc_drift.h"
#include "onix-cli/machine/plane.h"
#include "onix-cli/status/collect.h"

namespace onix::cli {
namespace {

using moss::transaction::Access;
using moss::transaction::MachineRoot;

std::string KernelOf(const std::string& usr) {
  auto k = boot::FindStateKernel(usr);
  return k.ok() ? k->version : "";
}

}  // namespace

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
  ONIX_ASSIGN_OR_RETURN(moss::repo::ByNameResult ran,
                        moss::repo::RunByName(req.root, request, options));
  const moss::transaction::Result applied = ran.applied.value_or(moss::transaction::Result{});
  result.plan = moss::repo::FormatPlan(ran.plan);

  ONIX_ASSIGN_OR_RETURN(MachineRoot machine, MachineRoot::Open(req.root, Access::kRead));
  ONIX_ASSIGN_OR_RETURN(std::optional<std::string> now, machine.ActiveFstx());
  result.to_fstx = now.value_or("");
  if (req.dry_run || result.to_fstx == result.from_fstx) {
    result.to_fstx = result.from_fstx;
    return result;
  }
  result.old_kernel = old_kernel;
  result.new_kernel = KernelOf(machine.UsrDirOf(result.to_fstx, /*active=*/true));
  result.etc = applied.etc;
  result.warnings = applied.warnings;
  ONIX_RETURN_IF_ERROR(FinishMachineMove(req.root, req.run_dir, result.to_fstx, before,
                                         result.warnings, result.nix_changes));
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
  out += FormatEtcChanges(r.etc);
  for (const auto& w : r.warnings) out += StrCat("warning:     ", w, "\n");
  return out + FormatPlaneLines(r.nix_changes);
}

std::string FormatEtcChanges(const std::vector<moss::etcmerge::EtcChange>& changes) {
  using Action = moss::etcmerge::EtcChange::Action;
  std::string out;
  for (const auto& e : changes) {
    switch (e.action) {
      case Action::kAdded:
        out += StrCat("etc:         added /etc/", e.path, " (new factory default)\n");
        break;
      case Action::kUpdated:
        out += StrCat("etc:         updated /etc/", e.path, " to the new factory default\n");
        break;
      case Action::kRemoved:
        out += StrCat("etc:         removed /etc/", e.path, " (no longer a factory default)\n");
        break;
      case Action::kKeptLocal:
        out +=
            StrCat("etc:         kept your /etc/", e.path,
                   "; its factory default changed (onix etc diff --upstream /etc/", e.path, ")\n");
        break;
    }
  }
  return out;
}

}  // namespace onix::cli

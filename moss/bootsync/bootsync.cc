#include "moss/bootsync/bootsync.h"

#include <sys/stat.h>

#include <vector>

#include "boot/bls/states.h"
#include "boot/bls/sync.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"

namespace onix::moss::bootsync {
namespace {

absl::Status Sync(const std::string& root, const std::vector<transaction::RetainedState>& states) {
  std::vector<boot::StateBootInfo> infos;
  infos.reserve(states.size());
  bool any_kernel = false;
  for (const auto& s : states) {
    infos.push_back({s.fstx, s.usr_dir, s.created_unix, s.active});
    any_kernel = any_kernel || boot::FindStateKernel(s.usr_dir).ok();
  }
  const boot::BootConfig config = boot::WithDefaults(boot::DetectBootConfig(root));
  struct stat st;
  if (::stat(config.esp_dir.c_str(), &st) != 0) {
    // A root whose states carry no kernel (a container-style root, a test root) has nothing to
    // boot and no boot partition to keep clean; one with a kernel gets its /boot made.
    if (!any_kernel) return absl::OkStatus();
    ONIX_ASSIGN_OR_RETURN(UniqueFd root_fd, fs::OpenDir(root));
    ONIX_RETURN_IF_ERROR(fs::MkdirAllAt(root_fd.get(), "boot", 0755));
  }
  return boot::SyncBootEntries(config, infos);
}

}  // namespace

transaction::BootHook MakeBootHook() { return Sync; }

absl::Status SyncBoot(transaction::MachineRoot& root) {
  ONIX_ASSIGN_OR_RETURN(std::vector<transaction::RetainedState> states, root.RetainedStates());
  return Sync(root.path(), states);
}

}  // namespace onix::moss::bootsync

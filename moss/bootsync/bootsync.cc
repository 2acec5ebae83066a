#include "moss/bootsync/bootsync.h"

#include <vector>

#include "boot/bls/states.h"
#include "boot/bls/sync.h"
#include "moss/base/status.h"

namespace onix::moss::bootsync {
namespace {

absl::Status Sync(const std::string& root, const std::vector<transaction::RetainedState>& states) {
  std::vector<boot::StateBootInfo> infos;
  infos.reserve(states.size());
  for (const auto& s : states) {
    infos.push_back({s.fstx, s.usr_dir, s.created_unix, s.active});
  }
  return Annotate(boot::SyncBootEntries(boot::DetectBootConfig(root), infos),
                  "syncing boot entries");
}

}  // namespace

transaction::BootHook MakeBootHook() { return Sync; }

absl::Status SyncBoot(transaction::MachineRoot& root) {
  ONIX_ASSIGN_OR_RETURN(std::vector<transaction::RetainedState> states, root.RetainedStates());
  return Sync(root.path(), states);
}

}  // namespace onix::moss::bootsync

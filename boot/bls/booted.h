// Which state this boot started, and boot assessment of it: `moss boot mark-good` marks the
// booted entry good and, after an automatic fallback, makes the fallback state the default.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "boot/bls/sync.h"

namespace onix::boot {

// Where the running boot is described. Empty fields are not read (a --root that is not the
// running machine has neither).
struct BootedSources {
  std::string cmdline_path;  // "/proc/cmdline": moss.fstx= of the entry that was booted
  std::string efivars_dir;   // "/sys/firmware/efi/efivars": systemd-boot's LoaderEntrySelected
};

// The sources of the running machine.
BootedSources LiveBootedSources();

// systemd-boot's LoaderEntrySelected variable (vendor 4a67b082-0a4c-41cf-b6c7-440b29bb8c4f) in
// `efivars_dir`: the id of the entry the loader started, e.g. "onix-2-bbbb+2-1.conf" (a 4-byte
// attribute header, then UTF-16LE, NUL-terminated). NotFound when the variable is not set.
absl::StatusOr<std::string> ReadLoaderEntrySelected(std::string_view efivars_dir);

struct BootedState {
  std::string fstx;
  std::string source;  // how it was found, for messages: "LoaderEntrySelected=onix-...conf"
};

// The state this boot started: LoaderEntrySelected when it names an onix entry, else
// moss.fstx= in the command line, else (no boot information: a root that is not running) the
// active state, ROOT/usr/.fstx. Reads only.
absl::StatusOr<BootedState> FindBootedState(std::string_view root, const BootedSources& sources);

struct MarkGoodResult {
  std::string fstx;    // the state whose entry was marked good
  std::string source;  // how the state was found ("--fstx", or FindBootedState's source)
  // The entry that sorts first (sort-key onix-0) had used up its boot tries: systemd-boot fell
  // back to this state. The entries were then regenerated so this (active) state is the
  // default; the bad entry keeps its +0-N name.
  bool fell_back = false;
  std::vector<std::string> bad_entries;  // entry files whose boot tries are used up
};

// Boot assessment after a successful boot. `fstx` empty means the booted state
// (FindBootedState), which must be the active state (the initrd's onix-select-fstx makes it
// so): FailedPrecondition otherwise, with nothing renamed. Then its entry is renamed to the
// plain name (MarkEntryGood), and after a fallback SyncBootEntries runs over the root's states
// (DiscoverStates). Crash behaviour: that of MarkEntryGood, then of SyncBootEntries.
absl::StatusOr<MarkGoodResult> MarkBootedGood(const BootConfig& config, std::string_view fstx,
                                              const BootedSources& sources);

}  // namespace onix::boot

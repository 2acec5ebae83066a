// Discovering the machine states of a root from its on-disk layout, for `moss boot sync`
// until moss/state provides the list: ROOT/usr is the active state, ROOT/.moss/root/<fstx>/usr
// the archived ones; ROOT/usr/.fstx inside each tree says which state a tree is.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "boot/bls/sync.h"

namespace onix::boot {

// Reads the state id of the usr tree `usr_dir` from its .fstx file (trimmed). NotFound when
// the tree has no .fstx.
absl::StatusOr<std::string> ReadTreeFstx(std::string_view usr_dir);

// Lists the states of `root`: the active one (ROOT/usr, id from ROOT/usr/.fstx) first, then
// every ROOT/.moss/root/<dir>/usr whose .fstx names a state (the id comes from .fstx, so a
// directory whose name disagrees is still reported under its true id). created_unix is the
// tree's mtime. FailedPrecondition when ROOT/usr has no .fstx; staging trees and trees
// without .fstx are skipped. Reads only.
absl::StatusOr<std::vector<StateBootInfo>> DiscoverStates(std::string_view root);

// The boot layout of `root`: when ROOT/efi holds an ESP (EFI/ or loader/), it is the ESP and
// ROOT/boot the XBOOTLDR partition; otherwise ROOT/boot is the ESP. boot_tries comes from
// ROOT/etc/kernel/tries when that file exists (a malformed one gives boot_tries 0, which
// SyncBootEntries rejects naming the file). Reads only.
BootConfig DetectBootConfig(std::string_view root);

}  // namespace onix::boot

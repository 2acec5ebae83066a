// The seam between the transaction engine and /boot: after every transaction, activation and
// prune, the boot entries are regenerated from the retained states (boot::SyncBootEntries).
#pragma once

#include "absl/status/status.h"
#include "moss/transaction/root.h"
#include "moss/transaction/transaction.h"

namespace onix::moss::bootsync {

// A transaction::BootHook that syncs ROOT's boot partition(s) from `states`, with the layout
// detected under ROOT (ESP at ROOT/boot, or ROOT/efi as ESP with ROOT/boot as XBOOTLDR).
// States without a kernel get no entry; a root without any kernel ends up with no ONIX entries.
transaction::BootHook MakeBootHook();

// Syncs now, from the root's retained states (after a prune, or from `moss boot sync`).
absl::Status SyncBoot(transaction::MachineRoot& root);

}  // namespace onix::moss::bootsync

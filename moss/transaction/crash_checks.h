// Test helpers of the crash-safety proof (testonly): what "consistent after recovery" means,
// shared by the crash matrix, the kill storm and the disk-full test.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "moss/transaction/root.h"
#include "tests/testing/temp_root.h"

namespace onix::moss::transaction {

// The tree at `rel` below `root`, path -> type, mode and hash, without .fstx (whose token
// differs per build), for "exactly this state".
std::map<std::string, std::string> UsrHash(const onix::testing::TempRoot& root,
                                           std::string_view rel = "usr");

// The fstx ROOT/usr names, "" for none.
std::string ActiveFstxOf(const std::string& root);

// Asserts (gtest failures prefixed with `where`) that the root agrees with its active state:
// every retained tree walks and hashes as its manifest says and every object a retained state
// needs is in the store (state verify); no candidate row, staging tree or journal is left;
// exactly one state is active and it is the one ROOT/usr names; the history's HEAD is the
// active state and there is one ref per retained state; each of `etc_defaults` (names below
// /etc) is in ROOT/etc with the default's bytes exactly when the active /usr ships it; and,
// when `boot` is set, ROOT/boot has an entry for the active state and the newest archived ones
// the boot layer retains (BootConfig::retain), each kernel copy present, the
// active state's entry first (sort key onix-0) and "default onix-*" in loader.conf.
void ExpectConsistent(MachineRoot& root, std::string_view where, bool boot,
                      const std::vector<std::string>& etc_defaults = {});

}  // namespace onix::moss::transaction

#include "moss/bootsync/bootsync.h"

#include <algorithm>

#include "boot/bls/entries.h"
#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/transaction/selection.h"
#include "tests/testing/stones.h"
#include "tests/testing/temp_root.h"

namespace onix::moss::bootsync {
namespace {

using transaction::Access;
using transaction::MachineRoot;

std::vector<std::string> EntryFstxs(const std::string& boot_dir) {
  auto entries = boot::ListOnixEntries(boot_dir);
  EXPECT_TRUE(entries.ok()) << entries.status();
  std::vector<std::string> out;
  for (const auto& e : *entries) out.push_back(e.name.fstx);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(BootHook, EveryTransactionAndActivationLeavesEntriesForTheRetainedKernelStates) {
  auto root = onix::testing::TempRoot::Make();
  ASSERT_TRUE(root.ok()) << root.status();
  ASSERT_TRUE(fs::MkdirAllAt(root->fd(), "boot", 0755).ok());
  ASSERT_TRUE(fs::MkdirAllAt(root->fd(), "stones", 0755).ok());
  const std::string stones = root->Path("stones");
  auto kernel1 = onix::testing::MakeStone(stones, "linux", "6.1", 1,
                                          {{"lib/kernel/6.1.0/vmlinuz", "kernel-one", 0644, ""},
                                           {"lib/kernel/6.1.0/initrd", "initrd-one", 0644, ""}});
  auto kernel2 = onix::testing::MakeStone(stones, "linux", "6.2", 1,
                                          {{"lib/kernel/6.2.0/vmlinuz", "kernel-two", 0644, ""},
                                           {"lib/kernel/6.2.0/initrd", "initrd-two", 0644, ""}});
  ASSERT_TRUE(kernel1.ok()) << kernel1.status();
  ASSERT_TRUE(kernel2.ok()) << kernel2.status();

  transaction::Options options;
  options.boot_hook = MakeBootHook();
  std::string first, second;
  {
    auto m = MachineRoot::Open(root->path(), Access::kWrite);
    ASSERT_TRUE(m.ok()) << m.status();
    auto sel = transaction::InstallSelection(*m, {*kernel1});
    ASSERT_TRUE(sel.ok()) << sel.status();
    auto r = transaction::Apply(*m, *sel, options);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->warnings.empty());
    first = r->plan.to_fstx;
    sel = transaction::InstallSelection(*m, {*kernel2});
    ASSERT_TRUE(sel.ok()) << sel.status();
    r = transaction::Apply(*m, *sel, options);
    ASSERT_TRUE(r.ok()) << r.status();
    second = r->plan.to_fstx;
  }
  std::vector<std::string> want{first, second};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(EntryFstxs(root->Path("boot")), want);
  auto conf = boot::ReadFilePath(root->Path("boot/loader/loader.conf"));
  ASSERT_TRUE(conf.ok()) << conf.status();

  // Rolling back keeps both entries; the active state's entry is the default one.
  auto m = MachineRoot::Open(root->path(), Access::kWrite);
  ASSERT_TRUE(m.ok());
  auto r = transaction::Activate(*m, first, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(EntryFstxs(root->Path("boot")), want);
  ASSERT_TRUE(SyncBoot(*m).ok());
  EXPECT_EQ(EntryFstxs(root->Path("boot")), want);
}

}  // namespace
}  // namespace onix::moss::bootsync

#include "moss/transaction/crash_checks.h"

#include <string.h>

#include <algorithm>
#include <set>

#include "boot/bls/entries.h"
#include "boot/bls/sync.h"
#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/str_cat.h"
#include "moss/state/tree.h"
#include "moss/transaction/maintenance.h"

namespace onix::moss::transaction {

std::map<std::string, std::string> UsrHash(const onix::testing::TempRoot& root,
                                           std::string_view rel) {
  std::map<std::string, std::string> usr = root.HashTree(rel);
  usr.erase(".fstx");
  return usr;
}

std::string ActiveFstxOf(const std::string& root) {
  auto r = MachineRoot::Open(root, Access::kRead);
  if (!r.ok()) return "";
  auto active = r->ActiveFstx();
  return active.ok() && *active ? **active : "";
}

void ExpectConsistent(MachineRoot& r, std::string_view where, bool boot,
                      const std::vector<std::string>& etc_defaults) {
  const std::string active = ActiveFstxOf(r.path());
  auto verify = Verify(r, false);
  ASSERT_TRUE(verify.ok()) << where << ": " << verify.status();
  for (const auto& p : verify->problems) {
    ADD_FAILURE() << where << ": verify: " << p.where << " " << p.path << " " << p.problem;
  }
  auto states = r.RetainedStates();
  auto all = r.db().States(true);
  ASSERT_TRUE(states.ok() && all.ok());
  EXPECT_EQ(states->size(), all->size()) << where << ": a state without a tree or a candidate";
  std::set<std::string> retained;
  size_t actives = 0;
  for (const auto& s : *states) {
    retained.insert(s.fstx);
    if (s.active) {
      ++actives;
      EXPECT_EQ(s.fstx, active) << where;
    }
  }
  EXPECT_EQ(actives, 1u) << where;
  EXPECT_FALSE(*fs::ExistsAt(r.fd(), ".moss/root/staging")) << where;
  EXPECT_FALSE(*fs::ExistsAt(r.fd(), ".moss/journal")) << where;

  const std::string git = StrCat("git --git-dir ", r.path(), "/.moss/history.git ");
  EXPECT_NE(onix::testing::RunCommand(git + "show HEAD:state").find("fstx " + active + "\n"),
            std::string::npos)
      << where;
  auto refs = r.history().StateRefs();
  ASSERT_TRUE(refs.ok());
  EXPECT_EQ(std::set<std::string>(refs->begin(), refs->end()), retained) << where;

  // /etc follows the active state's factory defaults.
  for (const auto& name : etc_defaults) {
    const std::string def = StrCat("usr/share/defaults/etc/", name);
    const bool shipped = *fs::ExistsAt(r.fd(), def);
    EXPECT_EQ(*fs::ExistsAt(r.fd(), StrCat("etc/", name)), shipped) << where << ": /etc/" << name;
    auto have = fs::ReadFileAt(r.fd(), StrCat("etc/", name), 1 << 20);
    if (shipped && have.ok()) {
      EXPECT_EQ(*have, *fs::ReadFileAt(r.fd(), def, 1 << 20)) << where << ": /etc/" << name;
    }
  }

  if (!boot) return;
  auto entries = boot::ListOnixEntries(StrCat(r.path(), "/boot"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  std::set<std::string> with_entry;
  for (const auto& e : *entries) {
    with_entry.insert(e.name.fstx);
    EXPECT_EQ(e.sort_key, e.name.fstx == active ? "onix-0" : "onix-1") << where << " " << e.file;
    EXPECT_TRUE(*fs::ExistsAt(r.fd(), StrCat("boot", e.linux))) << where << " " << e.linux;
  }
  // The boot layer's retention: the active state plus the newest `retain` archived ones.
  std::vector<const RetainedState*> archived;
  std::set<std::string> want{active};
  for (const auto& s : *states) {
    if (!s.active) archived.push_back(&s);
  }
  std::sort(archived.begin(), archived.end(), [](const RetainedState* a, const RetainedState* b) {
    if (a->created_unix != b->created_unix) return a->created_unix > b->created_unix;
    return ::strverscmp(a->fstx.c_str(), b->fstx.c_str()) > 0;
  });
  const size_t retain = static_cast<size_t>(boot::BootConfig{}.retain);
  for (size_t i = 0; i < archived.size() && i < retain; ++i) want.insert(archived[i]->fstx);
  EXPECT_EQ(with_entry, want) << where;
  auto conf = fs::ReadFileAt(r.fd(), "boot/loader/loader.conf", 1 << 16);
  EXPECT_TRUE(conf.ok() && conf->find("default onix-*") != std::string::npos) << where;
}

}  // namespace onix::moss::transaction

// Crash matrix: install, remove, activate and prune SIGKILLed at every named point of their
// ladders and of the boot sync inside them, then recovered, leave /usr exactly the old or the
// new state (never half), with database, history, store, /etc and boot entries agreeing, and
// the next transaction works. Prints the table (point, outcome).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "boot/bls/entries.h"
#include "boot/bls/sync.h"
#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"
#include "moss/bootsync/bootsync.h"
#include "moss/state/tree.h"
#include "moss/transaction/crash_checks.h"
#include "moss/transaction/crash_point.h"
#include "moss/transaction/maintenance.h"
#include "moss/transaction/recover.h"
#include "moss/transaction/signals.h"
#include "moss/transaction/transaction.h"
#include "tests/testing/stones.h"
#include "tests/testing/temp_root.h"

namespace onix::moss::transaction {
namespace {

using onix::testing::MakeStone;
using onix::testing::TempRoot;

TEST(CrashPoint, IsInertUnlessNamedAndKillsWhenNamed) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::unsetenv("MOSS_CRASH_AT");
    CrashPoint("usr-exchanged");
    ::setenv("MOSS_CRASH_AT", "usr-exchanged", 1);
    CrashPoint("root-links");
    CrashPoint("usr-exchanged");
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST(FailPoint, IsInertUnlessNamed) {
  ::unsetenv("MOSS_FAIL_AT");
  EXPECT_TRUE(FailPoint("usr-renamed").ok());
  ::setenv("MOSS_FAIL_AT", "usr-renamed", 1);
  EXPECT_TRUE(FailPoint("candidate-intent").ok());
  EXPECT_TRUE(absl::IsInternal(FailPoint("usr-renamed")));
  ::unsetenv("MOSS_FAIL_AT");
}

volatile sig_atomic_t g_terms = 0;
void OnTerm(int) { g_terms = g_terms + 1; }

TEST(DeferSignals, HoldsSigtermUntilTheSectionEnds) {
  struct sigaction sa = {};
  struct sigaction old = {};
  sa.sa_handler = OnTerm;
  ASSERT_EQ(::sigaction(SIGTERM, &sa, &old), 0);
  g_terms = 0;
  {
    DeferSignals defer;
    ::raise(SIGTERM);
    EXPECT_EQ(g_terms, 0);
  }
  EXPECT_EQ(g_terms, 1);
  ::sigaction(SIGTERM, &old, nullptr);
}

bool IsBootSyncPoint(std::string_view point) { return point.rfind("boot-sync-", 0) == 0; }

// Every point of the transaction ladder, then every point inside the boot sync it runs.
std::vector<std::string> TransactionPoints() {
  std::vector<std::string> out(std::begin(kCrashPoints), std::end(kCrashPoints));
  for (size_t i = 0; i < boot::kBootSyncCrashPointCount; ++i) {
    out.push_back(boot::kBootSyncCrashPoints[i]);
  }
  return out;
}
std::vector<std::string> RemovalPoints() {
  std::vector<std::string> out(std::begin(kRemoveCrashPoints), std::end(kRemoveCrashPoints));
  for (size_t i = 0; i < boot::kBootSyncCrashPointCount; ++i) {
    out.push_back(boot::kBootSyncCrashPoints[i]);
  }
  return out;
}

// Whether a crash at `point` of a transaction must roll forward (the commit point passed).
bool AfterCommit(std::string_view point) {
  if (IsBootSyncPoint(point)) return true;
  for (size_t i = 0; i < std::size(kCrashPoints); ++i) {
    if (kCrashPoints[i] == point) return i >= kFirstForwardCrashPoint;
  }
  ADD_FAILURE() << "unknown point " << point;
  return false;
}

class CrashFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = TempRoot::Make();
    ASSERT_TRUE(root.ok());
    root_.emplace(std::move(*root));
    ASSERT_TRUE(fs::MkdirAllAt(root_->fd(), "boot", 0755).ok());
    const char* tmp = std::getenv("TEST_TMPDIR");
    auto stones = TempDir::Make("stones-", tmp ? tmp : "");
    ASSERT_TRUE(stones.ok());
    stones_.emplace(std::move(*stones));
    const std::string dir = stones_->path();
    // Two kernels (so a switch publishes a new kernel copy), an initrd in its own package (so
    // removing it changes the kernel's boot copy), and /etc factory defaults in beta.
    linux1_ = *MakeStone(dir, "linux", "6.1", 1, {{"lib/kernel/6.1.0/vmlinuz", "kernel-61", 0644}});
    linux2_ = *MakeStone(dir, "linux", "6.2", 1, {{"lib/kernel/6.2.0/vmlinuz", "kernel-62", 0644}});
    initrd1_ =
        *MakeStone(dir, "linux-initrd", "6.1", 1, {{"lib/kernel/6.1.0/initrd", "initrd-61", 0644}});
    a_ = *MakeStone(dir, "alpha", "1", 1, {{"bin/a", "alpha", 0755}});
    b_ = *MakeStone(dir, "beta", "1", 1,
                    {{"bin/b", "beta", 0755},
                     {"lib/libb.so", "b", 0644},
                     {"share/defaults/etc/beta.conf", "beta=1\n", 0644}});
    c_ = *MakeStone(dir, "gamma", "1", 1, {{"bin/c", "gamma", 0755}});
    options_.boot_hook = bootsync::MakeBootHook();
  }

  std::string ActiveNow() { return ActiveFstxOf(root_->path()); }

  std::map<std::string, std::string> UsrOf(const TempRoot& root, const std::string& rel) {
    return UsrHash(root, rel);
  }

  std::string Install(const std::vector<std::string>& stones) {
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    auto sel = InstallSelection(*r, stones);
    EXPECT_TRUE(sel.ok()) << sel.status();
    auto res = Apply(*r, *sel, options_);
    EXPECT_TRUE(res.ok()) << res.status();
    return res.ok() ? res->plan.to_fstx : "";
  }

  // /usr of a fresh root after the same installs, for "exactly the new state".
  std::map<std::string, std::string> Reference(
      const std::vector<std::vector<std::string>>& installs,
      const std::vector<std::string>& removals = {}) {
    auto ref = TempRoot::Make();
    auto r = MachineRoot::Open(ref->path(), Access::kWrite, LockWait::kFail);
    for (const auto& stones : installs)
      EXPECT_TRUE(Apply(*r, *InstallSelection(*r, stones), {}).ok());
    if (!removals.empty()) {
      EXPECT_TRUE(Apply(*r, *RemoveSelection(*r, removals), {}).ok());
    }
    return UsrOf(*ref, "usr");
  }

  // Runs `body` in a child with MOSS_CRASH_AT=point: 1 when it was killed there, 0 when it
  // finished without passing the point (successfully), -1 when it failed.
  template <typename Fn>
  int CrashIn(std::string_view point, Fn body) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::setenv("MOSS_CRASH_AT", std::string(point).c_str(), 1);
      auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
      ::_exit(r.ok() && body(*r).ok() ? 0 : 1);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) return 1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
  }

  // Recovers and checks every invariant; returns "rolled back" or "rolled forward".
  std::string RecoverAndCheck(const std::map<std::string, std::string>& old_usr,
                              const std::string& old_active,
                              const std::map<std::string, std::string>& new_usr,
                              std::string_view point) {
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    EXPECT_TRUE(r.ok()) << r.status();
    auto report = Recover(*r, options_);
    EXPECT_TRUE(report.ok()) << point << ": " << report.status();
    if (report.ok()) {
      for (const auto& w : report->warnings) ADD_FAILURE() << point << ": warning: " << w;
    }
    const std::map<std::string, std::string> now = UsrOf(*root_, "usr");
    const std::string active = ActiveNow();
    std::string outcome;
    if (now == old_usr && active == old_active) {
      outcome = "rolled back";
    } else if (now == new_usr) {
      outcome = "rolled forward";
    } else {
      ADD_FAILURE() << point << ": /usr is neither the old nor the new state";
      return "HALF";
    }
    // What recovery did is said in words a person (and the VM power-cut scenario) reads.
    if (report.ok()) {
      bool found_journal = false, says_outcome = false;
      for (const auto& a : report->actions) {
        found_journal = found_journal || a.rfind("found an interrupted", 0) == 0;
        says_outcome = says_outcome || a.rfind(outcome, 0) == 0;
      }
      EXPECT_TRUE(!found_journal || says_outcome)
          << point << ": recovery found a journal but no action says \"" << outcome << "\"";
    }
    CheckConsistent(*r, point);
    // The next transaction succeeds and gets its boot entry.
    auto sel = InstallSelection(*r, {c_});
    EXPECT_TRUE(sel.ok());
    auto next = Apply(*r, *sel, options_);
    EXPECT_TRUE(next.ok()) << point << ": " << next.status();
    if (next.ok()) {
      auto entries = boot::ListOnixEntries(root_->Path("boot"));
      bool found = false;
      for (const auto& e : *entries) found = found || e.name.fstx == next->plan.to_fstx;
      EXPECT_TRUE(found) << point << ": no boot entry for the next state";
    }
    return outcome;
  }

  void CheckConsistent(MachineRoot& r, std::string_view point) {
    ExpectConsistent(r, point, /*boot=*/true, {"beta.conf"});
  }

  void Report(std::string_view op, std::string_view point, std::string_view outcome) {
    std::printf("%-9s %-32s %s\n", std::string(op).c_str(), std::string(point).c_str(),
                std::string(outcome).c_str());
  }

  std::optional<TempRoot> root_;
  std::optional<TempDir> stones_;
  std::string linux1_, linux2_, initrd1_, a_, b_, c_;
  Options options_;
};

class CrashTest : public CrashFixture, public ::testing::WithParamInterface<std::string> {};

TEST_P(CrashTest, InstallKilledAtEveryPointRecoversToOldOrNew) {
  const std::string point = GetParam();
  Install({linux1_, a_});
  const auto before = UsrOf(*root_, "usr");
  const std::string old_active = ActiveNow();
  const auto expected = Reference({{linux1_, a_}, {linux2_, b_}});
  const int killed = CrashIn(point, [&](MachineRoot& r) -> absl::Status {
    ONIX_ASSIGN_OR_RETURN(Selection sel, InstallSelection(r, {linux2_, b_}));
    return Apply(r, sel, options_).status();
  });
  ASSERT_EQ(killed, 1) << "not killed at " << point;
  const std::string outcome = RecoverAndCheck(before, old_active, expected, point);
  EXPECT_EQ(outcome, AfterCommit(point) ? "rolled forward" : "rolled back") << point;
  Report("install", point, outcome);
}

TEST_P(CrashTest, RemoveKilledAtEveryPointRecoversToOldOrNew) {
  const std::string point = GetParam();
  Install({linux1_, initrd1_, a_, b_});
  const auto before = UsrOf(*root_, "usr");
  const std::string old_active = ActiveNow();
  const auto expected = Reference({{linux1_, initrd1_, a_, b_}}, {"linux-initrd", "beta"});
  const int killed = CrashIn(point, [&](MachineRoot& r) -> absl::Status {
    ONIX_ASSIGN_OR_RETURN(Selection sel, RemoveSelection(r, {"linux-initrd", "beta"}));
    return Apply(r, sel, options_).status();
  });
  ASSERT_EQ(killed, 1) << "not killed at " << point;
  const std::string outcome = RecoverAndCheck(before, old_active, expected, point);
  EXPECT_EQ(outcome, AfterCommit(point) ? "rolled forward" : "rolled back") << point;
  Report("remove", point, outcome);
}

// The very first transaction of a root (no /usr yet: the commit point is a no-replace rename).
TEST_P(CrashTest, FirstInstallKilledAtEveryPointRecoversToNothingOrNew) {
  const std::string point = GetParam();
  const auto expected = Reference({{linux1_, a_}});
  const int killed = CrashIn(point, [&](MachineRoot& r) -> absl::Status {
    ONIX_ASSIGN_OR_RETURN(Selection sel, InstallSelection(r, {linux1_, a_}));
    return Apply(r, sel, options_).status();
  });
  ASSERT_EQ(killed, 1) << "not killed at " << point;
  auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
  ASSERT_TRUE(r.ok());
  auto report = Recover(*r, options_);
  ASSERT_TRUE(report.ok()) << point << ": " << report.status();
  std::string outcome;
  if (!*fs::ExistsAt(root_->fd(), "usr")) {
    outcome = "rolled back";
    EXPECT_TRUE(r->db().States(true)->empty()) << point;
    EXPECT_FALSE(*fs::ExistsAt(root_->fd(), ".moss/journal")) << point;
    EXPECT_FALSE(*fs::ExistsAt(root_->fd(), ".moss/root/staging")) << point;
    EXPECT_TRUE(r->store().List()->empty()) << point << ": the candidate's objects stayed";
    auto entries = boot::ListOnixEntries(root_->Path("boot"));
    EXPECT_TRUE(entries.ok() && entries->empty()) << point;
  } else if (UsrOf(*root_, "usr") == expected) {
    outcome = "rolled forward";
    CheckConsistent(*r, point);
  } else {
    ADD_FAILURE() << point << ": /usr is neither absent nor the new state";
    outcome = "HALF";
  }
  EXPECT_EQ(outcome, AfterCommit(point) ? "rolled forward" : "rolled back") << point;
  auto sel = InstallSelection(*r, {linux1_, c_});  // with a kernel, so it gets an entry
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(Apply(*r, *sel, options_).ok()) << point;
  CheckConsistent(*r, StrCat(point, " + next"));
  Report("first", point, outcome);
}

TEST_P(CrashTest, ActivateKilledAtEveryPointRecoversToOldOrNew) {
  const std::string point = GetParam();
  const std::string first = Install({linux1_, a_});
  const auto target = UsrOf(*root_, "usr");
  Install({linux2_, b_});
  const auto before = UsrOf(*root_, "usr");
  const std::string old_active = ActiveNow();
  const int killed =
      CrashIn(point, [&](MachineRoot& r) { return Activate(r, first, options_).status(); });
  if (point == "boot-sync-kernel-staged" && killed == 0) {
    // The target's kernel is still published (it is a retained state): nothing to copy, so
    // the sync never passes this point. The activation finished; check it like the others.
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    ASSERT_TRUE(r.ok());
    CheckConsistent(*r, point);
    EXPECT_EQ(UsrOf(*root_, "usr"), target);
    Report("activate", point, "not on the path (kernel already published)");
    return;
  }
  ASSERT_EQ(killed, 1) << "not killed at " << point;
  const std::string outcome = RecoverAndCheck(before, old_active, target, point);
  EXPECT_EQ(outcome, AfterCommit(point) ? "rolled forward" : "rolled back") << point;
  Report("activate", point, outcome);
}

std::string ParamName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (auto& ch : name) ch = ch == '-' ? '_' : ch;
  return name;
}

INSTANTIATE_TEST_SUITE_P(EveryPoint, CrashTest, ::testing::ValuesIn(TransactionPoints()),
                         ParamName);

class PruneCrashTest : public CrashTest {};

TEST_P(PruneCrashTest, PruneKilledAtEveryPointRemovesTheStateWholeOrNotAtAll) {
  const std::string point = GetParam();
  std::vector<std::string> ids;
  // Each state holds only its own packages, so pruning state 1 frees its objects.
  for (const auto& stones : std::vector<std::vector<std::string>>{{linux1_, a_}, {linux2_, b_}}) {
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    Selection sel;
    for (const auto& s : stones) sel.push_back(*SelectStoneFile(s));
    auto res = Apply(*r, sel, options_);
    ASSERT_TRUE(res.ok()) << res.status();
    ids.push_back(res->plan.to_fstx);
  }
  const auto before = UsrOf(*root_, "usr");
  const int killed = CrashIn(
      point, [&](MachineRoot& r) { return Prune(r, 1, false, options_.boot_hook).status(); });
  if ((point == "boot-sync-kernel-staged" || point == "boot-sync-entry-written") && killed == 0) {
    // Pruning publishes no kernel and writes no entry (the kept one is unchanged).
    Report("prune", point, "not on the path (nothing to publish)");
  } else {
    ASSERT_EQ(killed, 1) << "not killed at " << point;
    Report("prune", point, point == "remove-intent" ? "rolled back" : "rolled forward");
  }
  auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
  ASSERT_TRUE(r.ok());
  auto report = Recover(*r, options_);
  ASSERT_TRUE(report.ok()) << report.status();
  // The removal's commit point is the rename to .trash: a crash before it keeps the state
  // whole; from it on, the state is gone completely. The active state is untouched.
  auto states = r->RetainedStates();
  const bool removed = point != "remove-intent";
  ASSERT_EQ(states->size(), removed ? 1u : 2u) << point;
  EXPECT_EQ(states->back().fstx, ids[1]);
  EXPECT_EQ(UsrOf(*root_, "usr"), before);
  EXPECT_FALSE(*fs::ExistsAt(root_->fd(), StrCat(".moss/root/.trash-", ids[0])));
  CheckConsistent(*r, point);
  if (removed) {
    // Nothing the pruned state alone referenced stays: alpha's and kernel 6.1's objects are
    // gone (beta's two files and kernel 6.2's remain).
    EXPECT_EQ(r->store().List()->size(), 4u) << point;
  }
  auto sel = InstallSelection(*r, {c_});
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(Apply(*r, *sel, options_).ok()) << point;
}

INSTANTIATE_TEST_SUITE_P(EveryPoint, PruneCrashTest, ::testing::ValuesIn(RemovalPoints()),
                         ParamName);

// The rollback ladder in-process: a failure at each step before the commit point (including
// right after the rename, which needs the reverse exchange) leaves the old state active, the
// candidate quarantined, no row, no staging, no journal, and the next transaction works.
TEST_F(CrashFixture, FailureAtEveryStepBeforeTheCommitRollsBackByTheLadder) {
  Install({linux1_, a_});
  const std::string old_active = ActiveNow();
  const auto before = UsrOf(*root_, "usr");
  const auto boot_before = UsrOf(*root_, "boot");
  for (const char* step :
       {"candidate-intent", "tx-triggers-intent", "usr-exchange-intent", "usr-renamed"}) {
    ::setenv("MOSS_FAIL_AT", step, 1);
    std::string candidate;
    {
      auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
      auto res = Apply(*r, *InstallSelection(*r, {linux2_, b_}), options_);
      ::unsetenv("MOSS_FAIL_AT");
      ASSERT_FALSE(res.ok()) << step;
      EXPECT_TRUE(absl::IsInternal(res.status())) << res.status();
      EXPECT_NE(res.status().message().find(StrCat("injected failure at ", step)),
                std::string::npos)
          << res.status();
      EXPECT_NE(res.status().message().find("rolled back; the active state is unchanged"),
                std::string::npos)
          << res.status();
      EXPECT_EQ(UsrOf(*root_, "usr"), before) << step;
      EXPECT_EQ(ActiveNow(), old_active) << step;
      EXPECT_EQ(UsrOf(*root_, "boot"), boot_before) << step;
      ExpectConsistent(*r, step, /*boot=*/true, {"beta.conf"});
      // Only beta's and kernel 6.2's objects were new; they are freed again.
      EXPECT_EQ(r->store().List()->size(), 2u) << step;
    }
    if (std::string(step) != "candidate-intent") {
      // A finished candidate is kept for inspection, and only the newest one.
      auto qdir = fs::OpenDirAt(root_->fd(), ".moss/quarantine");
      ASSERT_TRUE(qdir.ok()) << step << ": " << qdir.status();
      auto q = fs::ListDir(qdir->get());
      ASSERT_TRUE(q.ok()) << step;
      ASSERT_EQ(q->size(), 1u) << step;
      auto tree = fs::OpenDirAt(root_->fd(), ".moss/quarantine/" + q->front());
      ASSERT_TRUE(tree.ok());
      EXPECT_EQ(state::ReadTreeId(tree->get())->fstx, q->front()) << step;
    }
  }
  // A prune gives the quarantined candidate's space back.
  {
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    ASSERT_TRUE(Prune(*r, 1, false, options_.boot_hook).ok());
    EXPECT_FALSE(*fs::ExistsAt(root_->fd(), ".moss/quarantine"));
  }
  // A failing activation goes back to its archive.
  const std::string second = Install({linux2_, b_});
  const auto second_usr = UsrOf(*root_, "usr");
  ::setenv("MOSS_FAIL_AT", "usr-renamed", 1);
  {
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    auto res = Activate(*r, old_active, options_);
    ::unsetenv("MOSS_FAIL_AT");
    ASSERT_FALSE(res.ok());
    EXPECT_EQ(ActiveNow(), second);
    EXPECT_EQ(UsrOf(*root_, "usr"), second_usr);
    EXPECT_EQ(UsrOf(*root_, StrCat(".moss/root/", old_active, "/usr")), before);
    ExpectConsistent(*r, "activate", /*boot=*/true, {"beta.conf"});
    EXPECT_TRUE(Activate(*r, old_active, options_).ok());
  }
  EXPECT_EQ(UsrOf(*root_, "usr"), before);
}

// Recovery is itself crash-safe: killed at any point of its own work (the forward phases
// after a crash past the commit point, the rollback ladder after one before it), the next
// recovery finishes the job and the root is consistent.
TEST_F(CrashFixture, RecoveryKilledAtEveryPointOfItsOwnWorkIsFinishedByTheNext) {
  Install({linux1_, a_});
  std::vector<std::pair<std::string, std::string>> cases;  // transaction point, recovery point
  for (size_t i = kFirstForwardCrashPoint + 2; i < std::size(kCrashPoints); ++i) {
    cases.push_back({"usr-renamed", std::string(kCrashPoints[i])});
  }
  for (const auto& p : kRollbackCrashPoints) {
    if (p != "rollback-exchanged") cases.push_back({"tx-triggers-done", std::string(p)});
  }
  for (const auto& [in_tx, in_recovery] : cases) {
    const std::string where = StrCat(in_tx, " then ", in_recovery);
    const std::string before = ActiveNow();
    const auto before_usr = UsrOf(*root_, "usr");
    // Alternate the kernel so every switch has work for the boot sync.
    const std::string kernel =
        UsrOf(*root_, "usr").count("lib/kernel/6.1.0/vmlinuz") ? linux2_ : linux1_;
    ASSERT_EQ(CrashIn(in_tx,
                      [&](MachineRoot& r) -> absl::Status {
                        ONIX_ASSIGN_OR_RETURN(Selection sel, InstallSelection(r, {kernel}));
                        return Apply(r, sel, options_).status();
                      }),
              1)
        << where;
    ASSERT_EQ(CrashIn(in_recovery, [&](MachineRoot& r) { return Recover(r, options_).status(); }),
              1)
        << where << ": recovery did not pass " << in_recovery;
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    auto report = Recover(*r, options_);
    ASSERT_TRUE(report.ok()) << where << ": " << report.status();
    const bool forward = in_tx == "usr-renamed";
    if (forward) {
      EXPECT_NE(ActiveNow(), before) << where;
    } else {
      EXPECT_EQ(ActiveNow(), before) << where;
      EXPECT_EQ(UsrOf(*root_, "usr"), before_usr) << where;
    }
    ExpectConsistent(*r, where, /*boot=*/true, {"beta.conf"});
    Report("recover", where, forward ? "rolled forward" : "rolled back");
  }
  // "rollback-exchanged" is passed only when /usr held the candidate: a transaction that fails
  // right after its exchange (MOSS_FAIL_AT=usr-renamed) reverses it, and is killed there.
  {
    const std::string where = "usr-renamed failing, then rollback-exchanged";
    const std::string before = ActiveNow();
    const auto before_usr = UsrOf(*root_, "usr");
    const std::string kernel =
        UsrOf(*root_, "usr").count("lib/kernel/6.1.0/vmlinuz") ? linux2_ : linux1_;
    ::setenv("MOSS_FAIL_AT", "usr-renamed", 1);
    const int crashed = CrashIn("rollback-exchanged", [&](MachineRoot& r) -> absl::Status {
      ONIX_ASSIGN_OR_RETURN(Selection sel, InstallSelection(r, {kernel}));
      return Apply(r, sel, options_).status();
    });
    ::unsetenv("MOSS_FAIL_AT");
    ASSERT_EQ(crashed, 1) << where << ": the failing transaction did not pass rollback-exchanged";
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    auto report = Recover(*r, options_);
    ASSERT_TRUE(report.ok()) << where << ": " << report.status();
    EXPECT_EQ(ActiveNow(), before) << where;
    EXPECT_EQ(UsrOf(*root_, "usr"), before_usr) << where;
    ExpectConsistent(*r, where, /*boot=*/true, {"beta.conf"});
    Report("recover", where, "rolled back");
  }
}

// A crash before the system triggers ran (or finished) makes recovery run them: their output
// is there afterwards.
TEST_F(CrashFixture, SystemTriggersCutShortByACrashAreRunByRecovery) {
  auto tool = onix::testing::FakeTriggerTool();
  ASSERT_TRUE(tool.ok()) << tool.status();
  const std::string tools = *MakeStone(
      stones_->path(), "systools", "1", 1,
      {{"lib/onix/tool", *tool, 0755},
       {"share/moss/triggers/sys.d/hello.trigger",
        "name = hello\nmatch = /usr/bin/*\nrun = /usr/lib/onix/tool write /etc/hello ran\n",
        0644}});
  ASSERT_TRUE(fs::MkdirAt(root_->fd(), "etc", 0755).ok());
  Install({linux1_, a_, tools});
  ASSERT_EQ(*fs::ReadFileAt(root_->fd(), "etc/hello", 1 << 10), "ran");
  for (const char* point : {"system-triggers-intent", "usr-renamed"}) {
    ASSERT_TRUE(fs::UnlinkAt(root_->fd(), "etc/hello").ok());
    const std::string kernel =
        UsrOf(*root_, "usr").count("lib/kernel/6.1.0/vmlinuz") ? linux2_ : linux1_;
    ASSERT_EQ(CrashIn(point,
                      [&](MachineRoot& r) -> absl::Status {
                        ONIX_ASSIGN_OR_RETURN(Selection sel, InstallSelection(r, {kernel, b_}));
                        return Apply(r, sel, options_).status();
                      }),
              1)
        << point;
    EXPECT_FALSE(*fs::ExistsAt(root_->fd(), "etc/hello")) << point;
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    auto report = Recover(*r, options_);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(fs::ReadFileAt(root_->fd(), "etc/hello", 1 << 10).value_or("missing"), "ran")
        << point;
    ExpectConsistent(*r, point, /*boot=*/true, {"beta.conf"});
    // Back to a state without beta for the next round.
    ASSERT_TRUE(Apply(*r, *RemoveSelection(*r, {"beta"}), options_).ok());
  }
}

// Recovery never guesses: when ROOT/usr is neither the tree the journal came from nor the one
// it went to (here: the right fstx but another token), it stops, says what to do, and changes
// nothing.
TEST_F(CrashFixture, RecoveryStopsWhenUsrIsNeitherTreeOfTheJournal) {
  Install({linux1_, a_});
  ASSERT_EQ(CrashIn("usr-exchange-intent",
                    [&](MachineRoot& r) -> absl::Status {
                      ONIX_ASSIGN_OR_RETURN(Selection sel, InstallSelection(r, {b_}));
                      return Apply(r, sel, options_).status();
                    }),
            1);
  auto usr = fs::OpenDirAt(root_->fd(), "usr");
  const state::TreeId id = *state::ReadTreeId(usr->get());
  ASSERT_TRUE(state::WriteTreeId(usr->get(), {id.fstx, "0123456789abcdef"}).ok());
  const auto staged = UsrOf(*root_, ".moss/root/staging/usr");
  auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
  auto report = Recover(*r, options_);
  ASSERT_TRUE(absl::IsFailedPrecondition(report.status())) << report.status();
  EXPECT_NE(report.status().message().find("will not guess"), std::string::npos);
  EXPECT_NE(report.status().message().find("then run moss state recover"), std::string::npos);
  EXPECT_TRUE(*fs::ExistsAt(root_->fd(), ".moss/journal"));
  EXPECT_EQ(UsrOf(*root_, ".moss/root/staging/usr"), staged);
  // Put right by hand, recovery finishes.
  ASSERT_TRUE(state::WriteTreeId(usr->get(), id).ok());
  EXPECT_TRUE(Recover(*r, options_).ok());
  ExpectConsistent(*r, "after the fix", /*boot=*/true, {"beta.conf"});
}

// Two moss processes never interleave: while one is stopped in the middle of its transaction
// (right after the exchange), a second one that may not wait is refused naming the holder, and
// one that waits blocks until the first is done, then builds on its result.
TEST_F(CrashFixture, SecondMossDuringATransactionWaitsOrIsRefused) {
  const std::string first = Install({linux1_, a_});
  const pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    ::setenv("MOSS_PAUSE_AT", "usr-renamed", 1);
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    ::_exit(r.ok() && Apply(*r, *InstallSelection(*r, {linux2_, b_}), options_).ok() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(holder, &status, WUNTRACED), holder);
  ASSERT_TRUE(WIFSTOPPED(status)) << "the first moss did not reach its pause point";
  auto journal = fs::ReadFileAt(root_->fd(), ".moss/journal", 1 << 20);
  ASSERT_TRUE(journal.ok()) << "the first moss is mid-transaction";

  // A second process that must not wait: refused, naming the holder; nothing changed.
  const auto mid_usr = UsrOf(*root_, "usr");
  const pid_t refused = ::fork();
  if (refused == 0) {
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    const bool ok =
        absl::IsUnavailable(r.status()) &&
        std::string(r.status().message()).find(std::to_string(holder)) != std::string::npos;
    ::_exit(ok ? 0 : 1);
  }
  ASSERT_EQ(::waitpid(refused, &status, 0), refused);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the second moss was not refused";

  // A second process that waits: still blocked after a while, then runs after the first.
  const pid_t waiter = ::fork();
  if (waiter == 0) {
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kWait);
    ::_exit(r.ok() && Apply(*r, *InstallSelection(*r, {c_}), options_).ok() ? 0 : 1);
  }
  ::usleep(500 * 1000);
  EXPECT_EQ(::waitpid(waiter, &status, WNOHANG), 0) << "the waiting moss did not wait";
  EXPECT_EQ(UsrOf(*root_, "usr"), mid_usr);
  EXPECT_EQ(*fs::ReadFileAt(root_->fd(), ".moss/journal", 1 << 20), *journal);
  ::kill(holder, SIGCONT);
  ASSERT_EQ(::waitpid(holder, &status, 0), holder);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(::waitpid(waiter, &status, 0), waiter);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  // Serial: state 3 (the waiter's) was built on state 2 (the first's), which was built on 1.
  auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
  auto states = r->db().States(true);
  ASSERT_EQ(states->size(), 3u);
  EXPECT_EQ((*states)[0].fstx, first);
  EXPECT_EQ((*states)[1].parent_fstx, first);
  EXPECT_EQ((*states)[2].parent_fstx, (*states)[1].fstx);
  auto m = r->ManifestOf((*states)[2]);
  EXPECT_NE(m->Find("beta"), nullptr);
  EXPECT_NE(m->Find("gamma"), nullptr);
  ExpectConsistent(*r, "after both", /*boot=*/true, {"beta.conf"});
}

// Issue 30: a post-commit phase that fails every time (history refusing a tree entry, a boot
// partition that cannot be written, ...) never wedges the root: the transaction finishes with
// a warning, recovery from a crash inside the phase finishes too, and every later command
// works. Each phase is failed with MOSS_FAIL_AT=<phase>, which stays set throughout.
struct PostCommitPhase {
  std::string phase;         // MOSS_FAIL_AT
  std::string intent_point;  // MOSS_CRASH_AT inside the phase
};
class PostCommitFailureTest : public CrashFixture,
                              public ::testing::WithParamInterface<PostCommitPhase> {
 protected:
  void TearDown() override { ::unsetenv("MOSS_FAIL_AT"); }
};

bool Mentions(const std::vector<std::string>& warnings, std::string_view what) {
  for (const auto& w : warnings) {
    if (w.find(what) != std::string::npos) return true;
  }
  return false;
}

TEST_P(PostCommitFailureTest, PermanentFailureIsAWarningAndTheRootStaysUsable) {
  const PostCommitPhase& p = GetParam();
  const std::string first = Install({linux1_, a_});
  const auto expected = Reference({{linux1_, a_}, {linux2_, b_}});
  const std::string injected = StrCat("injected failure at ", p.phase);
  ::setenv("MOSS_FAIL_AT", p.phase.c_str(), 1);

  // The transaction itself: finished, with the failure as a warning and no journal left.
  {
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    ASSERT_TRUE(r.ok()) << r.status();
    auto res = Apply(*r, *InstallSelection(*r, {linux2_, b_}), options_);
    ASSERT_TRUE(res.ok()) << p.phase << ": " << res.status();
    EXPECT_TRUE(Mentions(res->warnings, injected)) << p.phase;
    EXPECT_EQ(ActiveNow(), res->plan.to_fstx);
    EXPECT_EQ(UsrOf(*root_, "usr"), expected) << p.phase;
    EXPECT_FALSE(*fs::ExistsAt(root_->fd(), ".moss/journal")) << p.phase;
  }

  // A crash inside the phase, then recovery while the phase still fails: forward, finished.
  const int killed = CrashIn(p.intent_point, [&](MachineRoot& r) -> absl::Status {
    ONIX_ASSIGN_OR_RETURN(Selection sel, InstallSelection(r, {c_}));
    return Apply(r, sel, options_).status();
  });
  ASSERT_EQ(killed, 1) << "not killed at " << p.intent_point;
  ASSERT_TRUE(*fs::ExistsAt(root_->fd(), ".moss/journal"));
  auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
  ASSERT_TRUE(r.ok()) << r.status();
  auto report = Recover(*r, options_);
  ASSERT_TRUE(report.ok()) << p.phase << ": " << report.status();
  EXPECT_FALSE(*fs::ExistsAt(root_->fd(), ".moss/journal")) << p.phase;
  EXPECT_NE(UsrOf(*root_, "usr").count("bin/c"), 0u) << p.phase << ": not rolled forward";

  // Every later command works while the phase keeps failing.
  auto again = Recover(*r, options_);
  EXPECT_TRUE(again.ok()) << again.status();
  auto removed = Apply(*r, *RemoveSelection(*r, {"gamma"}), options_);
  EXPECT_TRUE(removed.ok()) << p.phase << ": " << removed.status();
  auto activated = Activate(*r, first, options_);
  EXPECT_TRUE(activated.ok()) << p.phase << ": " << activated.status();
  EXPECT_EQ(ActiveNow(), first);
  EXPECT_FALSE(*fs::ExistsAt(root_->fd(), ".moss/journal")) << p.phase;

  // Once the cause is gone, the next command catches up (the active state's history commit
  // and boot entries).
  ::unsetenv("MOSS_FAIL_AT");
  auto healed = Recover(*r, options_);
  ASSERT_TRUE(healed.ok()) << healed.status();
  for (const auto& w : healed->warnings) ADD_FAILURE() << p.phase << ": warning: " << w;
  auto next = Apply(*r, *InstallSelection(*r, {c_}), options_);
  ASSERT_TRUE(next.ok()) << next.status();
  const std::string git = StrCat("git --git-dir ", root_->path(), "/.moss/history.git ");
  EXPECT_NE(
      onix::testing::RunCommand(git + "show HEAD:state").find("fstx " + next->plan.to_fstx + "\n"),
      std::string::npos)
      << p.phase;
}

INSTANTIATE_TEST_SUITE_P(
    EveryPostCommitPhase, PostCommitFailureTest,
    ::testing::Values(PostCommitPhase{"root-links", "root-links-intent"},
                      PostCommitPhase{"system-triggers", "system-triggers-intent"},
                      PostCommitPhase{"boot-entries-synced", "boot-sync-intent"},
                      PostCommitPhase{"history-committed", "history-intent"}),
    [](const ::testing::TestParamInfo<PostCommitPhase>& info) {
      std::string name = info.param.phase;
      for (auto& ch : name) ch = ch == '-' ? '_' : ch;
      return name;
    });

}  // namespace
}  // namespace onix::moss::transaction

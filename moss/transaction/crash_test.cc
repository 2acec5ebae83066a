// Crash matrix: a transaction SIGKILLed at every named point of the ladder, then recovered,
// leaves /usr exactly the old or the new state (never half), with database, history and
// store agreeing, and the next transaction works.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <set>

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"
#include "moss/state/tree.h"
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

// What a root looks like, for "old or new, never half".
struct Snapshot {
  std::string active;
  std::map<std::string, std::string> usr;  // without .fstx (its token differs per build)
};

class CrashTest : public ::testing::TestWithParam<std::string_view> {
 protected:
  void SetUp() override {
    auto root = TempRoot::Make();
    ASSERT_TRUE(root.ok());
    root_.emplace(std::move(*root));
    const char* tmp = std::getenv("TEST_TMPDIR");
    auto stones = TempDir::Make("stones-", tmp ? tmp : "");
    ASSERT_TRUE(stones.ok());
    stones_.emplace(std::move(*stones));
    a_ = *MakeStone(stones_->path(), "alpha", "1", 1, {{"bin/a", "alpha", 0755, ""}});
    b_ = *MakeStone(stones_->path(), "beta", "1", 1,
                    {{"bin/b", "beta", 0755, ""}, {"lib/libb.so", "b", 0644, ""}});
    c_ = *MakeStone(stones_->path(), "gamma", "1", 1, {{"bin/c", "gamma", 0755, ""}});
  }

  Snapshot Snap() {
    Snapshot s;
    s.usr = root_->HashTree("usr");
    s.usr.erase(".fstx");
    auto usr = fs::OpenDirAt(root_->fd(), "usr");
    if (usr.ok()) {
      auto id = state::ReadTreeId(usr->get());
      if (id.ok()) s.active = id->fstx;
    }
    return s;
  }

  // Runs `body` in a child with MOSS_CRASH_AT=point; returns true when it was killed there.
  template <typename Fn>
  bool CrashIn(std::string_view point, Fn body) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::setenv("MOSS_CRASH_AT", std::string(point).c_str(), 1);
      auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
      ::_exit(r.ok() && body(*r).ok() ? 0 : 1);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  }

  // Recovers and checks the invariants; returns "rolled back" or "rolled forward".
  std::string RecoverAndCheck(const Snapshot& before, const Snapshot& after_expected_usr,
                              std::string_view point) {
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    EXPECT_TRUE(r.ok()) << r.status();
    auto report = Recover(*r);
    EXPECT_TRUE(report.ok()) << point << ": " << report.status();
    const Snapshot now = Snap();
    std::string outcome;
    if (now.usr == before.usr && now.active == before.active) {
      outcome = "rolled back";
    } else if (now.usr == after_expected_usr.usr) {
      outcome = "rolled forward";
    } else {
      ADD_FAILURE() << point << ": /usr is neither the old nor the new state";
      return "HALF";
    }
    // Database, trees, history and store agree.
    auto verify = Verify(*r, false);
    EXPECT_TRUE(verify.ok() && verify->problems.empty()) << point;
    auto states = r->RetainedStates();
    auto all = r->db().States(true);
    EXPECT_EQ(states->size(), all->size()) << point << ": a state without a tree or a candidate";
    size_t active = 0;
    for (const auto& s : *states) active += s.active ? 1 : 0;
    EXPECT_EQ(active, 1u) << point;
    EXPECT_FALSE(*fs::ExistsAt(root_->fd(), ".moss/root/staging")) << point;
    EXPECT_FALSE(*fs::ExistsAt(root_->fd(), ".moss/journal")) << point;
    if (point != "complete") {
      EXPECT_NE(report->actions.at(0).find("found an interrupted"), std::string::npos) << point;
    }
    const std::string git = StrCat("git --git-dir ", root_->path(), "/.moss/history.git ");
    EXPECT_NE(onix::testing::RunCommand(git + "show HEAD:state").find("fstx " + now.active),
              std::string::npos)
        << point;
    // The next transaction succeeds.
    auto sel = InstallSelection(*r, {c_});
    EXPECT_TRUE(sel.ok());
    auto next = Apply(*r, *sel, {});
    EXPECT_TRUE(next.ok()) << point << ": " << next.status();
    return outcome;
  }

  std::optional<TempRoot> root_;
  std::optional<TempDir> stones_;
  std::string a_, b_, c_;
};

TEST_P(CrashTest, InstallKilledAtEveryPointRecoversToOldOrNew) {
  const std::string_view point = GetParam();
  {
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    ASSERT_TRUE(Apply(*r, *InstallSelection(*r, {a_}), {}).ok());
  }
  const Snapshot before = Snap();
  // The new state's /usr, built once in a reference root.
  Snapshot expected;
  {
    auto ref = TempRoot::Make();
    auto r = MachineRoot::Open(ref->path(), Access::kWrite, LockWait::kFail);
    ASSERT_TRUE(Apply(*r, *InstallSelection(*r, {a_, b_}), {}).ok());
    expected.usr = ref->HashTree("usr");
    expected.usr.erase(".fstx");
  }
  ASSERT_TRUE(CrashIn(point,
                      [&](MachineRoot& r) -> absl::Status {
                        ONIX_ASSIGN_OR_RETURN(Selection sel, InstallSelection(r, {b_}));
                        return Apply(r, sel, {}).status();
                      }))
      << "not killed at " << point;
  const std::string outcome = RecoverAndCheck(before, expected, point);
  const bool after_commit = point != "candidate-prepared" && point != "tx-triggers-done" &&
                            point != "usr-exchange-intent";
  EXPECT_EQ(outcome, after_commit ? "rolled forward" : "rolled back") << point;
  std::printf("install  %-20s %s\n", std::string(point).c_str(), outcome.c_str());
}

TEST_P(CrashTest, ActivateKilledAtEveryPointRecoversToOldOrNew) {
  const std::string_view point = GetParam();
  std::string first;
  {
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    auto one = Apply(*r, *InstallSelection(*r, {a_}), {});
    ASSERT_TRUE(one.ok());
    first = one->plan.to_fstx;
  }
  const Snapshot target = Snap();
  {
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    ASSERT_TRUE(Apply(*r, *InstallSelection(*r, {b_}), {}).ok());
  }
  const Snapshot before = Snap();
  ASSERT_TRUE(CrashIn(point, [&](MachineRoot& r) { return Activate(r, first, {}).status(); }))
      << "not killed at " << point;
  const std::string outcome = RecoverAndCheck(before, target, point);
  const bool after_commit = point != "candidate-prepared" && point != "tx-triggers-done" &&
                            point != "usr-exchange-intent";
  EXPECT_EQ(outcome, after_commit ? "rolled forward" : "rolled back") << point;
  std::printf("activate %-20s %s\n", std::string(point).c_str(), outcome.c_str());
}

class PruneCrashTest : public CrashTest {};

TEST_P(PruneCrashTest, PruneKilledAtEveryPointRemovesTheStateWholeOrNotAtAll) {
  const std::string_view point = GetParam();
  std::vector<std::string> ids;
  for (const auto& stone : {a_, b_}) {
    // Each state holds only its own package, so pruning state 1 frees alpha's object.
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    auto res = Apply(*r, {*SelectStoneFile(stone)}, {});
    ASSERT_TRUE(res.ok());
    ids.push_back(res->plan.to_fstx);
  }
  const Snapshot before = Snap();
  ASSERT_TRUE(CrashIn(point, [&](MachineRoot& r) { return Prune(r, 1, false).status(); }))
      << "not killed at " << point;
  auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
  ASSERT_TRUE(r.ok());
  auto report = Recover(*r);
  ASSERT_TRUE(report.ok()) << report.status();
  // The removal's commit point is the rename to .trash: every point is after it, so the
  // state is gone completely, and the active state is untouched.
  auto states = r->RetainedStates();
  ASSERT_EQ(states->size(), 1u) << point;
  EXPECT_EQ((*states)[0].fstx, ids[1]);
  EXPECT_EQ(Snap().usr, before.usr);
  EXPECT_EQ(r->db().States(true)->size(), 1u);
  EXPECT_EQ(*r->history().StateRefs(), std::vector<std::string>{ids[1]});
  EXPECT_FALSE(*fs::ExistsAt(root_->fd(), StrCat(".moss/root/.trash-", ids[0])));
  // Garbage left by a crash before collection goes with the next collection.
  ASSERT_TRUE(CollectGarbage(*r).ok());
  auto verify = Verify(*r, false);
  EXPECT_TRUE(verify.ok() && verify->problems.empty());
  EXPECT_EQ(r->store().List()->size(), 2u) << point;  // beta's two files; alpha's is gone
  std::printf("prune    %-20s rolled forward\n", std::string(point).c_str());
}

INSTANTIATE_TEST_SUITE_P(EveryPoint, PruneCrashTest, ::testing::ValuesIn(kRemoveCrashPoints),
                         [](const auto& info) {
                           std::string name(info.param);
                           for (auto& ch : name) ch = ch == '-' ? '_' : ch;
                           return name;
                         });

INSTANTIATE_TEST_SUITE_P(EveryPoint, CrashTest, ::testing::ValuesIn(kCrashPoints),
                         [](const auto& info) {
                           std::string name(info.param);
                           for (auto& ch : name) ch = ch == '-' ? '_' : ch;
                           return name;
                         });

}  // namespace
}  // namespace onix::moss::transaction

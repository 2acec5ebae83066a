// Kill storm: 200 transactions (install, remove, kernel update, activation, prune, with the
// boot hook), each SIGKILLed by another process after a random delay, each followed by
// recovery and the full consistency check. Zero failures: /usr is always exactly the old or
// the new state and everything else agrees with it.
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"
#include "moss/bootsync/bootsync.h"
#include "moss/transaction/crash_checks.h"
#include "moss/transaction/maintenance.h"
#include "moss/transaction/recover.h"
#include "moss/transaction/transaction.h"
#include "tests/testing/stones.h"
#include "tests/testing/temp_root.h"

namespace onix::moss::transaction {
namespace {

using onix::testing::MakeStone;
using onix::testing::TempRoot;
using Tree = std::map<std::string, std::string>;

constexpr int kTransactions = 200;

TEST(KillStorm, TwoHundredTransactionsKilledAtRandomTimesAlwaysRecoverToOldOrNew) {
  auto root = TempRoot::Make();
  ASSERT_TRUE(root.ok());
  ASSERT_TRUE(fs::MkdirAllAt(root->fd(), "boot", 0755).ok());
  const char* tmp = std::getenv("TEST_TMPDIR");
  auto stones = TempDir::Make("stones-", tmp ? tmp : "");
  ASSERT_TRUE(stones.ok());
  const std::string dir = stones->path();
  // Enough files that building a tree takes a while, so kills land inside it too.
  std::vector<onix::testing::TestFile> many;
  for (int i = 0; i < 20; ++i) {
    many.push_back({StrCat("share/doc/beta/", i), StrCat("doc ", i), 0644});
  }
  many.push_back({"bin/b", "beta", 0755});
  many.push_back({"share/defaults/etc/beta.conf", "beta=1\n", 0644});
  const std::string linux1 =
      *MakeStone(dir, "linux", "6.1", 1, {{"lib/kernel/6.1.0/vmlinuz", "kernel-61", 0644}});
  const std::string linux2 =
      *MakeStone(dir, "linux", "6.2", 1, {{"lib/kernel/6.2.0/vmlinuz", "kernel-62", 0644}});
  const std::string alpha = *MakeStone(dir, "alpha", "1", 1, {{"bin/a", "alpha", 0755}});
  const std::string beta = *MakeStone(dir, "beta", "1", 1, many);
  Options options;
  options.boot_hook = bootsync::MakeBootHook();
  {
    auto r = MachineRoot::Open(root->path(), Access::kWrite, LockWait::kFail);
    ASSERT_TRUE(Apply(*r, *InstallSelection(*r, {linux1, alpha}), options).ok());
  }

  // The /usr a selection must produce, built once per distinct selection in a scratch root.
  std::map<std::vector<std::string>, Tree> references;
  auto reference = [&](std::vector<std::string> files) -> const Tree& {
    std::sort(files.begin(), files.end());
    auto it = references.find(files);
    if (it != references.end()) return it->second;
    auto ref = TempRoot::Make();
    auto r = MachineRoot::Open(ref->path(), Access::kWrite, LockWait::kFail);
    Selection sel;
    for (const auto& f : files) sel.push_back(*SelectStoneFile(f));
    EXPECT_TRUE(Apply(*r, sel, {}).ok());
    return references[files] = UsrHash(*ref);
  };
  // Which stone files the active state holds, by package name (the model of the machine).
  std::map<std::string, std::string> installed{{"linux", linux1}, {"alpha", alpha}};
  std::map<std::string, std::map<std::string, std::string>> packages_of;  // fstx -> installed
  packages_of[ActiveFstxOf(root->path())] = installed;

  // How long a transaction takes here: two kernel updates timed, so the kill delays span a
  // whole transaction on this machine, however fast or loaded it is.
  std::chrono::microseconds typical(0);
  for (const std::string& kernel : {linux2, linux1}) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = MachineRoot::Open(root->path(), Access::kWrite, LockWait::kFail);
    auto res = Apply(*r, *InstallSelection(*r, {kernel}), options);
    ASSERT_TRUE(res.ok()) << res.status();
    typical += std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::steady_clock::now() - t0) /
               2;
    installed["linux"] = kernel;
    packages_of[res->plan.to_fstx] = installed;
  }
  // A fixed seed by default, so a failure reproduces; MOSS_STORM_SEED explores others.
  const char* seed_env = std::getenv("MOSS_STORM_SEED");
  const uint32_t seed =
      seed_env ? static_cast<uint32_t>(std::strtoul(seed_env, nullptr, 10)) : 20261124u;
  std::mt19937 rng(seed);
  int killed = 0, interrupted = 0, finished = 0, old_state = 0, new_state = 0, failures = 0;
  std::map<std::string, int> by_op;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kTransactions && failures == 0; ++i) {
    const std::string before_active = ActiveFstxOf(root->path());
    const Tree before = UsrHash(*root);
    // Choose the transaction and what /usr it must produce.
    std::string op;
    std::vector<std::string> retained;
    {
      auto r = MachineRoot::Open(root->path(), Access::kRead);
      auto states = r->RetainedStates();
      ASSERT_TRUE(states.ok()) << states.status();
      for (const auto& s : *states) {
        if (!s.active) retained.push_back(s.fstx);
      }
    }
    const int pick = static_cast<int>(rng() % 10);
    std::map<std::string, std::string> next = installed;
    std::string target;
    if (retained.size() > 3) {
      op = "prune";  // keeps the root small, so each check stays cheap
    } else if (pick < 4) {
      op = installed.count("beta") ? "remove" : "install";
      if (op == "remove") {
        next.erase("beta");
      } else {
        next["beta"] = beta;
      }
    } else if (pick < 7) {
      op = "update";
      next["linux"] = installed["linux"] == linux1 ? linux2 : linux1;
    } else if (pick < 9 && !retained.empty()) {
      op = "activate";
      target = retained[rng() % retained.size()];
      next = packages_of[target];
    } else {
      op = "prune";
    }
    Tree after;
    if (op == "activate") {
      after = UsrHash(*root, StrCat(".moss/root/", target, "/usr"));
    } else if (op != "prune") {
      std::vector<std::string> files;
      for (const auto& [name, file] : next) files.push_back(file);
      after = reference(files);
    }
    ++by_op[op];

    const auto t0 = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto r = MachineRoot::Open(root->path(), Access::kWrite, LockWait::kWait);
      absl::Status s = r.status();
      if (s.ok() && op == "activate") {
        s = Activate(*r, target, options).status();
      } else if (s.ok() && op == "prune") {
        s = Prune(*r, 2, false, options.boot_hook).status();
      } else if (s.ok() && op == "remove") {
        s = Apply(*r, *RemoveSelection(*r, {"beta"}), options).status();
      } else if (s.ok()) {
        s = Apply(*r, *InstallSelection(*r, {op == "install" ? beta : next["linux"]}), options)
                .status();
      }
      if (!s.ok()) std::fprintf(stderr, "%s failed: %s\n", op.c_str(), s.ToString().c_str());
      ::_exit(s.ok() ? 0 : 1);
    }
    // The killer: another process (this one) after a random delay of up to a typical
    // transaction's time, so most kills land inside one and some come after it finished.
    const auto delay = std::chrono::microseconds(rng() % (typical.count() + 1));
    ::usleep(static_cast<useconds_t>(delay.count()));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    const bool was_killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    if (was_killed) {
      ++killed;
      // Killed with a transaction open (its journal on disk), not before it began.
      if (*fs::ExistsAt(root->fd(), ".moss/journal")) ++interrupted;
    } else {
      ++finished;
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "transaction " << i << " (" << op << ") failed";
      const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - t0);
      if (op != "prune") typical = (typical * 3 + took) / 4;
    }

    // Recovery, then the checks.
    const std::string where = StrCat(
        "transaction ", i, " (", op, ", ",
        was_killed ? StrCat("killed after ", delay.count(), " us") : std::string("finished"), ")");
    auto r = MachineRoot::Open(root->path(), Access::kWrite, LockWait::kFail);
    ASSERT_TRUE(r.ok()) << where << ": " << r.status();
    auto report = Recover(*r, options);
    ASSERT_TRUE(report.ok()) << where << ": " << report.status();
    const std::string now_active = ActiveFstxOf(root->path());
    const Tree now = UsrHash(*root);
    if (now == before && now_active == before_active) {
      ++old_state;
    } else if (op != "prune" && now == after) {
      ++new_state;
      installed = next;
      packages_of[now_active] = next;
    } else {
      ADD_FAILURE() << where << ": /usr is neither the old nor the new state";
    }
    ExpectConsistent(*r, where, /*boot=*/true, {"beta.conf"});
    if (::testing::Test::HasFailure()) ++failures;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "kill storm (seed %u): %d transactions (%d install, %d remove, %d update, %d activate, "
      "%d prune); %d killed (%d with the journal open), %d finished before the kill; after "
      "recovery %d old, %d new, %d failures; %.1f s\n",
      seed, kTransactions, by_op["install"], by_op["remove"], by_op["update"], by_op["activate"],
      by_op["prune"], killed, interrupted, finished, old_state, new_state, failures, secs);
  EXPECT_EQ(failures, 0);
  // An honest storm kills many transactions part-way, not only before or after them.
  EXPECT_GT(interrupted, kTransactions / 4);
}

}  // namespace
}  // namespace onix::moss::transaction

// Runs the real `onix` binary against throw-away machine roots built with the moss libraries,
// and asserts its exact output and exit status for each value `onix status` can show.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/bootsync/bootsync.h"
#include "moss/repo/config.h"
#include "moss/repo/driver.h"
#include "moss/repo/index.h"
#include "moss/transaction/journal.h"
#include "moss/transaction/root.h"
#include "moss/transaction/selection.h"
#include "moss/transaction/transaction.h"
#include "nix-integration/opengl_bridge/bridge.h"
#include "tests/testing/stones.h"
#include "tests/testing/temp_root.h"

namespace onix::cli {
namespace {

using moss::transaction::Access;
using moss::transaction::MachineRoot;
using onix::testing::TestFile;

struct CliRun {
  int exit_code = -1;
  std::string out;
};

CliRun Onix(const std::string& args) {
  const std::string bin = std::string(std::getenv("TEST_SRCDIR")) + "/onix/onix-cli/onix";
  FILE* p = ::popen((bin + " " + args + " 2>&1").c_str(), "r");
  CliRun r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TestFile File(std::string path, std::string content, uint32_t mode = 0644) {
  return {std::move(path), std::move(content), mode, ""};
}

class OnixCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = onix::testing::TempRoot::Make();
    ASSERT_TRUE(root.ok()) << root.status();
    root_ = std::make_unique<onix::testing::TempRoot>(std::move(root).value());
    ASSERT_TRUE(fs::MkdirAllAt(root_->fd(), "stones", 0755).ok());
    ASSERT_TRUE(fs::MkdirAllAt(root_->fd(), "boot", 0755).ok());
    ASSERT_TRUE(fs::MkdirAllAt(root_->fd(), "run", 0755).ok());
  }

  std::string Stone(const std::string& name, const std::string& version,
                    const std::vector<TestFile>& files) {
    auto path = onix::testing::MakeStone(root_->Path("stones"), name, version, 1, files);
    EXPECT_TRUE(path.ok()) << path.status();
    return path.ok() ? *path : "";
  }

  // A base package with a kernel, factory defaults and a mesa-bridge driver of `driver`.
  std::string Base(const std::string& version, const std::string& driver) {
    return Stone(
        "base", version,
        {File("lib/kernel/6.1.0/vmlinuz", "kernel"), File("share/defaults/etc/hostname", "onix\n"),
         File("share/defaults/etc/profile", "export PATH=/usr/bin\n"),
         File("lib/onix/mesa-bridge/lib/dri/swrast_dri.so", driver)});
  }

  std::string Install(const std::vector<std::string>& stones) {
    auto m = MachineRoot::Open(root_->path(), Access::kWrite);
    EXPECT_TRUE(m.ok()) << m.status();
    auto sel = moss::transaction::InstallSelection(*m, stones);
    EXPECT_TRUE(sel.ok()) << sel.status();
    moss::transaction::Options options;
    options.boot_hook = moss::bootsync::MakeBootHook();
    auto r = moss::transaction::Apply(*m, *sel, options);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->plan.to_fstx : "";
  }

  void Etc(const std::string& name, const std::string& content) {
    ASSERT_TRUE(fs::MkdirAllAt(root_->fd(), "etc", 0755).ok());
    ASSERT_TRUE(root_->WriteFile("etc/" + name, content).ok());
  }

  std::string Status() { return Onix("--root " + root_->path() + " status --timeout 1").out; }

  std::unique_ptr<onix::testing::TempRoot> root_;
};

TEST_F(OnixCliTest, StatusShowsEveryComputedValueInTheDocumentedShape) {
  Install({Base("1", "driver-one")});
  const std::string second = Install({Base("2", "driver-two")});
  ASSERT_TRUE(bridge::Rebuild(root_->path(), root_->Path("run/opengl-driver")).ok());
  Etc("hostname", "onix\n");
  Etc("profile", "export PATH=/usr/bin\n");
  EXPECT_EQ(Status(), "active fstx: " + second + "\n" + "boot entry:  onix-" + second +
                          "+3.conf\n" + "nix daemon:  socket missing\n" + "etc drift:   none\n" +
                          "opengl:      coherent\n");
}

TEST_F(OnixCliTest, StatusCountsEtcOverridesAndMissingBridge) {
  const std::string first = Install({Base("1", "driver-one")});
  // moss merged the factory defaults into /etc; the admin then edits one and deletes one.
  EXPECT_EQ(*fs::ReadFileAt(root_->fd(), "etc/profile"), "export PATH=/usr/bin\n");
  Etc("hostname", "workstation\n");
  ASSERT_TRUE(fs::UnlinkAt(root_->fd(), "etc/profile").ok());
  EXPECT_EQ(Status(), "active fstx: " + first + "\n" + "boot entry:  onix-" + first + "+3.conf\n" +
                          "nix daemon:  socket missing\n" +
                          "etc drift:   2 local overrides\n" +  // hostname edited, profile gone
                          "opengl:      missing\n");
}

TEST_F(OnixCliTest, RollbackMovesTheMachineRepointsTheBridgeAndVerifiesNixUntouched) {
  const std::string first = Install({Base("1", "driver-one")});
  const std::string second = Install({Base("2", "driver-two")});
  ASSERT_TRUE(bridge::Rebuild(root_->path(), root_->Path("run/opengl-driver")).ok());
  ASSERT_TRUE(fs::MkdirAllAt(root_->fd(), "nix/store/abc-hello", 0755).ok());
  ASSERT_TRUE(fs::MkdirAllAt(root_->fd(), "nix/var/nix/profiles", 0755).ok());
  ASSERT_TRUE(
      fs::SymlinkAt("/nix/store/abc-hello", root_->fd(), "nix/var/nix/profiles/default-1-link")
          .ok());

  CliRun r = Onix("--root " + root_->path() + " rollback");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "machine:     " + second + " -> " + first + "\n" + "plane:       machine\n" +
                       "/nix:        untouched\n");
  EXPECT_EQ(*fs::ReadFileAt(root_->fd(), "usr/lib/onix/mesa-bridge/lib/dri/swrast_dri.so"),
            "driver-one");
  const std::string status = Status();
  EXPECT_NE(status.find("active fstx: " + first + "\n"), std::string::npos) << status;
  EXPECT_NE(status.find("opengl:      coherent\n"), std::string::npos) << status;
  // Both states keep their entries; the default follows the active one, and no "reboot
  // pending" warning is shown because the default entry boots the active state.
  EXPECT_NE(status.find("boot entry:  onix-" + first), std::string::npos) << status;
  EXPECT_EQ(status.find("warning:"), std::string::npos) << status;

  CliRun none = Onix("--root " + root_->path() + " rollback");
  EXPECT_EQ(none.exit_code, 1) << none.out;
  EXPECT_NE(none.out.find("no retained state older than the active " + first), std::string::npos)
      << none.out;
  CliRun bad = Onix("--root " + root_->path() + " rollback 99");
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
}

TEST_F(OnixCliTest, StatusReportsStaleBridgeAfterAMachineSwitchWithoutRebuild) {
  const std::string first = Install({Base("1", "driver-one")});
  Install({Base("2", "driver-two")});
  ASSERT_TRUE(bridge::Rebuild(root_->path(), root_->Path("run/opengl-driver")).ok());
  auto m = MachineRoot::Open(root_->path(), Access::kWrite);
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(moss::transaction::Activate(*m, first, {}).ok());
  const std::string status = Status();
  EXPECT_NE(status.find("opengl:      stale (points to fstx "), std::string::npos) << status;
}

TEST_F(OnixCliTest, RollbackThatTouchesNixIsReportedAndFails) {
  auto tool = onix::testing::FakeTriggerTool();
  ASSERT_TRUE(tool.ok()) << tool.status();
  // A (misbehaving) system trigger of the older state writes into the Nix store when the
  // machine switches to it: the rollback itself succeeds, but /nix is not untouched.
  const std::string evil = Stone("evil", "1",
                                 {File("bin/fake-tool", *tool, 0755),
                                  File("share/moss/triggers/sys.d/evil.trigger",
                                       "name = evil\nmatch = /usr/*\nrun = /usr/bin/fake-tool "
                                       "write /nix/store/zzz-intruder x\n")});
  ASSERT_TRUE(fs::MkdirAllAt(root_->fd(), "nix/store", 0755).ok());
  Install({Base("1", "driver-one"), evil});
  // It fired when it was installed, too; clear that before the part under test.
  ASSERT_TRUE(fs::RemoveTreeAt(root_->fd(), "nix/store/zzz-intruder").ok());
  {
    auto m = MachineRoot::Open(root_->path(), Access::kWrite);
    ASSERT_TRUE(m.ok());
    auto sel = moss::transaction::RemoveSelection(*m, {"evil"});
    ASSERT_TRUE(sel.ok()) << sel.status();
    ASSERT_TRUE(moss::transaction::Apply(*m, *sel, {}).ok());
  }
  ASSERT_FALSE(*fs::ExistsAt(root_->fd(), "nix/store/zzz-intruder"));
  CliRun r = Onix("--root " + root_->path() + " rollback");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("/nix:        CHANGED\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("zzz-intruder"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the Nix plane changed during the machine rollback"), std::string::npos)
      << r.out;
}

TEST_F(OnixCliTest, StatusSaysHealthyOnlyAfterARealDaemonHandshake) {
  Install({Base("1", "driver-one")});
  const std::string socket_dir = root_->Path("nix/var/nix/daemon-socket");
  ASSERT_TRUE(fs::MkdirAllAt(root_->fd(), "nix/var/nix/daemon-socket", 0755).ok());
  const std::string socket = socket_dir + "/socket";
  // A private daemon on its own store and socket: the machine's /nix is never used.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setenv("NIX_DAEMON_SOCKET_PATH", socket.c_str(), 1);
    ::unsetenv("NIX_REMOTE");
    const std::string store = "local?root=" + root_->Path("nixroot");
    ::execlp("nix-daemon", "nix-daemon", "--daemon", "--store", store.c_str(), nullptr);
    ::_exit(127);
  }
  for (int i = 0; i < 100 && !*fs::ExistsAt(AT_FDCWD, socket); ++i) ::usleep(50000);
  std::string status = Status();
  EXPECT_NE(status.find("nix daemon:  healthy\n"), std::string::npos) << status;
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  status = Status();
  EXPECT_NE(status.find("nix daemon:  not running\n"), std::string::npos) << status;
}

TEST_F(OnixCliTest, HistoryListsStatesNewestFirstWithActiveMarkerAndBootEntries) {
  const std::string first = Install({Base("1", "driver-one")});
  const std::string second = Install({Base("2", "driver-two")});
  CliRun r = Onix("--root " + root_->path() + " history");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const size_t a = r.out.find("* " + second), b = r.out.find("  " + first);
  EXPECT_NE(a, std::string::npos) << r.out;
  EXPECT_NE(b, std::string::npos) << r.out;
  EXPECT_LT(a, b) << r.out;
  EXPECT_NE(r.out.find(" yes "), std::string::npos) << r.out;
  CliRun d = Onix("--root " + root_->path() + " diff " + first + " " + second);
  ASSERT_EQ(d.exit_code, 0) << d.out;
  EXPECT_NE(d.out.find("~ base 1-1 -> 2-1"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("files: 0 added, 0 removed, 1 changed"), std::string::npos) << d.out;
}

TEST_F(OnixCliTest, GcKeepsTheActiveAndDefaultBootStatesAndReportsEachPlane) {
  const std::string first = Install({Base("1", "driver-one")});
  const std::string second = Install({Base("2", "driver-two")});
  const std::string third = Install({Base("3", "driver-three")});
  const std::string fourth = Install({Base("4", "driver-four")});
  // Roll back to the first state: it is now active and the default boot state.
  auto m = MachineRoot::Open(root_->path(), Access::kWrite);
  ASSERT_TRUE(m.ok());
  moss::transaction::Options options;
  options.boot_hook = moss::bootsync::MakeBootHook();
  ASSERT_TRUE(moss::transaction::Activate(*m, first, options).ok());
  m = absl::UnavailableError("closed");  // releases the root lock for the CLI

  CliRun dry = Onix("--root " + root_->path() + " gc --keep 2 --machine-only --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.out;
  EXPECT_NE(dry.out.find("would remove 2 states (" + second + ", " + third + ")"),
            std::string::npos)
      << dry.out;
  EXPECT_TRUE(*fs::ExistsAt(root_->fd(), ".moss/root/" + second));

  CliRun r = Onix("--root " + root_->path() + " gc --keep 2 --machine-only");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("removed 2 states (" + second + ", " + third + ")"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("kept " + first + ", " + fourth), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nix:         skipped (--machine-only)"), std::string::npos) << r.out;
  EXPECT_FALSE(*fs::ExistsAt(root_->fd(), ".moss/root/" + second));
  const std::string status = Status();
  EXPECT_NE(status.find("active fstx: " + first), std::string::npos) << status;
  EXPECT_NE(status.find("boot entry:  onix-" + first), std::string::npos) << status;
  // A root without a Nix plane: nothing to collect, and nix never runs (it would create
  // ROOT/nix/var/nix/...).
  CliRun no_nix = Onix("--root " + root_->path() + " gc --keep 2");
  ASSERT_EQ(no_nix.exit_code, 0) << no_nix.out;
  EXPECT_NE(no_nix.out.find("nix:         no Nix store on this root (no /nix/store): nothing to "
                            "collect"),
            std::string::npos)
      << no_nix.out;
  EXPECT_FALSE(*fs::ExistsAt(root_->fd(), "nix"));
  // Then the Nix plane, with the real Nix CLI on the root's own store.
  ASSERT_TRUE(fs::MkdirAllAt(root_->fd(), "nix/store", 0755).ok());
  CliRun both = Onix("--root " + root_->path() + " gc --keep 2");
  ASSERT_EQ(both.exit_code, 0) << both.out;
  EXPECT_NE(both.out.find("machine:     nothing to prune"), std::string::npos) << both.out;
  EXPECT_NE(both.out.find("nix:         0 store paths deleted"), std::string::npos) << both.out;

  CliRun bad = Onix("--root " + root_->path() + " gc --keep 0");
  EXPECT_EQ(bad.exit_code, 2) << bad.out;

  // An interrupted transaction must be recovered first: gc refuses and removes nothing.
  {
    auto m2 = MachineRoot::Open(root_->path(), Access::kRead);
    ASSERT_TRUE(m2.ok());
    auto id = moss::transaction::RootId(m2->moss_fd());
    ASSERT_TRUE(id.ok()) << id.status();
    moss::transaction::JournalRecord journal{*id,   "install", "usr-exchanged",
                                             first, "9-dead",  "token"};
    ASSERT_TRUE(moss::transaction::WriteJournal(m2->moss_fd(), journal).ok());
  }
  CliRun refused = Onix("--root " + root_->path() + " gc --keep 1 --machine-only");
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.out.find("is in flight"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("moss state recover"), std::string::npos) << refused.out;
  EXPECT_TRUE(*fs::ExistsAt(root_->fd(), ".moss/root/" + fourth));
}

TEST_F(OnixCliTest, DoctorPassesAHealthyMachineAndNamesEachFailure) {
  Install({Base("1", "driver-one")});
  ASSERT_TRUE(bridge::Rebuild(root_->path(), root_->Path("run/opengl-driver")).ok());
  CliRun r = Onix("--root " + root_->path() + " doctor");
  // No Nix plane and no nix-integration defaults in this root: those two checks fail.
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("PASS  journal          no transaction in flight"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("PASS  store"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS  boot entries"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS  graphics bridge  coherent"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL  nix daemon       socket missing"), std::string::npos) << r.out;
  // Break a state tree: the store check names it.
  ASSERT_TRUE(fs::UnlinkAt(root_->fd(), "usr/share/defaults/etc/hostname").ok());
  r = Onix("--root " + root_->path() + " doctor");
  EXPECT_NE(r.out.find("FAIL  store"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("moss state verify --repair"), std::string::npos) << r.out;
}

TEST_F(OnixCliTest, UpdateSyncsFromTheRepositoryKeepsLocalEtcAndSaysWhenToReboot) {
  auto stone = [&](const std::string& version, const std::string& kernel,
                   const std::string& hostname, const std::string& profile, bool motd) {
    std::vector<TestFile> files = {File("lib/kernel/" + kernel + "/vmlinuz", "kernel " + kernel),
                                   File("share/defaults/etc/hostname", hostname),
                                   File("share/defaults/etc/profile", profile)};
    if (motd) files.push_back(File("share/defaults/etc/motd", "welcome\n"));
    return Stone("base", version, files);
  };
  ASSERT_TRUE(fs::MkdirAllAt(root_->fd(), "repo", 0755).ok());
  const std::string v1 = stone("1", "6.1.0", "onix\n", "p1\n", false);
  ASSERT_EQ(::rename(v1.c_str(), root_->Path("repo/base-1.stone").c_str()), 0);
  ASSERT_TRUE(moss::repo::BuildIndex(root_->Path("repo")).ok());
  ASSERT_TRUE(
      moss::repo::AddRepo(root_->path(), {"main", "file://" + root_->Path("repo"), 0, true, "", ""})
          .ok());
  CliRun first = Onix("--root " + root_->path() + " update");  // refreshes the index
  ASSERT_EQ(first.exit_code, 0) << first.out;
  moss::repo::ByNameOptions by_name;
  by_name.apply.boot_hook = moss::bootsync::MakeBootHook();
  moss::solver::Request install;
  install.install = {"base"};
  ASSERT_TRUE(moss::repo::RunByName(root_->path(), install, by_name).ok());
  Etc("hostname", "onix\n");  // as shipped
  Etc("profile", "mine\n");   // the admin's own

  // The repository moves to version 2: new kernel, changed defaults, one new default.
  ASSERT_EQ(::unlink(root_->Path("repo/base-1.stone").c_str()), 0);
  const std::string v2 = stone("2", "6.2.0", "onix2\n", "p2\n", true);
  ASSERT_EQ(::rename(v2.c_str(), root_->Path("repo/base-2.stone").c_str()), 0);
  ASSERT_TRUE(moss::repo::BuildIndex(root_->Path("repo")).ok());

  CliRun r = Onix("--root " + root_->path() + " update");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("reboot:      to use the new kernel 6.2.0 (running 6.1.0)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("etc:         updated /etc/hostname to the new factory default\n"
                       "etc:         added /etc/motd (new factory default)\n"
                       "etc:         kept your /etc/profile; its factory default changed "
                       "(onix etc diff --upstream /etc/profile)\n"
                       "plane:       machine\n"
                       "/nix:        untouched\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(*fs::ReadFileAt(root_->fd(), "etc/hostname"), "onix2\n");
  EXPECT_EQ(*fs::ReadFileAt(root_->fd(), "etc/profile"), "mine\n");
  EXPECT_EQ(*fs::ReadFileAt(root_->fd(), "etc/motd"), "welcome\n");

  CliRun upstream = Onix("--root " + root_->path() + " etc diff --upstream /etc/profile");
  ASSERT_EQ(upstream.exit_code, 0) << upstream.out;
  EXPECT_NE(upstream.out.find("-p1\n+p2\n"), std::string::npos) << upstream.out;

  CliRun again = Onix("--root " + root_->path() + " update");
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_NE(again.out.find("(up to date)"), std::string::npos) << again.out;
}

}  // namespace
}  // namespace onix::cli

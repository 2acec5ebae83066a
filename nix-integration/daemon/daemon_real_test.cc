// Against a REAL nix-daemon with a store under a temp dir (`--store local?root=X`, its own
// socket and NIX_CONF_DIR), so the machine's /nix is never touched.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "moss/base/temp_dir.h"
#include "nix-integration/daemon/fingerprint.h"
#include "nix-integration/daemon/health.h"

namespace onix::nixplane {
namespace {

class RealDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Make("nix-daemon-test-", "/tmp");  // sun_path holds 108 bytes
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    const std::string t = dir_->path();
    sock_ = t + "/daemon.sock";
    store_root_ = t + "/root";
    std::filesystem::create_directories(t + "/etc");
    std::filesystem::create_directories(store_root_);
    std::ofstream(t + "/etc/nix.conf")
        << "build-users-group =\nexperimental-features = nix-command\n";
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      const std::string conf = "NIX_CONF_DIR=" + t + "/etc", home = "HOME=" + t,
                        s = "NIX_DAEMON_SOCKET_PATH=" + sock_, store = "local?root=" + store_root_;
      // No NIX_REMOTE in the daemon's environment: with it, it connects to itself forever.
      char* envp[] = {const_cast<char*>("PATH=/usr/bin:/bin"), const_cast<char*>(conf.c_str()),
                      const_cast<char*>(home.c_str()), const_cast<char*>(s.c_str()), nullptr};
      char* argv[] = {const_cast<char*>("nix-daemon"), const_cast<char*>("--daemon"),
                      const_cast<char*>("--store"), const_cast<char*>(store.c_str()), nullptr};
      ::execve("/usr/bin/nix-daemon", argv, envp);
      ::_exit(127);
    }
    // The socket file appears at bind(), a moment before listen(): wait for a real answer.
    bool up = false;
    for (int i = 0; i < 200 && !up; ++i) {
      up = CheckDaemon(sock_, absl::Seconds(2)).healthy();
      if (!up) ::usleep(25000);
    }
    ASSERT_TRUE(up) << "nix-daemon did not come up on " << sock_;
  }
  void TearDown() override { StopDaemon(); }
  void StopDaemon() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  std::unique_ptr<TempDir> dir_;
  std::string sock_, store_root_;
  pid_t pid_ = -1;
};

TEST_F(RealDaemonTest, HandshakeWithRealDaemonIsHealthy) {
  auto h =
      CheckDaemon(sock_, absl::Seconds(10), "/nix/store/00000000000000000000000000000000-nope");
  ASSERT_EQ(h.ToString(), "healthy");
  EXPECT_EQ(h.daemon_protocol >> 8, 1u);
  EXPECT_FALSE(h.nix_version.empty());
  ASSERT_TRUE(h.probe_valid.has_value());
  EXPECT_FALSE(*h.probe_valid);
}

TEST_F(RealDaemonTest, DaemonErrorIsReportedWithItsMessage) {
  auto h = CheckDaemon(sock_, absl::Seconds(10), "/tmp/not-a-store-path");
  EXPECT_EQ(h.state, DaemonHealth::State::kProtocolError);
  EXPECT_NE(h.ToString().find("is not in the Nix store"), std::string::npos) << h.ToString();
}

TEST_F(RealDaemonTest, StoppedDaemonIsNotRunning) {
  ASSERT_TRUE(CheckDaemon(sock_, absl::Seconds(10)).healthy());
  StopDaemon();
  EXPECT_EQ(CheckDaemon(sock_, absl::Seconds(2)).ToString(), "not running");
}

TEST_F(RealDaemonTest, FingerprintOfRealDbIsStableAndSeesANewGcroot) {
  // The first connection makes the daemon create the store and its DB.
  ASSERT_TRUE(CheckDaemon(sock_, absl::Seconds(10), "/nix/store/00000000000000000000000000000000-x")
                  .healthy());
  const std::string nix = store_root_ + "/nix";
  auto before = Fingerprint(nix);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_TRUE(before->present);
  EXPECT_EQ(before->db_schema, 10);
  EXPECT_FALSE(before->db_digest.empty());
  ASSERT_TRUE(CheckDaemon(sock_, absl::Seconds(10), "/nix/store/00000000000000000000000000000000-y")
                  .healthy());
  auto same = Fingerprint(nix);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(Diff(*before, *same).empty());

  std::filesystem::create_directories(nix + "/var/nix/gcroots/onix");
  std::filesystem::create_symlink("/nix/store/abc-mesa", nix + "/var/nix/gcroots/onix/state-1");
  auto after = Fingerprint(nix);
  ASSERT_TRUE(after.ok());
  auto diff = Diff(*before, *after);
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_EQ(diff[0], "gcroot added: onix/state-1 -> /nix/store/abc-mesa");
  auto schema = DbSchemaVersion(nix);
  ASSERT_TRUE(schema.ok());
  EXPECT_EQ(*schema, *SchemaOfNixVersion(CheckDaemon(sock_, absl::Seconds(10)).nix_version));
}

}  // namespace
}  // namespace onix::nixplane

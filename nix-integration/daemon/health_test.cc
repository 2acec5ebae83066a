#include "nix-integration/daemon/health.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "moss/base/temp_dir.h"

namespace onix::nixplane {
namespace {

int BoundSocket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << path;
  return fd;
}

class HealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Make("health-test-", "/tmp");  // sun_path holds 108 bytes
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    sock_ = dir_->path() + "/socket";
  }
  std::unique_ptr<TempDir> dir_;
  std::string sock_;
};

TEST_F(HealthTest, MissingSocketIsSocketMissing) {
  auto h = CheckDaemon(sock_, absl::Seconds(2));
  EXPECT_EQ(h.state, DaemonHealth::State::kSocketMissing);
  EXPECT_EQ(h.ToString(), "socket missing");
}

TEST_F(HealthTest, SocketNobodyListensOnIsNotRunning) {
  // A daemon that died leaves its socket file behind; connecting is refused.
  ::close(BoundSocket(sock_));
  auto h = CheckDaemon(sock_, absl::Seconds(2));
  EXPECT_EQ(h.state, DaemonHealth::State::kNotRunning);
  EXPECT_EQ(h.ToString(), "not running");
}

TEST_F(HealthTest, ListenerThatNeverAnswersTimesOut) {
  int fd = BoundSocket(sock_);
  ASSERT_EQ(::listen(fd, 4), 0);
  // The kernel completes the connection from the backlog; nobody ever reads or writes.
  auto h = CheckDaemon(sock_, absl::Milliseconds(200));
  EXPECT_EQ(h.state, DaemonHealth::State::kTimeout);
  EXPECT_EQ(h.ToString(), "not responding (timeout)");
  ::close(fd);
}

TEST_F(HealthTest, WrongMagicIsProtocolError) {
  int fd = BoundSocket(sock_);
  ASSERT_EQ(::listen(fd, 4), 0);
  std::thread server([fd] {
    int c = ::accept(fd, nullptr, nullptr);
    char buf[8];
    (void)!::read(c, buf, sizeof(buf));
    const char reply[16] = "HTTP/1.1 400 Ba";
    (void)!::write(c, reply, sizeof(reply));
    ::close(c);
  });
  auto h = CheckDaemon(sock_, absl::Seconds(5));
  server.join();
  ::close(fd);
  EXPECT_EQ(h.state, DaemonHealth::State::kProtocolError);
  EXPECT_EQ(h.ToString().rfind("protocol error: bad daemon magic 0x", 0), 0u) << h.ToString();
}

TEST_F(HealthTest, PeerThatHangsUpIsProtocolError) {
  int fd = BoundSocket(sock_);
  ASSERT_EQ(::listen(fd, 4), 0);
  std::thread server([fd] { ::close(::accept(fd, nullptr, nullptr)); });
  auto h = CheckDaemon(sock_, absl::Seconds(5));
  server.join();
  ::close(fd);
  EXPECT_EQ(h.state, DaemonHealth::State::kProtocolError) << h.ToString();
}

TEST_F(HealthTest, RegularFileAtSocketPathIsProtocolError) {
  std::ofstream(sock_) << "not a socket";
  auto h = CheckDaemon(sock_, absl::Seconds(2));
  EXPECT_EQ(h.ToString(), "protocol error: " + sock_ + " is not a socket");
}

}  // namespace
}  // namespace onix::nixplane

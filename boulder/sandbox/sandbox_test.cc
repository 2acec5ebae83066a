#include "boulder/sandbox/sandbox.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "boulder/util/util.h"
#include "gtest/gtest.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"

namespace onix::boulder {
namespace {

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Make("sandbox-test-");
    ASSERT_TRUE(t.ok());
    tmp_ = std::make_unique<TempDir>(std::move(*t));
    ASSERT_TRUE(MakeDirs(P("out")).ok());
    ASSERT_TRUE(MakeDirs(P("ro")).ok());
  }
  std::string P(const std::string& n) const { return StrCat(tmp_->path(), "/", n); }

  SandboxConfig Config(const std::string& script) const {
    SandboxConfig cfg;
    cfg.binds = {{"/usr", "/usr", false}, {P("out"), "/out", true}, {P("ro"), "/ro", false}};
    cfg.symlinks = {{"/bin", "usr/bin"}, {"/lib", "usr/lib"}, {"/lib64", "usr/lib64"}};
    cfg.argv = {"/bin/sh", "-c", script};
    cfg.env = {"PATH=/usr/bin:/bin"};
    cfg.scratch_dir = tmp_->path();
    return cfg;
  }
  std::unique_ptr<TempDir> tmp_;
};

TEST_F(SandboxTest, RunsAsPid1WithItsOwnHostnameAndExitCode) {
  auto code = RunSandboxed(Config("echo $$ > /out/pid; hostname > /out/host; exit 7"));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 7);
  EXPECT_EQ(*ReadFile(P("out/pid")), "1\n");
  EXPECT_EQ(*ReadFile(P("out/host")), "boulder\n");
}

TEST_F(SandboxTest, OnlyLoopbackExistsAndOutsideAddressesAreUnreachable) {
  auto code = RunSandboxed(
      Config("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > /out/ifaces;"
             "bash -c 'echo > /dev/tcp/192.0.2.1/80' 2> /out/connect; echo $? >> /out/connect"));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*ReadFile(P("out/ifaces")), "lo\n");
  const std::string connect = *ReadFile(P("out/connect"));
  EXPECT_NE(connect.find("Network is unreachable"), std::string::npos) << connect;
}

TEST_F(SandboxTest, WritesOutsideTheWritableBindsFail) {
  auto code = RunSandboxed(
      Config("for f in /ro/x /usr/boulder-probe /etc/x /x; do"
             "  if touch $f 2>/dev/null; then echo \"$f written\"; else echo \"$f refused\"; fi;"
             "done > /out/result; touch /tmp/ok && echo tmp ok >> /out/result"));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*ReadFile(P("out/result")),
            "/ro/x refused\n/usr/boulder-probe refused\n/etc/x refused\n/x refused\ntmp ok\n");
  EXPECT_NE(::access(P("ro/x").c_str(), F_OK), 0);
}

TEST_F(SandboxTest, HasNoCapabilitiesAndNoNewPrivileges) {
  auto code = RunSandboxed(Config(
      "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status | tr -s '\\t ' ' ' > /out/caps;"
      "umask > /out/umask"));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*ReadFile(P("out/caps")),
            "CapEff: 0000000000000000\nCapBnd: 0000000000000000\nNoNewPrivs: 1\n");
  EXPECT_EQ(*ReadFile(P("out/umask")), "0022\n");
}

TEST_F(SandboxTest, MissingBindSourceIsASetupErrorNamingIt) {
  SandboxConfig cfg = Config("true");
  cfg.binds.push_back({"/nonexistent/boulder-tools", "/tools", false});
  auto code = RunSandboxed(cfg);
  ASSERT_FALSE(code.ok());
  EXPECT_NE(code.status().message().find("binding /nonexistent/boulder-tools"), std::string::npos)
      << code.status();
}

// The unprivileged path: a user namespace maps the caller to uid 0 inside.
TEST_F(SandboxTest, WorksForAnUnprivilegedUserThroughAUserNamespace) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged uid";
  // A world-accessible scratch area: the test's own tmp dir is below root's home.
  auto shared = TempDir::Make("sandbox-unpriv-", "/tmp");
  ASSERT_TRUE(shared.ok());
  ASSERT_EQ(::chmod(shared->path().c_str(), 0777), 0);
  const std::string out = shared->path() + "/out";
  ASSERT_TRUE(MakeDirs(out).ok());
  ASSERT_EQ(::chmod(out.c_str(), 0777), 0);
  SandboxConfig cfg = Config("id -u > /out/uid; echo $$ > /out/pid");
  cfg.binds = {{"/usr", "/usr", false}, {out, "/out", true}};
  cfg.scratch_dir = shared->path();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
      ::_exit(90);
    }
    auto code = RunSandboxed(cfg);
    if (!code.ok()) std::cerr << "unprivileged sandbox: " << code.status() << "\n";
    ::_exit(code.ok() ? *code : 91);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(*ReadFile(out + "/uid"), "0\n");
  EXPECT_EQ(*ReadFile(out + "/pid"), "1\n");
  struct stat st;
  ASSERT_EQ(::stat((out + "/uid").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);  // uid 0 inside is the caller outside
}

}  // namespace
}  // namespace onix::boulder

#include "nix-integration/opengl_bridge/bridge.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/temp_dir.h"
#include "nlohmann/json.hpp"

namespace onix::bridge {
namespace {

namespace stdfs = std::filesystem;

void Write(const std::string& path, const std::string& data) {
  stdfs::create_directories(stdfs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fake mesa-bridge stone as it lands in a state's /usr; `gallium` tells the states apart.
void MakeState(const std::string& usr, const std::string& fstx, const std::string& gallium) {
  const std::string b = usr + "/lib/onix/mesa-bridge";
  Write(usr + "/.fstx", fstx + "\n0123456789abcdef\n");  // as moss/state/tree.h writes it
  Write(b + "/lib/libEGL_mesa.so.0", "egl");
  Write(b + "/lib/libgallium-" + gallium + ".so", "gallium " + gallium);
  Write(b + "/lib/libvulkan_lvp.so", "lvp");
  Write(b + "/lib/dri/swrast_dri.so", "dri");
  Write(b + "/lib/gbm/dri_gbm.so", "gbm");
  Write(b + "/share/glvnd/egl_vendor.d/50_mesa.json",
        R"({"file_format_version":"1.0.0","ICD":{"library_path":"libEGL_mesa.so.0"}})");
  Write(b + "/share/vulkan/icd.d/lvp_icd.x86_64.json",
        R"({"file_format_version":"1.0.0","ICD":{"api_version":"1.3.0",)"
        R"("library_path":"/usr/lib/onix/mesa-bridge/lib/libvulkan_lvp.so"}})");
}

class BridgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Make("bridge-test-");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    root_ = dir_->path();
    run_ = DefaultRunDir(root_);
    stdfs::create_directories(root_ + "/run");
    MakeState(root_ + "/usr", "7-bbbb", "24.2");       // active: state 7-bbbb
    MakeState(root_ + "/usr-prev", "6-aaaa", "24.1");  // archived: state 6-aaaa
  }
  // What moss does on rollback: the archived /usr and the active one swap.
  void Rollback() {
    ASSERT_TRUE(fs::RenameExchangeAt(dir_->fd(), "usr", dir_->fd(), "usr-prev").ok());
  }
  std::string Check(std::string_view fstx) {
    auto s = bridge::Check(root_, run_, fstx);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? s->ToString() : "";
  }
  std::unique_ptr<TempDir> dir_;
  std::string root_, run_;
};

TEST_F(BridgeTest, RebuildLinksIntoActiveUsrAndRewritesIcdPaths) {
  auto report = Rebuild(root_, run_, "7-bbbb");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->links, 5);
  EXPECT_EQ(report->rewritten, 2);
  EXPECT_EQ(stdfs::read_symlink(run_ + "/lib/dri/swrast_dri.so"),
            root_ + "/usr/lib/onix/mesa-bridge/lib/dri/swrast_dri.so");
  EXPECT_EQ(Read(run_ + "/lib/libgallium-24.2.so"), "gallium 24.2");
  auto icd = nlohmann::json::parse(Read(run_ + "/share/vulkan/icd.d/lvp_icd.x86_64.json"));
  EXPECT_EQ(icd["ICD"]["library_path"], run_ + "/lib/libvulkan_lvp.so");
  EXPECT_EQ(icd["ICD"]["api_version"], "1.3.0");
  auto egl = nlohmann::json::parse(Read(run_ + "/share/glvnd/egl_vendor.d/50_mesa.json"));
  EXPECT_EQ(egl["ICD"]["library_path"], "libEGL_mesa.so.0");
  EXPECT_EQ(Check("7-bbbb"), "coherent");
}

TEST_F(BridgeTest, RollbackMakesTheBridgeStaleAndRebuildRepointsIt) {
  ASSERT_TRUE(Rebuild(root_, run_, "7-bbbb").ok());
  Rollback();
  EXPECT_EQ(Check("6-aaaa"), "stale (points to fstx 7-bbbb)");
  ASSERT_TRUE(Rebuild(root_, run_, "6-aaaa").ok());
  EXPECT_EQ(Check("6-aaaa"), "coherent");
  EXPECT_EQ(Read(run_ + "/lib/libgallium-24.1.so"), "gallium 24.1");
  EXPECT_FALSE(stdfs::exists(stdfs::symlink_status(run_ + "/lib/libgallium-24.2.so")));
}

TEST_F(BridgeTest, ActiveFstxIsReadFromUsrWhenNotGiven) {
  ASSERT_TRUE(Rebuild(root_, run_).ok());
  EXPECT_EQ(Check(""), "coherent");
  Rollback();
  EXPECT_EQ(Check(""), "stale (points to fstx 7-bbbb)");
  ASSERT_TRUE(Rebuild(root_, run_).ok());
  EXPECT_EQ(Check(""), "coherent");
  EXPECT_EQ(Check("6-aaaa"), "coherent");
}

TEST_F(BridgeTest, SameStateWithChangedFileSetIsStale) {
  ASSERT_TRUE(Rebuild(root_, run_, "7-bbbb").ok());
  Write(root_ + "/usr/lib/onix/mesa-bridge/lib/dri/radeonsi_dri.so", "radeonsi");
  EXPECT_EQ(Check("7-bbbb"), "stale (points to fstx 7-bbbb)");
}

TEST_F(BridgeTest, BrokenLinkIsCounted) {
  ASSERT_TRUE(Rebuild(root_, run_, "7-bbbb").ok());
  stdfs::remove(root_ + "/usr/lib/onix/mesa-bridge/lib/dri/swrast_dri.so");
  EXPECT_EQ(Check("7-bbbb"), "broken: 1 links");
  stdfs::remove(root_ + "/usr/lib/onix/mesa-bridge/lib/libvulkan_lvp.so");
  // The lvp link and the ICD's library path both dangle now.
  EXPECT_EQ(Check("7-bbbb"), "broken: 3 links");
}

TEST_F(BridgeTest, LinkMissingFromTheRunDirIsReportedBroken) {
  ASSERT_TRUE(Rebuild(root_, run_, "7-bbbb").ok());
  stdfs::remove(run_ + "/lib/dri/swrast_dri.so");
  EXPECT_EQ(Check("7-bbbb"), "broken: 1 links");
  stdfs::remove(run_ + "/share/vulkan/icd.d/lvp_icd.x86_64.json");
  EXPECT_EQ(Check("7-bbbb"), "broken: 2 links");
  ASSERT_TRUE(Rebuild(root_, run_, "7-bbbb").ok());
  EXPECT_EQ(Check("7-bbbb"), "coherent");
}

TEST_F(BridgeTest, LinkOutsideTheActiveTreeIsBroken) {
  ASSERT_TRUE(Rebuild(root_, run_, "7-bbbb").ok());
  stdfs::remove(run_ + "/lib/libEGL_mesa.so.0");
  stdfs::create_symlink(root_ + "/usr-prev/lib/onix/mesa-bridge/lib/libEGL_mesa.so.0",
                        run_ + "/lib/libEGL_mesa.so.0");
  EXPECT_EQ(Check("7-bbbb"), "broken: 1 links");
}

TEST_F(BridgeTest, NoRunDirIsMissing) { EXPECT_EQ(Check("7-bbbb"), "missing"); }

TEST_F(BridgeTest, RebuildClearsATreeLeftByACrashAndLeavesNoTemporaries) {
  Write(root_ + "/run/.opengl-driver.new-99999/lib/junk", "half-built");
  ASSERT_TRUE(Rebuild(root_, run_, "7-bbbb").ok());
  ASSERT_TRUE(Rebuild(root_, run_, "7-bbbb").ok());
  std::vector<std::string> names;
  for (const auto& e : stdfs::directory_iterator(root_ + "/run")) {
    names.push_back(e.path().filename());
  }
  EXPECT_EQ(names, std::vector<std::string>{"opengl-driver"});
  EXPECT_EQ(Check("7-bbbb"), "coherent");
}

TEST_F(BridgeTest, StateWithoutMesaBridgeGivesAnEmptyCoherentBridge) {
  stdfs::remove_all(root_ + "/usr/lib/onix");
  auto report = Rebuild(root_, run_, "7-bbbb");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->links, 0);
  EXPECT_EQ(Check("7-bbbb"), "coherent");
}

TEST_F(BridgeTest, BadManifestFailsAndKeepsTheOldBridge) {
  ASSERT_TRUE(Rebuild(root_, run_, "7-bbbb").ok());
  Write(root_ + "/usr/lib/onix/mesa-bridge/share/vulkan/icd.d/bad.json", "{not json");
  auto report = Rebuild(root_, run_, "7-bbbb");
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("bad.json"), std::string::npos) << report.status();
  EXPECT_TRUE(stdfs::is_symlink(run_ + "/lib/dri/swrast_dri.so"));
  EXPECT_FALSE(stdfs::exists(run_ + "/share/vulkan/icd.d/bad.json"));
  // No half-built tree is left next to the bridge.
  std::vector<std::string> names;
  for (const auto& e : stdfs::directory_iterator(root_ + "/run")) {
    names.push_back(e.path().filename());
  }
  EXPECT_EQ(names, std::vector<std::string>{"opengl-driver"});
}

// A moss system trigger runs the bridge chrooted into a root that may have no /proc; the
// rebuild must not depend on /proc/self/fd (O_TMPFILE + linkat) there.
TEST_F(BridgeTest, RebuildWorksWithoutProc) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for unshare + chroot";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::chroot(root_.c_str()) != 0 || ::chdir("/") != 0) {
      ::_exit(3);
    }
    auto r = Rebuild("/", "/run/opengl-driver", "7-bbbb");
    ::_exit(r.ok() && r->rewritten == 2 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(stdfs::read_symlink(run_ + "/lib/dri/swrast_dri.so"),
            "/usr/lib/onix/mesa-bridge/lib/dri/swrast_dri.so");
  auto icd = nlohmann::json::parse(Read(run_ + "/share/vulkan/icd.d/lvp_icd.x86_64.json"));
  EXPECT_EQ(icd["ICD"]["library_path"], "/run/opengl-driver/lib/libvulkan_lvp.so");
}

}  // namespace
}  // namespace onix::bridge

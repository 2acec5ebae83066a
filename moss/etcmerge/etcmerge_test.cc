#include "moss/etcmerge/etcmerge.h"

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/temp_dir.h"

namespace onix::moss::etcmerge {
namespace {

class EtcMergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Make("etcmerge-");
    ASSERT_TRUE(t.ok());
    dir_ = std::make_unique<TempDir>(std::move(t).value());
  }
  void Put(const std::string& path, const std::string& data) {
    const size_t slash = path.rfind('/');
    ASSERT_TRUE(fs::MkdirAllAt(dir_->fd(), path.substr(0, slash), 0755).ok());
    auto d = fs::OpenDirAt(dir_->fd(), path.substr(0, slash));
    ASSERT_TRUE(d.ok());
    ASSERT_TRUE(
        fs::WriteFileAtomicAt(d->get(), path.substr(slash + 1), data, 0644, fs::Durability::kNone)
            .ok());
  }
  std::string Read(const std::string& path) {
    auto r = fs::ReadFileAt(dir_->fd(), path);
    return r.ok() ? *r : "<missing>";
  }
  int Fd(const std::string& path) {
    fds_.push_back(*fs::OpenDirAt(dir_->fd(), path));
    return fds_.back().get();
  }
  std::unique_ptr<TempDir> dir_;
  std::vector<UniqueFd> fds_;
};

TEST_F(EtcMergeTest, FirstStateMaterialisesEveryDefaultAndKeepsExistingAdminFiles) {
  Put("new/share/defaults/etc/hostname", "onix\n");
  Put("new/share/defaults/etc/ssh/sshd_config", "Port 22\n");
  Put("root/etc/hostname", "mine\n");
  auto changes = MergeEtcDefaults(Fd("root"), -1, Fd("new"));
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ((*changes)[0].path, "hostname");
  EXPECT_EQ((*changes)[0].action, EtcChange::Action::kKeptLocal);
  EXPECT_EQ((*changes)[1].path, "ssh/sshd_config");
  EXPECT_EQ((*changes)[1].action, EtcChange::Action::kAdded);
  EXPECT_EQ(Read("root/etc/hostname"), "mine\n");
  EXPECT_EQ(Read("root/etc/ssh/sshd_config"), "Port 22\n");
}

TEST_F(EtcMergeTest, UpdateFollowsUntouchedFilesKeepsEditsAndDropsRemovedDefaults) {
  Put("old/share/defaults/etc/a", "a1\n");
  Put("old/share/defaults/etc/b", "b1\n");
  Put("old/share/defaults/etc/c", "c1\n");
  Put("old/share/defaults/etc/same", "s\n");
  Put("new/share/defaults/etc/a", "a2\n");
  Put("new/share/defaults/etc/b", "b2\n");
  Put("new/share/defaults/etc/same", "s\n");
  Put("root/etc/a", "a1\n");         // untouched: follows
  Put("root/etc/b", "edited\n");     // edited: kept
  Put("root/etc/c", "c1\n");         // default gone, untouched: removed
  Put("root/etc/same", "edited\n");  // default unchanged: not looked at
  auto changes = MergeEtcDefaults(Fd("root"), Fd("old"), Fd("new"));
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->size(), 3u);
  EXPECT_EQ((*changes)[0].action, EtcChange::Action::kUpdated);
  EXPECT_EQ((*changes)[1].action, EtcChange::Action::kKeptLocal);
  EXPECT_EQ((*changes)[2].action, EtcChange::Action::kRemoved);
  EXPECT_EQ(Read("root/etc/a"), "a2\n");
  EXPECT_EQ(Read("root/etc/b"), "edited\n");
  EXPECT_EQ(Read("root/etc/c"), "<missing>");
  EXPECT_EQ(Read("root/etc/same"), "edited\n");
  // A rollback is the same merge the other way round: untouched files go back too.
  auto back = MergeEtcDefaults(Fd("root"), Fd("new"), Fd("old"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(Read("root/etc/a"), "a1\n");
  EXPECT_EQ(Read("root/etc/b"), "edited\n");
  EXPECT_EQ(Read("root/etc/c"), "c1\n");
}

}  // namespace
}  // namespace onix::moss::etcmerge

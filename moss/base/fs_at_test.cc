#include "moss/base/fs_at.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "moss/base/temp_dir.h"

namespace onix::fs {
namespace {

TempDir MakeTemp() {
  auto t = TempDir::Make("fs-at-test-");
  EXPECT_TRUE(t.ok()) << t.status();
  return std::move(t).value();
}

std::string Read(int dirfd, const std::string& name) {
  auto r = ReadFileAt(dirfd, name);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : "";
}

TEST(ValidateRelativePath, RefusesEscapesAndOddComponents) {
  EXPECT_TRUE(ValidateRelativePath("usr/lib/libc.so").ok());
  EXPECT_FALSE(ValidateRelativePath("").ok());
  EXPECT_FALSE(ValidateRelativePath("/etc/passwd").ok());
  EXPECT_FALSE(ValidateRelativePath("usr/../etc").ok());
  EXPECT_FALSE(ValidateRelativePath("..").ok());
  EXPECT_FALSE(ValidateRelativePath("usr//lib").ok());
  EXPECT_FALSE(ValidateRelativePath("usr/./lib").ok());
  EXPECT_FALSE(ValidateRelativePath("usr/").ok());
  EXPECT_FALSE(ValidateRelativePath(std::string("usr\0x", 5)).ok());
}

TEST(OpenAt, RefusesDotDotAndSymlinkEscapes) {
  TempDir root = MakeTemp();
  ASSERT_TRUE(MkdirAt(root.fd(), "inside", 0755).ok());
  ASSERT_TRUE(SymlinkAt("/etc", root.fd(), "abs-link").ok());
  ASSERT_TRUE(SymlinkAt("../../../../../../etc", root.fd(), "rel-link").ok());
  EXPECT_FALSE(OpenAt(root.fd(), "../x", O_RDONLY).ok());
  // Beneath mode: any symlink on the way is refused.
  EXPECT_FALSE(OpenAt(root.fd(), "abs-link/passwd", O_RDONLY).ok());
  EXPECT_FALSE(OpenAt(root.fd(), "rel-link/passwd", O_RDONLY).ok());
  // In-root mode: links resolve inside the root, where there is no etc/passwd.
  auto in_root = OpenAt(root.fd(), "abs-link/passwd", O_RDONLY, 0, Resolve::kInRoot);
  EXPECT_TRUE(absl::IsNotFound(in_root.status())) << in_root.status();
  ASSERT_TRUE(MkdirAllAt(root.fd(), "etc", 0755).ok());
  auto dir = OpenDirAt(root.fd(), "etc");
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(
      WriteFileAtomicAt(dir->get(), "passwd", "root-local\n", 0644, Durability::kNone).ok());
  auto via_abs = OpenAt(root.fd(), "abs-link/passwd", O_RDONLY, 0, Resolve::kInRoot);
  ASSERT_TRUE(via_abs.ok()) << via_abs.status();
  auto via_rel = OpenAt(root.fd(), "rel-link/passwd", O_RDONLY, 0, Resolve::kInRoot);
  ASSERT_TRUE(via_rel.ok()) << via_rel.status();
  char buf[32] = {};
  ASSERT_GT(::read(via_rel->get(), buf, sizeof(buf)), 0);
  EXPECT_EQ(std::string(buf), "root-local\n");
}

TEST(MkdirAllAt, CreatesMissingAndRefusesNonDirectory) {
  TempDir root = MakeTemp();
  ASSERT_TRUE(MkdirAllAt(root.fd(), "a/b/c", 0755).ok());
  ASSERT_TRUE(MkdirAllAt(root.fd(), "a/b/c", 0755).ok());
  auto st = StatAt(root.fd(), "a/b/c");
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(S_ISDIR(st->st_mode));
  ASSERT_TRUE(WriteFileAtomicAt(root.fd(), "file", "x", 0644, Durability::kNone).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(MkdirAllAt(root.fd(), "file/sub", 0755)));
}

TEST(RenameExchangeAt, SwapsTwoDirectoriesAtomically) {
  TempDir root = MakeTemp();
  ASSERT_TRUE(MkdirAt(root.fd(), "old", 0755).ok());
  ASSERT_TRUE(MkdirAt(root.fd(), "new", 0755).ok());
  auto old_dir = OpenDirAt(root.fd(), "old");
  auto new_dir = OpenDirAt(root.fd(), "new");
  ASSERT_TRUE(WriteFileAtomicAt(old_dir->get(), "marker", "old", 0644, Durability::kNone).ok());
  ASSERT_TRUE(WriteFileAtomicAt(new_dir->get(), "marker", "new", 0644, Durability::kNone).ok());
  ASSERT_TRUE(RenameExchangeAt(root.fd(), "old", root.fd(), "new").ok());
  EXPECT_EQ(Read(root.fd(), "old/marker"), "new");
  EXPECT_EQ(Read(root.fd(), "new/marker"), "old");
  // The fds follow the inodes, not the names: proof that the directories moved, not copies.
  EXPECT_EQ(Read(old_dir->get(), "marker"), "old");
  EXPECT_TRUE(absl::IsNotFound(RenameExchangeAt(root.fd(), "old", root.fd(), "missing")));
}

TEST(RenameNoReplaceAt, RefusesExistingTarget) {
  TempDir root = MakeTemp();
  ASSERT_TRUE(WriteFileAtomicAt(root.fd(), "a", "A", 0644, Durability::kNone).ok());
  ASSERT_TRUE(WriteFileAtomicAt(root.fd(), "b", "B", 0644, Durability::kNone).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(RenameNoReplaceAt(root.fd(), "a", root.fd(), "b")));
  EXPECT_EQ(Read(root.fd(), "b"), "B");
  ASSERT_TRUE(RenameNoReplaceAt(root.fd(), "a", root.fd(), "c").ok());
  EXPECT_EQ(Read(root.fd(), "c"), "A");
}

TEST(WriteFileAtomicAt, ReplacesContentAndMode) {
  TempDir root = MakeTemp();
  ASSERT_TRUE(WriteFileAtomicAt(root.fd(), "f", "one", 0600, Durability::kFsync).ok());
  ASSERT_TRUE(WriteFileAtomicAt(root.fd(), "f", "two-longer", 0644, Durability::kFsync).ok());
  EXPECT_EQ(Read(root.fd(), "f"), "two-longer");
  EXPECT_EQ(StatAt(root.fd(), "f")->st_mode & 07777, 0644u);
  auto names = ListDir(root.fd());
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 1u) << "no temporary file left behind";
}

TEST(WriteFileAtomicAt, KilledWriterNeverLeavesPartialFile) {
  TempDir root = MakeTemp();
  const std::string small(100, 'o');
  ASSERT_TRUE(WriteFileAtomicAt(root.fd(), "f", small, 0644, Durability::kNone).ok());
  const std::string big(32 << 20, 'n');
  for (int round = 0; round < 20; ++round) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (;;) (void)WriteFileAtomicAt(root.fd(), "f", big, 0644, Durability::kNone);
    }
    ::usleep(static_cast<useconds_t>(1000 + round * 3000));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    std::string now = Read(root.fd(), "f");
    EXPECT_TRUE(now == small || now == big) << "round " << round << ": size " << now.size();
  }
}

TEST(RemoveTreeAt, RemovesReadOnlyTreesWithoutFollowingSymlinks) {
  TempDir root = MakeTemp();
  TempDir outside = MakeTemp();
  ASSERT_TRUE(WriteFileAtomicAt(outside.fd(), "keep", "k", 0644, Durability::kNone).ok());
  ASSERT_TRUE(MkdirAllAt(root.fd(), "t/sub", 0755).ok());
  ASSERT_TRUE(SymlinkAt(outside.path(), root.fd(), "t/link").ok());
  auto sub = OpenDirAt(root.fd(), "t/sub");
  ASSERT_TRUE(WriteFileAtomicAt(sub->get(), "f", "x", 0444, Durability::kNone).ok());
  ASSERT_EQ(::fchmod(sub->get(), 0555), 0);
  ASSERT_TRUE(RemoveTreeAt(root.fd(), "t").ok());
  EXPECT_FALSE(*ExistsAt(root.fd(), "t"));
  EXPECT_EQ(Read(outside.fd(), "keep"), "k");
  EXPECT_TRUE(RemoveTreeAt(root.fd(), "t").ok()) << "missing tree is fine";
}

TEST(ReadFileAt, EnforcesSizeLimit) {
  TempDir root = MakeTemp();
  ASSERT_TRUE(
      WriteFileAtomicAt(root.fd(), "f", std::string(100, 'x'), 0644, Durability::kNone).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(ReadFileAt(root.fd(), "f", 10).status()));
  EXPECT_EQ(ReadFileAt(root.fd(), "f", 100)->size(), 100u);
}

#ifdef ONIX_FS_AT_FALLBACK
// The same suite, with openat2 treated as missing.
class FallbackEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { internal::DisableOpenat2ForTesting(); }
};
const auto* const kFallback = ::testing::AddGlobalTestEnvironment(new FallbackEnvironment);
#endif

}  // namespace
}  // namespace onix::fs

#include "moss/base/file_lock.h"

#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "moss/base/temp_dir.h"

namespace onix {
namespace {

TEST(FileLock, SecondHolderIsRefusedWithHolderPid) {
  auto t = TempDir::Make("lock-test-");
  ASSERT_TRUE(t.ok());
  auto first = FileLock::Acquire(t->fd(), "lock", LockWait::kFail);
  ASSERT_TRUE(first.ok()) << first.status();
  // flock is per open file description, so a second open in this process conflicts too.
  auto second = FileLock::Acquire(t->fd(), "lock", LockWait::kFail);
  ASSERT_TRUE(absl::IsUnavailable(second.status())) << second.status();
  EXPECT_NE(second.status().message().find(std::to_string(::getpid())), std::string::npos)
      << second.status();
}

TEST(FileLock, ReleasedOnDestructionAndWaiterProceeds) {
  auto t = TempDir::Make("lock-test-");
  ASSERT_TRUE(t.ok());
  {
    auto held = FileLock::Acquire(t->fd(), "lock", LockWait::kFail);
    ASSERT_TRUE(held.ok());
  }
  auto again = FileLock::Acquire(t->fd(), "lock", LockWait::kFail);
  ASSERT_TRUE(again.ok()) << again.status();
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The inherited fd shares our open file description (and so our lock): drop it.
    ::close(again->fd());
    auto waited = FileLock::Acquire(t->fd(), "lock", LockWait::kWait);
    ::_exit(waited.ok() ? 0 : 1);
  }
  ::usleep(100000);
  int status = 0;
  EXPECT_EQ(::waitpid(child, &status, WNOHANG), 0) << "the waiter must block while we hold it";
  again = absl::UnavailableError("released");  // drops the lock
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace onix

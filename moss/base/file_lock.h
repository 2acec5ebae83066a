// flock(2)-based exclusive lock on a file, held for the life of the object. The holder's pid
// is written into the file so a waiting or refused process can say who holds it.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "moss/base/fd.h"

namespace onix {

enum class LockWait { kWait, kFail };

class FileLock {
 public:
  // Opens (creating with mode 0644) `name` below `dirfd` and takes an exclusive flock.
  // kFail: returns Unavailable naming the holder's pid at once if another process holds it.
  // kWait: blocks until the lock is free.
  static absl::StatusOr<FileLock> Acquire(int dirfd, std::string_view name, LockWait wait);

  FileLock(FileLock&&) = default;
  FileLock& operator=(FileLock&&) = default;
  // Releasing is closing: the kernel drops the flock with the last fd.
  ~FileLock() = default;

  int fd() const { return fd_.get(); }

 private:
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace onix

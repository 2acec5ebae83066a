// Reading the generator's inputs: source files that may be symlinks (Bazel runfiles and
// `bazel run` trees are symlink farms), unlike the commit path's no-symlink rule.
#pragma once

#include <ctime>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace onix::site {

struct InputFile {
  std::string contents;
  time_t mtime = 0;
};

// Reads the regular file `path` below `dirfd`, following symlinks. NotFound when it does not
// exist, FailedPrecondition when it is not a regular file, ResourceExhausted above 16 MiB.
absl::StatusOr<InputFile> ReadInput(int dirfd, std::string_view path);

// Whether `name` below `dirfd` is a regular file after following symlinks.
bool IsRegularInput(int dirfd, std::string_view name);

}  // namespace onix::site

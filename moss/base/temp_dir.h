// A private temporary directory removed (recursively) when the object dies.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "moss/base/fd.h"

namespace onix {

class TempDir {
 public:
  // Creates "<parent>/<prefix>XXXXXX" with mode 0700; `parent` defaults to $TMPDIR or /tmp.
  static absl::StatusOr<TempDir> Make(std::string_view prefix, std::string parent = "");

  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }
  // Keeps the directory on disk after destruction (for debugging a failed test).
  void Keep() { keep_ = true; }

 private:
  TempDir(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  void Remove();

  std::string path_;
  UniqueFd fd_;
  bool keep_ = false;
};

}  // namespace onix

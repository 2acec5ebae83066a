#include "moss/base/temp_dir.h"

#include <fcntl.h>
#include <stdlib.h>

#include <cerrno>
#include <cstdlib>
#include <utility>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix {

absl::StatusOr<TempDir> TempDir::Make(std::string_view prefix, std::string parent) {
  if (parent.empty()) {
    const char* env = std::getenv("TEST_TMPDIR");
    if (env == nullptr || *env == '\0') env = std::getenv("TMPDIR");
    parent = (env != nullptr && *env != '\0') ? env : "/tmp";
  }
  std::string templ = StrCat(parent, "/", std::string(prefix), "XXXXXX");
  if (::mkdtemp(templ.data()) == nullptr) {
    const int err = errno;
    return ErrnoError(err, StrCat("mkdtemp(", templ, ")"));
  }
  auto fd = fs::OpenDir(templ);
  if (!fd.ok()) return fd.status();
  return TempDir(templ, std::move(fd).value());
}

TempDir::TempDir(TempDir&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::move(other.fd_)), keep_(other.keep_) {
  other.path_.clear();
}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    Remove();
    path_ = std::move(other.path_);
    fd_ = std::move(other.fd_);
    keep_ = other.keep_;
    other.path_.clear();
  }
  return *this;
}

TempDir::~TempDir() { Remove(); }

void TempDir::Remove() {
  if (path_.empty() || keep_) return;
  fd_.reset();
  // Best effort: a destructor has nobody to report to, and a leftover temp dir is harmless.
  auto parent = fs::OpenDir(path_.substr(0, path_.rfind('/')));
  if (parent.ok()) {
    (void)fs::RemoveTreeAt(parent->get(), path_.substr(path_.rfind('/') + 1));
  }
  path_.clear();
}

}  // namespace onix

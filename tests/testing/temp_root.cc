#include "tests/testing/temp_root.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::testing {

absl::StatusOr<TempRoot> TempRoot::Make() {
  const char* base = std::getenv("TEST_TMPDIR");
  ONIX_ASSIGN_OR_RETURN(TempDir dir, TempDir::Make("root-", base ? base : ""));
  // A machine root is world-readable like "/" (TempDir makes 0700).
  ::fchmod(dir.fd(), 0755);
  for (const char* sub : {".moss", ".moss/store", ".moss/root", ".moss/db", ".moss/cache"}) {
    ONIX_RETURN_IF_ERROR(fs::MkdirAt(dir.fd(), sub, 0755));
  }
  return TempRoot(std::move(dir));
}

std::string TempRoot::Path(std::string_view rel) const { return StrCat(path(), "/", rel); }

absl::Status TempRoot::WriteFile(std::string_view rel, std::string_view content,
                                 mode_t mode) const {
  const size_t slash = rel.rfind('/');
  const std::string parent =
      slash == std::string_view::npos ? "." : std::string(rel.substr(0, slash));
  ONIX_ASSIGN_OR_RETURN(UniqueFd dir, fs::OpenDirAt(fd(), parent));
  return fs::WriteFileAtomicAt(dir.get(), rel.substr(slash + 1), content, mode,
                               fs::Durability::kNone);
}

std::map<std::string, std::string> TempRoot::HashTree(std::string_view rel) const {
  namespace sfs = std::filesystem;
  std::map<std::string, std::string> out;
  const sfs::path top = Path(rel);
  absl::StatusOr<UniqueFd> top_fd = fs::OpenDir(top.string());
  if (!top_fd.ok()) return {};
  std::error_code ec;
  for (auto it = sfs::recursive_directory_iterator(top, ec); !ec && it != sfs::end(it);
       it.increment(ec)) {
    const std::string name = sfs::relative(it->path(), top).string();
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0) return {};
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
    if (S_ISLNK(st.st_mode)) {
      out[name] = StrCat("link ", sfs::read_symlink(it->path()).string());
    } else if (S_ISDIR(st.st_mode)) {
      out[name] = StrCat("dir ", mode);
    } else {
      auto digest = Sha256FileAt(top_fd->get(), name);
      out[name] = StrCat("file ", mode, " ", digest.ok() ? digest->Hex() : "unreadable");
    }
  }
  return out;
}

std::string RunCommand(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

}  // namespace onix::testing

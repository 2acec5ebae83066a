#include "tests/testing/stones.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"
#include "moss/stone/stone.h"

namespace onix::testing {

absl::StatusOr<std::string> MakeStone(const std::string& out_dir, const std::string& name,
                                      const std::string& version, uint64_t release,
                                      const std::vector<TestFile>& files) {
  ONIX_ASSIGN_OR_RETURN(TempDir tree, TempDir::Make("tree-", out_dir));
  ::fchmod(tree.fd(), 0755);
  for (const auto& f : files) {
    if (f.directory) {
      ONIX_RETURN_IF_ERROR(fs::MkdirAllAt(tree.fd(), f.path, 0755));
      if (::fchmodat(tree.fd(), f.path.c_str(), f.mode, 0) != 0) {
        const int err = errno;
        return ErrnoError(err, StrCat("chmod(", f.path, ")"));
      }
      continue;
    }
    const size_t slash = f.path.rfind('/');
    std::string parent = ".";
    if (slash != std::string::npos) {
      parent = f.path.substr(0, slash);
      ONIX_RETURN_IF_ERROR(fs::MkdirAllAt(tree.fd(), parent, 0755));
    }
    ONIX_ASSIGN_OR_RETURN(UniqueFd dir, fs::OpenDirAt(tree.fd(), parent));
    const std::string base = f.path.substr(slash + 1);
    if (!f.link_target.empty()) {
      ONIX_RETURN_IF_ERROR(fs::SymlinkAt(f.link_target, dir.get(), base));
    } else {
      ONIX_RETURN_IF_ERROR(
          fs::WriteFileAtomicAt(dir.get(), base, f.content, f.mode, fs::Durability::kNone));
    }
  }
  stone::Meta meta;
  meta.name = name;
  meta.version = version;
  meta.source_release = release;
  meta.build_release = 1;
  meta.architecture = "x86_64";
  meta.summary = StrCat("test package ", name);
  meta.licenses = {"MIT"};
  const std::string out = StrCat(out_dir, "/", name, "-", version, "-", release, ".stone");
  ONIX_RETURN_IF_ERROR(stone::WriteBinaryStone(meta, tree.fd(), out));
  return out;
}

absl::StatusOr<std::string> FakeTriggerTool() {
  // A runfile is a symlink into Bazel's output tree, so read it the plain way.
  std::ifstream in("tests/testing/fake_trigger_tool", std::ios::binary);
  if (!in) return NotFound("tests/testing/fake_trigger_tool is not in the runfiles");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

}  // namespace onix::testing

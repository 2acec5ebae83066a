#include "boulder/analyse/analyse.h"

#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "boost/filesystem.hpp"
#include "boulder/analyse/elf.h"
#include "boulder/util/util.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::boulder {

namespace {

using stone::Dependency;
using stone::DepKind;

Dependency Dep(DepKind kind, std::string name) {
  Dependency d;
  d.kind = kind;
  d.name = std::move(name);
  return d;
}

// Every regular file and symlink below root/usr as "/usr/..." paths, sorted.
absl::StatusOr<std::vector<std::string>> ListFiles(const std::string& root) {
  std::vector<std::string> out;
  const std::string usr = root + "/usr";
  if (!boost::filesystem::exists(usr)) return out;
  boost::system::error_code ec;
  for (boost::filesystem::recursive_directory_iterator it(usr, ec), end; !ec && it != end;
       it.increment(ec)) {
    const auto st = it->symlink_status(ec);
    if (ec) break;
    if (st.type() == boost::filesystem::regular_file ||
        st.type() == boost::filesystem::symlink_file) {
      out.push_back("/" + it->path().lexically_relative(root).string());
    }
  }
  if (ec) return ErrnoError(ec.value(), StrCat("listing ", usr));
  std::sort(out.begin(), out.end());
  return out;
}

bool IsLibDir(const std::string& path) {
  const std::string dir = path.substr(0, path.rfind('/'));
  return dir == "/usr/lib" || dir == "/usr/lib64" || dir == "/usr/lib/x86_64-linux-musl";
}

// Splits debug info off `file` (a host path; `usr_path` is its "/usr/..." name).
absl::Status SplitDebug(const std::string& root, const std::string& usr_path, const ElfInfo& elf) {
  const std::string file = root + usr_path;
  const std::string debug_rel = StrCat("/usr/lib/debug", usr_path, ".debug");
  const std::string debug = root + debug_rel;
  ONIX_RETURN_IF_ERROR(MakeDirs(debug.substr(0, debug.rfind('/'))));
  auto ctx = [&](const absl::Status& s) {
    return Annotate(s, StrCat("splitting debug info of ", usr_path));
  };
  if (auto r = RunCommandOk({"objcopy", "--only-keep-debug", file, debug}); !r.ok()) {
    return ctx(r.status());
  }
  const bool executable = elf.type == ElfInfo::Type::kExecutable || !elf.interpreter.empty();
  if (auto r = RunCommandOk({"strip", executable ? "--strip-all" : "--strip-unneeded",
                             "--remove-section=.comment", file});
      !r.ok()) {
    return ctx(r.status());
  }
  if (auto r = RunCommandOk({"objcopy", StrCat("--add-gnu-debuglink=", debug), file}); !r.ok()) {
    return ctx(r.status());
  }
  if (::chmod(debug.c_str(), 0644) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("chmod ", debug));
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> PkgconfigRequires(const std::string& pc_text) {
  std::vector<std::string> names;
  size_t start = 0;
  while (start < pc_text.size()) {
    size_t end = pc_text.find('\n', start);
    if (end == std::string::npos) end = pc_text.size();
    std::string line = pc_text.substr(start, end - start);
    start = end + 1;
    if (line.rfind("Requires:", 0) != 0) continue;
    line = line.substr(9);
    for (char& c : line) c = c == ',' ? ' ' : c;
    bool skip_version = false;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      size_t j = i;
      while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
      if (j == i) break;
      const std::string word = line.substr(i, j - i);
      i = j;
      if (word == ">=" || word == "<=" || word == "=" || word == ">" || word == "<" ||
          word == "!=") {
        skip_version = true;
        continue;
      }
      if (skip_version) {
        skip_version = false;
        continue;
      }
      names.push_back(word);
    }
  }
  return names;
}

absl::StatusOr<std::map<std::string, FileFacts>> AnalyseInstallRoot(const std::string& install_root,
                                                                    const AnalyseOptions& options) {
  std::map<std::string, FileFacts> facts;
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> files, ListFiles(install_root));
  std::vector<std::string> wrong_interp;
  for (const std::string& path : files) {
    const std::string host = install_root + path;
    struct stat st;
    if (::lstat(host.c_str(), &st) != 0) {
      const int err = errno;
      return ErrnoError(err, StrCat("stat ", path));
    }
    const std::string dir = path.substr(0, path.rfind('/'));
    const std::string base = path.substr(path.rfind('/') + 1);
    FileFacts& f = facts[path];
    if ((dir == "/usr/bin" || dir == "/usr/sbin") && (S_ISLNK(st.st_mode) || (st.st_mode & 0111))) {
      f.provides.push_back(Dep(dir == "/usr/bin" ? DepKind::kBinary : DepKind::kSysbinary, base));
    }
    if (S_ISLNK(st.st_mode)) continue;
    if (base.size() > 3 && base.compare(base.size() - 3, 3, ".pc") == 0 &&
        (dir == "/usr/lib/pkgconfig" || dir == "/usr/share/pkgconfig")) {
      ONIX_ASSIGN_OR_RETURN(std::string pc, ReadFile(host));
      f.provides.push_back(Dep(DepKind::kPkgconfig, base.substr(0, base.size() - 3)));
      for (std::string& r : PkgconfigRequires(pc)) {
        f.depends.push_back(Dep(DepKind::kPkgconfig, std::move(r)));
      }
      continue;
    }
    if (path.rfind("/usr/lib/debug/", 0) == 0 || st.st_size < 64) continue;
    ONIX_ASSIGN_OR_RETURN(std::string bytes, ReadFile(host));
    if (!LooksLikeElf(bytes)) continue;
    ONIX_ASSIGN_OR_RETURN(ElfInfo elf, ParseElf(bytes, path));
    if (elf.type != ElfInfo::Type::kExecutable && elf.type != ElfInfo::Type::kSharedObject) {
      continue;
    }
    if (options.toolchain == "musl") {
      if (!elf.interpreter.empty() && elf.interpreter != kMuslInterpreter) {
        wrong_interp.push_back(StrCat(path, " (interpreter ", elf.interpreter, ")"));
      }
      for (const std::string& n : elf.needed) {
        if (n == "libc.so.6" || n.rfind("ld-linux", 0) == 0) {
          wrong_interp.push_back(StrCat(path, " (needs glibc's ", n, ")"));
        }
      }
    }
    for (const std::string& n : elf.needed) {
      f.depends.push_back(Dep(DepKind::kSoname, StrCat(n, "(", elf.machine, ")")));
    }
    if (!elf.soname.empty()) {
      Dependency so = Dep(DepKind::kSoname, StrCat(elf.soname, "(", elf.machine, ")"));
      (IsLibDir(path) ? f.provides : f.private_provides).push_back(std::move(so));
    }
    if (options.split_debug && elf.has_debug_info) {
      ONIX_RETURN_IF_ERROR(SplitDebug(install_root, path, elf));
    }
  }
  if (!wrong_interp.empty()) {
    std::string list;
    for (const std::string& w : wrong_interp) list += StrCat("\n  ", w);
    return FailedPrecondition(StrCat("a musl build produced glibc binaries (expected interpreter ",
                                     kMuslInterpreter, "):", list));
  }
  for (auto& [path, f] : facts) {
    std::sort(f.provides.begin(), f.provides.end());
    f.provides.erase(std::unique(f.provides.begin(), f.provides.end()), f.provides.end());
    std::sort(f.depends.begin(), f.depends.end());
    f.depends.erase(std::unique(f.depends.begin(), f.depends.end()), f.depends.end());
  }
  std::erase_if(facts, [](const auto& kv) {
    return kv.second.provides.empty() && kv.second.depends.empty() &&
           kv.second.private_provides.empty();
  });
  return facts;
}

}  // namespace onix::boulder

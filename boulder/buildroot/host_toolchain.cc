#include "boulder/buildroot/host_toolchain.h"

#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "boost/filesystem.hpp"
#include "boulder/analyse/elf.h"
#include "boulder/util/util.h"
#include "moss/base/fd.h"
#include "moss/base/sha256.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "yaml-cpp/yaml.h"

namespace onix::boulder {

namespace {

namespace bfs = boost::filesystem;

struct Declaration {
  std::vector<std::string> files;
  std::string hashed;  // names and bytes of every file, in reading order
  std::vector<std::string> library_dirs;
  std::vector<std::string> patterns;
};

absl::Status ReadDeclaration(const std::string& file, int depth, Declaration* out) {
  if (depth > 8) return InvalidArgument(StrCat(file, ": includes nest deeper than 8"));
  ONIX_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  out->files.push_back(file);
  out->hashed += StrCat(file.substr(file.rfind('/') + 1), "\n", text, "\n");
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(StrCat(file, ":", e.mark.line + 1, ": ", e.msg));
  }
  if (!doc.IsMap()) return InvalidArgument(StrCat(file, ": expected a mapping"));
  const std::string dir = file.substr(0, file.rfind('/'));
  try {
    for (const auto& kv : doc) {
      const std::string key = kv.first.as<std::string>();
      const int line = kv.first.Mark().line + 1;
      if (!kv.second.IsSequence()) {
        return InvalidArgument(StrCat(file, ":", line, ": ", key, " must be a list"));
      }
      for (const auto& item : kv.second) {
        const std::string v = item.as<std::string>();
        if (key == "include") {
          ONIX_RETURN_IF_ERROR(ReadDeclaration(StrCat(dir, "/", v), depth + 1, out));
        } else if (key == "library-dirs") {
          out->library_dirs.push_back(v);
        } else if (key == "paths") {
          if (v.empty() || v[0] != '/') {
            return InvalidArgument(
                StrCat(file, ":", item.Mark().line + 1, ": path '", v, "' is not absolute"));
          }
          out->patterns.push_back(StrCat(v, "\t", file, ":", item.Mark().line + 1));
        } else {
          return InvalidArgument(StrCat(file, ":", line, ": unknown field ", key,
                                        " (expected include, library-dirs, paths)"));
        }
      }
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument(StrCat(file, ":", e.mark.line + 1, ": ", e.msg));
  }
  return absl::OkStatus();
}

// `path` with its parent directories resolved, so the entry names where the bytes are
// (/lib64/ld-linux-x86-64.so.2 -> /usr/lib64/ld-linux-x86-64.so.2 on merged-/usr hosts).
bool CanonicalParent(const std::string& path, std::string* out) {
  const std::string normal = bfs::path(path).lexically_normal().string();
  const size_t slash = normal.rfind('/');
  if (slash == std::string::npos) return false;
  const std::string parent = slash == 0 ? "/" : normal.substr(0, slash);
  char buf[PATH_MAX];
  if (::realpath(parent.c_str(), buf) == nullptr) return false;
  const std::string base = normal.substr(slash + 1);
  *out = std::string(buf) == "/" ? StrCat("/", base) : StrCat(buf, "/", base);
  if (base.empty()) *out = buf;
  return true;
}

// The ELF facts of a host file, read through mmap: cc1 is 30 MB and we need its headers.
bool ReadElf(const std::string& path, ElfInfo* info) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 64) return false;
  char magic[4];
  if (::pread(fd.get(), magic, 4, 0) != 4 || !LooksLikeElf(std::string_view(magic, 4))) {
    return false;
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (map == MAP_FAILED) return false;
  auto parsed = ParseElf(std::string_view(static_cast<const char*>(map), size), path);
  ::munmap(map, size);
  if (!parsed.ok()) return false;
  *info = std::move(*parsed);
  return true;
}

class Resolver {
 public:
  Resolver(std::vector<std::string> library_dirs) : library_dirs_(std::move(library_dirs)) {}

  // `why` is where the path was asked for; `strict` makes a missing path an error.
  absl::Status Add(const std::string& path, const std::string& why, bool strict, bool scan) {
    std::string canonical;
    if (!CanonicalParent(path, &canonical)) {
      if (!strict) return absl::OkStatus();
      return NotFound(StrCat(why, ": host path ", path, " does not exist"));
    }
    if (!seen_.insert(canonical).second) return absl::OkStatus();
    struct stat st;
    if (::lstat(canonical.c_str(), &st) != 0) {
      const int err = errno;
      if (!strict) return absl::OkStatus();
      return ErrnoError(err, StrCat(why, ": host path ", canonical));
    }
    HostEntry e;
    e.path = canonical;
    if (S_ISLNK(st.st_mode)) {
      char buf[PATH_MAX];
      const ssize_t n = ::readlink(canonical.c_str(), buf, sizeof buf - 1);
      if (n <= 0) {
        const int err = errno;
        return ErrnoError(err, StrCat(why, ": readlink ", canonical));
      }
      e.kind = HostEntry::Kind::kSymlink;
      e.link_target.assign(buf, static_cast<size_t>(n));
      entries_.push_back(e);
      const std::string dir = canonical.substr(0, canonical.rfind('/'));
      const std::string target =
          e.link_target[0] == '/' ? e.link_target : StrCat(dir, "/", e.link_target);
      return Add(target, StrCat(why, " (the target of ", canonical, ")"), strict, scan);
    }
    if (S_ISDIR(st.st_mode)) {
      e.kind = HostEntry::Kind::kDir;
      entries_.push_back(e);
      if (canonical == "/usr") {
        // Debian's /usr points through /etc/alternatives (/usr/bin/awk ->
        // /etc/alternatives/awk): a whole host /usr is only whole with it.
        ONIX_RETURN_IF_ERROR(Add("/etc/alternatives", why, false, false));
      }
      return scan ? ScanDir(canonical, why) : absl::OkStatus();
    }
    if (!S_ISREG(st.st_mode)) {
      return InvalidArgument(StrCat(why, ": host path ", canonical, " is not a file"));
    }
    e.kind = HostEntry::Kind::kFile;
    entries_.push_back(e);
    return AddElfNeeds(canonical, why, strict);
  }

  std::vector<HostEntry> Finish() {
    std::sort(entries_.begin(), entries_.end(),
              [](const HostEntry& a, const HostEntry& b) { return a.path < b.path; });
    std::vector<HostEntry> out;
    std::vector<std::string> dirs;
    for (const HostEntry& e : entries_) {
      bool covered = false;
      for (const std::string& d : dirs) {
        if (e.path.size() > d.size() && e.path.compare(0, d.size(), d) == 0 &&
            (d == "/" || e.path[d.size()] == '/')) {
          covered = true;
          break;
        }
      }
      if (covered) continue;
      if (e.kind == HostEntry::Kind::kDir) dirs.push_back(e.path);
      out.push_back(e);
    }
    return out;
  }

 private:
  absl::Status AddElfNeeds(const std::string& file, const std::string& why, bool strict) {
    ElfInfo info;
    if (!ReadElf(file, &info)) return absl::OkStatus();
    const std::string need_why = StrCat(why, " (needed by ", file, ")");
    if (!info.interpreter.empty()) {
      ONIX_RETURN_IF_ERROR(Add(info.interpreter, need_why, strict, false));
    }
    for (const std::string& lib : info.needed) {
      bool found = false;
      for (const std::string& dir : library_dirs_) {
        const std::string candidate = StrCat(dir, "/", lib);
        struct stat st;
        if (::stat(candidate.c_str(), &st) == 0) {
          ONIX_RETURN_IF_ERROR(Add(candidate, need_why, strict, false));
          found = true;
          break;
        }
      }
      if (!found && strict) {
        return NotFound(StrCat(need_why, ": library ", lib, " is in none of the library-dirs"));
      }
    }
    return absl::OkStatus();
  }

  // What the programs and libraries inside a declared directory need, and where its
  // symlinks lead outside it. Lenient: a directory holds things no build uses.
  absl::Status ScanDir(const std::string& dir, const std::string& why) {
    boost::system::error_code ec;
    for (bfs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const bfs::file_status st = it->symlink_status(ec);
      if (ec) break;
      const std::string p = it->path().string();
      if (st.type() == bfs::symlink_file) {
        const bfs::path target = bfs::read_symlink(it->path(), ec);
        if (ec) {
          ec.clear();
          continue;
        }
        const std::string abs =
            target.is_absolute() ? target.string() : (it->path().parent_path() / target).string();
        std::string canonical;
        if (CanonicalParent(abs, &canonical) && canonical.rfind(dir + "/", 0) != 0) {
          ONIX_RETURN_IF_ERROR(Add(abs, why, false, false));
        }
      } else if (st.type() == bfs::regular_file) {
        const bool exec = (st.permissions() & bfs::owner_exe) != 0;
        if (exec || p.find(".so") != std::string::npos) {
          ONIX_RETURN_IF_ERROR(AddElfNeeds(p, why, false));
        }
      }
    }
    return absl::OkStatus();
  }

  std::vector<std::string> library_dirs_;
  std::set<std::string> seen_;
  std::vector<HostEntry> entries_;
};

}  // namespace

std::string HostToolchainFile(const std::string& macro_dir, const std::string& toolchain) {
  return StrCat(macro_dir, "/../host/", toolchain, ".yaml");
}

absl::StatusOr<HostToolchain> ResolveHostToolchain(const std::string& file,
                                                   const std::vector<std::string>& extra_paths) {
  Declaration decl;
  ONIX_RETURN_IF_ERROR(ReadDeclaration(file, 0, &decl));
  Resolver resolver(decl.library_dirs);
  for (const std::string& tagged : decl.patterns) {
    const std::string pattern = tagged.substr(0, tagged.find('\t'));
    const std::string where = tagged.substr(tagged.find('\t') + 1);
    glob_t g;
    const int rc = ::glob(pattern.c_str(), GLOB_BRACE | GLOB_NOSORT, nullptr, &g);
    std::vector<std::string> matches;
    if (rc == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) matches.emplace_back(g.gl_pathv[i]);
    }
    ::globfree(&g);
    if (matches.empty()) {
      return NotFound(
          StrCat(where, ": declared host path ", pattern, " matches nothing on this host"));
    }
    std::sort(matches.begin(), matches.end());
    for (const std::string& m : matches) {
      ONIX_RETURN_IF_ERROR(resolver.Add(m, where, true, true));
    }
  }
  for (const std::string& p : extra_paths) {
    ONIX_RETURN_IF_ERROR(resolver.Add(p, "the recipe's host-paths", true, false));
  }
  HostToolchain out;
  out.files = decl.files;
  out.digest = Sha256Of(decl.hashed).Hex();
  out.entries = resolver.Finish();
  return out;
}

}  // namespace onix::boulder

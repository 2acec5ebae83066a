#include "bench/lib/usr_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::bench {
namespace {

// splitmix64: fast, seedable, and the same everywhere (std:: distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t Uniform(uint64_t lo, uint64_t hi) { return lo + Next() % (hi - lo + 1); }

 private:
  uint64_t s_;
};

constexpr const char* kWords[] = {
    "the",    "of",      "and",     "to",       "in",     "is",      "for",      "that",
    "with",   "return",  "int",     "const",    "struct", "static",  "void",     "char",
    "if",     "else",    "while",   "size_t",   "define", "include", "buffer",   "length",
    "error",  "status",  "license", "software", "copy",   "without", "warranty", "file",
    "option", "default", "value",   "config",   "path",   "system",  "library",  "function",
    "#",      "{",       "}",       "(",        ")",      ";",       "=",        "->",
    "0",      "1",       "NULL",    "true",     "false",  "uint8_t", "uint32_t", "unsigned"};

std::string Text(Rng& rng, size_t size) {
  std::string out;
  out.reserve(size + 16);
  size_t col = 0;
  while (out.size() < size) {
    const char* w = kWords[rng.Next() % (sizeof(kWords) / sizeof(kWords[0]))];
    out += w;
    col += std::strlen(w) + 1;
    if (col > 60 + rng.Next() % 20) {
      out += '\n';
      col = 0;
    } else {
      out += ' ';
    }
  }
  out.resize(size);
  return out;
}

// ELF-ish: a header, code-like runs of repeated instruction patterns with varied operands,
// zero padding, string tables and some incompressible data.
std::string Binary(Rng& rng, size_t size) {
  std::string out(
      "\x7f"
      "ELF\x02\x01\x01",
      7);
  out.resize(64, '\0');
  out.reserve(size + 4096);
  while (out.size() < size) {
    const uint64_t kind = rng.Next() % 10;
    const size_t n = static_cast<size_t>(rng.Uniform(256, 4096));
    if (kind < 5) {  // code: a few opcode templates with random immediates
      static const uint8_t kOps[][4] = {{0x48, 0x89, 0xe5, 0},
                                        {0x48, 0x8b, 0x45, 0},
                                        {0xe8, 0, 0, 0},
                                        {0x0f, 0x1f, 0x44, 0},
                                        {0x41, 0x57, 0x41, 0x56}};
      for (size_t i = 0; i < n; i += 4) {
        const uint64_t r = rng.Next();
        const uint8_t* op = kOps[r % 5];
        out.append(reinterpret_cast<const char*>(op), 3);
        out.push_back(static_cast<char>((r >> 8) & 0x3f));
      }
    } else if (kind < 7) {  // strings
      out += Text(rng, n);
      out.push_back('\0');
    } else if (kind < 8) {  // padding
      out.append(n, '\0');
    } else {  // data
      for (size_t i = 0; i < n; i += 8) {
        uint64_t v = rng.Next();
        out.append(reinterpret_cast<const char*>(&v), 8);
      }
    }
  }
  out.resize(size);
  return out;
}

// How one package's files are drawn: the chance (per mille) of a versioned shared library and
// of a binary/module, and the size ranges. The two generators differ only in these numbers.
struct FileMix {
  uint64_t library_below, binary_below;
  uint64_t library_min, library_max, binary_min, binary_max, text_max;
};
constexpr FileMix kTreeMix{6, 350, 256 << 10, 4 << 20, 8 << 10, 48 << 10, 8 << 10};
constexpr FileMix kPackageSetMix{3, 283, 256 << 10, 2 << 20, 4 << 10, 32 << 10, 6 << 10};

// Writes file `i` of package `name` through either generator's writer.
template <typename W>
absl::Status WritePackageFile(const FileMix& mix, Rng& rng, const std::string& name, int i, W& w) {
  const uint64_t pick = rng.Next() % 1000;
  if (pick < mix.library_below) {
    const std::string so = StrCat("lib/lib", name, "_", i, ".so");
    ONIX_RETURN_IF_ERROR(
        w.File(so + ".1.2.3", Binary(rng, rng.Uniform(mix.library_min, mix.library_max)), 0755));
    ONIX_RETURN_IF_ERROR(w.Link(StrCat("lib", name, "_", i, ".so.1.2.3"), so + ".1"));
    return w.Link(StrCat("lib", name, "_", i, ".so.1"), so);
  }
  if (pick < mix.binary_below) {
    const bool bin = rng.Next() % 3 == 0;
    const std::string path = bin ? StrCat(rng.Next() % 5 == 0 ? "sbin/" : "bin/", name, "-", i)
                                 : StrCat("lib/", name, "/module", i, ".so");
    return w.File(path, Binary(rng, rng.Uniform(mix.binary_min, mix.binary_max)), 0755);
  }
  const uint64_t where = rng.Next() % 4;
  const std::string path = where == 0   ? StrCat("include/", name, "/h", i, ".h")
                           : where == 1 ? StrCat("share/doc/", name, "/README", i)
                           : where == 2 ? StrCat("share/man/man1/", name, "-", i, ".1")
                                        : StrCat("share/", name, "/data/d", i, ".txt");
  return w.File(path, Text(rng, rng.Uniform(200, mix.text_max)), 0644);
}

class Writer {
 public:
  Writer(int root, UsrTreeStats& stats) : root_(root), stats_(stats) {}
  absl::Status Dir(const std::string& path) {
    ONIX_RETURN_IF_ERROR(fs::MkdirAllAt(root_, path, 0755));
    return absl::OkStatus();
  }
  absl::Status File(const std::string& path, std::string_view content, mode_t mode) {
    ONIX_ASSIGN_OR_RETURN(UniqueFd fd, fs::OpenAt(root_, path, O_WRONLY | O_CREAT | O_EXCL, mode));
    ONIX_RETURN_IF_ERROR(fs::WriteAll(fd.get(), content, path));
    if (::fchmod(fd.get(), mode) != 0) {
      const int err = errno;
      return ErrnoError(err, StrCat("fchmod(", path, ")"));
    }
    ++stats_.files;
    stats_.bytes += content.size();
    return absl::OkStatus();
  }
  absl::Status Link(const std::string& target, const std::string& path) {
    ONIX_RETURN_IF_ERROR(fs::SymlinkAt(target, root_, path));
    ++stats_.symlinks;
    return absl::OkStatus();
  }

 private:
  int root_;
  UsrTreeStats& stats_;
};

}  // namespace

std::string UsrTreeStamp(const UsrTreeSpec& spec) {
  return StrCat("seed=", spec.seed, " bytes=", spec.total_bytes, " generator=2\n");
}

absl::StatusOr<UsrTreeStats> GenerateUsrTree(int dirfd, const UsrTreeSpec& spec) {
  UsrTreeStats stats;
  Writer w(dirfd, stats);
  Rng rng(spec.seed);
  for (const char* d : {"bin", "sbin", "lib", "libexec", "include", "share/doc", "share/man/man1",
                        "share/licenses", "share/locale"}) {
    ONIX_RETURN_IF_ERROR(w.Dir(d));
  }
  const std::string licence = Text(rng, 18000);
  int pkg = 0;
  while (stats.bytes < spec.total_bytes) {
    const std::string name = StrCat("pkg", pkg++);
    // Each package: a few binaries, a shared library with its soname chain, headers, docs,
    // data files and a licence (identical across packages: the duplicates).
    const int nfiles = static_cast<int>(rng.Uniform(8, 40));
    const std::string inc = StrCat("include/", name), doc = StrCat("share/doc/", name),
                      data = StrCat("share/", name, "/data"), mod = StrCat("lib/", name);
    for (const auto& d : {inc, doc, data, mod}) ONIX_RETURN_IF_ERROR(w.Dir(d));
    for (int i = 0; i < nfiles && stats.bytes < spec.total_bytes; ++i) {
      ONIX_RETURN_IF_ERROR(WritePackageFile(kTreeMix, rng, name, i, w));
    }
    if (rng.Next() % 2 == 0) {
      ONIX_RETURN_IF_ERROR(w.File(StrCat("share/licenses/", name), licence, 0644));
      ++stats.duplicates;
    }
    // The package's main command, as packages ship "foo -> foo-1.2" style aliases.
    ONIX_RETURN_IF_ERROR(w.Link(StrCat(name, "-0"), StrCat("bin/", name)));
  }
  // Count directories once at the end (MkdirAllAt does not say which it created).
  std::function<absl::Status(int)> count = [&](int fd) -> absl::Status {
    ONIX_ASSIGN_OR_RETURN(auto names, fs::ListDir(fd));
    for (const auto& n : names) {
      ONIX_ASSIGN_OR_RETURN(struct stat st, fs::StatAt(fd, n));
      if (!S_ISDIR(st.st_mode)) continue;
      ++stats.directories;
      ONIX_ASSIGN_OR_RETURN(UniqueFd sub, fs::OpenDirAt(fd, n));
      ONIX_RETURN_IF_ERROR(count(sub.get()));
    }
    return absl::OkStatus();
  };
  ONIX_RETURN_IF_ERROR(count(dirfd));
  return stats;
}

namespace {

// Writes each file of a package into its own tree and, optionally, into the merged tree.
class PackageWriter {
 public:
  PackageWriter(int package_fd, int merged_fd, PackageSetStats& stats)
      : package_fd_(package_fd), merged_fd_(merged_fd), stats_(stats) {}

  absl::Status File(const std::string& path, std::string_view content, mode_t mode) {
    for (int fd : {package_fd_, merged_fd_}) {
      if (fd < 0) continue;
      ONIX_RETURN_IF_ERROR(Parent(fd, path));
      ONIX_ASSIGN_OR_RETURN(UniqueFd out, fs::OpenAt(fd, path, O_WRONLY | O_CREAT | O_EXCL, mode));
      ONIX_RETURN_IF_ERROR(fs::WriteAll(out.get(), content, path));
      if (::fchmod(out.get(), mode) != 0) {
        const int err = errno;
        return ErrnoError(err, StrCat("fchmod(", path, ")"));
      }
    }
    ++stats_.files;
    stats_.bytes += content.size();
    return absl::OkStatus();
  }
  absl::Status Link(const std::string& target, const std::string& path) {
    for (int fd : {package_fd_, merged_fd_}) {
      if (fd < 0) continue;
      ONIX_RETURN_IF_ERROR(Parent(fd, path));
      ONIX_RETURN_IF_ERROR(fs::SymlinkAt(target, fd, path));
    }
    ++stats_.symlinks;
    return absl::OkStatus();
  }

 private:
  static absl::Status Parent(int fd, const std::string& path) {
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos) return absl::OkStatus();
    return fs::MkdirAllAt(fd, path.substr(0, slash), 0755);
  }

  int package_fd_, merged_fd_;
  PackageSetStats& stats_;
};

// One package's files from its own stream.
absl::Status WritePackage(const PackageSetSpec& spec, int index, bool changed,
                          const std::string& licence, PackageWriter& w, PackageSetStats& stats) {
  Rng rng(spec.seed * 0x100000001b3ull + static_cast<uint64_t>(index) * 2 + (changed ? 1 : 0));
  rng.Next();
  const std::string name = PackageName(index);
  const int nfiles = static_cast<int>(rng.Uniform(10, 56));
  for (int i = 0; i < nfiles; ++i) {
    ONIX_RETURN_IF_ERROR(WritePackageFile(kPackageSetMix, rng, name, i, w));
  }
  // The licence and the link do not depend on `changed`: decided from the package number.
  Rng fixed(spec.seed * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(index));
  if (fixed.Next() % 2 == 0) {
    ONIX_RETURN_IF_ERROR(w.File(StrCat("share/licenses/", name), licence, 0644));
    ++stats.duplicates;
  }
  if (fixed.Next() % 4 == 0) {
    ONIX_RETURN_IF_ERROR(w.Link(StrCat(name, "-0"), StrCat("bin/", name)));
  }
  return absl::OkStatus();
}

}  // namespace

PackageSetSpec SmallPackageSet() {
  PackageSetSpec s;
  s.packages = 150;
  return s;
}

PackageSetSpec MediumPackageSet() {
  PackageSetSpec s;
  s.packages = 1500;
  return s;
}

std::string PackageName(int index) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "pkg%04d", index);
  return buf;
}

bool PackageChanges(const PackageSetSpec& spec, int index) {
  return spec.update_every > 0 && index % spec.update_every == spec.update_every - 1;
}

std::string PackageVersion(const PackageSetSpec& spec, int index, Variant variant) {
  return variant == Variant::kUpdate && PackageChanges(spec, index) ? "1.1" : "1.0";
}

std::string PackageSetStamp(const PackageSetSpec& spec) {
  return StrCat("packages seed=", spec.seed, " count=", spec.packages,
                " update_every=", spec.update_every, " generator=1\n");
}

absl::StatusOr<PackageSetStats> GeneratePackageSet(const PackageSetSpec& spec, Variant variant,
                                                   bool changed_only, int packages_dirfd,
                                                   int merged_dirfd) {
  PackageSetStats stats;
  Rng lrng(spec.seed);
  const std::string licence = Text(lrng, 18000);
  for (int i = 0; i < spec.packages; ++i) {
    const bool changed = variant == Variant::kUpdate && PackageChanges(spec, i);
    if (changed_only && !changed) continue;
    const std::string name = PackageName(i);
    ONIX_RETURN_IF_ERROR(fs::MkdirAt(packages_dirfd, name, 0755));
    ONIX_ASSIGN_OR_RETURN(UniqueFd pfd, fs::OpenDirAt(packages_dirfd, name));
    PackageWriter w(pfd.get(), merged_dirfd, stats);
    ONIX_RETURN_IF_ERROR_CTX(WritePackage(spec, i, changed, licence, w, stats),
                             StrCat("generating package ", name));
    ++stats.packages;
  }
  return stats;
}

}  // namespace onix::bench

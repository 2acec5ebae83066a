#include "nix-integration/opengl_bridge/bridge.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <vector>

#include "moss/base/fd.h"
#include "moss/base/fs_at.h"
#include "moss/base/sha256.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "nlohmann/json.hpp"

namespace onix::bridge {
namespace {

struct Entry {
  std::string rel;
  bool dir = false;
};

std::string RootPrefix(const std::string& root) {
  std::string p = root;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p == "/" ? "" : p;
}

std::string Parent(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

std::string Base(const std::string& path) { return path.substr(path.rfind('/') + 1); }

bool IsManifest(const std::string& rel) {
  static const char* const kDirs[] = {"share/vulkan/icd.d/", "share/vulkan/implicit_layer.d/",
                                      "share/vulkan/explicit_layer.d/",
                                      "share/glvnd/egl_vendor.d/"};
  if (rel.size() < 5 || rel.compare(rel.size() - 5, 5, ".json") != 0) return false;
  for (const char* d : kDirs) {
    if (rel.rfind(d, 0) == 0) return true;
  }
  return false;
}

// Lists the tree below `dir_fd` (depth first, sorted): directories, and every file or symlink.
absl::Status Walk(int dir_fd, const std::string& rel, std::vector<Entry>* out) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd fd,
                        rel.empty() ? fs::OpenDirAt(dir_fd, ".") : fs::OpenDirAt(dir_fd, rel));
  ONIX_ASSIGN_OR_RETURN(auto names, fs::ListDir(fd.get()));
  for (const auto& name : names) {
    const std::string child = rel.empty() ? name : StrCat(rel, "/", name);
    ONIX_ASSIGN_OR_RETURN(struct stat st, fs::StatAt(fd.get(), name));
    if (S_ISDIR(st.st_mode)) {
      out->push_back({child, true});
      ONIX_RETURN_IF_ERROR(Walk(dir_fd, child, out));
    } else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
      out->push_back({child, false});
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadAll(int fd, const std::string& what) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return ErrnoError(err, StrCat("reading ", what));
    }
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

// Reads a manifest of the source, following symlinks but never out of the root.
absl::StatusOr<std::string> ReadSource(int root_fd, const std::string& rel) {
  const std::string path = StrCat(kBridgeSource, "/", rel);
  ONIX_ASSIGN_OR_RETURN(UniqueFd fd, fs::OpenAt(root_fd, path, O_RDONLY, 0, fs::Resolve::kInRoot));
  return ReadAll(fd.get(), StrCat("/", path));
}

// Points a manifest's library path inside the run dir. A bare soname is found by the
// loader's own search and stays; a path inside the mesa-bridge tree keeps its place in it;
// any other absolute path (a driver the base put elsewhere) is expected in the bridge lib/.
std::string MapLibrary(const std::string& lib, const std::string& run_dir) {
  const std::string prefix = StrCat("/", kBridgeSource, "/");
  if (lib.find('/') == std::string::npos || lib[0] != '/') return lib;
  if (lib.rfind(prefix, 0) == 0) return StrCat(run_dir, "/", lib.substr(prefix.size()));
  return StrCat(run_dir, "/lib/", Base(lib));
}

// Applies `fn` to every "library_path" of a Vulkan ICD/layer or glvnd vendor manifest.
template <typename Fn>
void ForEachLibraryPath(nlohmann::json& j, Fn fn) {
  for (const char* key : {"ICD", "layer"}) {
    if (j.contains(key) && j[key].is_object() && j[key].contains("library_path") &&
        j[key]["library_path"].is_string()) {
      fn(j[key]["library_path"]);
    }
  }
  if (j.contains("layers") && j["layers"].is_array()) {
    for (auto& layer : j["layers"]) {
      if (layer.is_object() && layer.contains("library_path") &&
          layer["library_path"].is_string()) {
        fn(layer["library_path"]);
      }
    }
  }
}

absl::StatusOr<std::string> RewriteManifest(const std::string& text, const std::string& rel,
                                            const std::string& run_dir) {
  try {
    auto j = nlohmann::json::parse(text);
    ForEachLibraryPath(j,
                       [&](nlohmann::json& p) { p = MapLibrary(p.get<std::string>(), run_dir); });
    return j.dump(2) + "\n";
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(StrCat("parsing /", kBridgeSource, "/", rel, ": ", e.what()));
  }
}

// The source list and manifest contents, so a changed stone makes the bridge stale.
absl::StatusOr<std::string> SourceDigest(int root_fd, const std::vector<Entry>& entries) {
  Sha256 sha;
  for (const auto& e : entries) {
    sha.Update(StrCat(e.rel, e.dir ? "\tdir\n" : "\tfile\n"));
    if (!e.dir && IsManifest(e.rel)) {
      ONIX_ASSIGN_OR_RETURN(std::string text, ReadSource(root_fd, e.rel));
      sha.Update(Sha256Of(text).Hex());
    }
  }
  return sha.Finish().Hex();
}

absl::StatusOr<std::vector<Entry>> SourceEntries(int root_fd) {
  std::vector<Entry> entries;
  ONIX_ASSIGN_OR_RETURN(bool exists, fs::ExistsAt(root_fd, kBridgeSource));
  if (!exists) return entries;
  ONIX_ASSIGN_OR_RETURN(UniqueFd src, fs::OpenDirAt(root_fd, kBridgeSource));
  ONIX_RETURN_IF_ERROR(Walk(src.get(), "", &entries));
  return entries;
}

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? std::string(buf) : std::string();
}

// Fills the private new tree `tree_fd` (see Rebuild): directories, links to `usr_prefix`,
// rewritten manifests and the marker.
absl::StatusOr<RebuildReport> FillTree(int root_fd, int tree_fd, const std::vector<Entry>& entries,
                                       const std::string& run_dir, const std::string& usr_prefix,
                                       const std::string& fstx, const std::string& digest) {
  RebuildReport report;
  for (const auto& e : entries) {
    if (e.dir) {
      ONIX_RETURN_IF_ERROR(fs::MkdirAt(tree_fd, e.rel, 0755));
    } else if (IsManifest(e.rel)) {
      ONIX_ASSIGN_OR_RETURN(std::string text, ReadSource(root_fd, e.rel));
      ONIX_ASSIGN_OR_RETURN(std::string json, RewriteManifest(text, e.rel, run_dir));
      UniqueFd dir;
      if (e.rel.find('/') == std::string::npos) {
        ONIX_ASSIGN_OR_RETURN(dir, fs::OpenDirAt(tree_fd, "."));
      } else {
        ONIX_ASSIGN_OR_RETURN(dir, fs::OpenDirAt(tree_fd, Parent(e.rel)));
      }
      // A plain create in the private new tree: the whole tree is what gets swapped in
      // atomically, so a per-file atomic write (O_TMPFILE + linkat, which needs /proc in
      // a chroot such as a moss system trigger's) buys nothing. /run is a tmpfs: no fsync.
      ONIX_ASSIGN_OR_RETURN(
          UniqueFd out,
          fs::OpenAt(dir.get(), Base(e.rel), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
      ONIX_RETURN_IF_ERROR(fs::WriteAll(out.get(), json, StrCat(run_dir, "/", e.rel)));
      ++report.rewritten;
    } else {
      ONIX_RETURN_IF_ERROR(fs::SymlinkAt(StrCat(usr_prefix, e.rel), tree_fd, e.rel));
      ++report.links;
    }
  }
  nlohmann::json marker;
  marker["fstx"] = fstx;
  marker["source_digest"] = digest;
  ONIX_ASSIGN_OR_RETURN(
      UniqueFd marker_fd,
      fs::OpenAt(tree_fd, kMarker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  ONIX_RETURN_IF_ERROR(
      fs::WriteAll(marker_fd.get(), marker.dump(2) + "\n", StrCat(run_dir, "/", kMarker)));

  return report;
}

}  // namespace

std::string DefaultRunDir(const std::string& root) {
  return StrCat(RootPrefix(root), "/run/opengl-driver");
}

absl::StatusOr<std::string> ActiveFstx(const std::string& root) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd root_fd, fs::OpenDir(root));
  auto text = fs::ReadFileAt(root_fd.get(), "usr/.fstx", 4096);
  if (absl::IsNotFound(text.status())) return std::string();
  if (!text.ok()) return Annotate(text.status(), StrCat("reading ", root, "/usr/.fstx"));
  return text->substr(0, text->find('\n'));
}

absl::StatusOr<RebuildReport> Rebuild(const std::string& root, const std::string& run_dir,
                                      std::string_view fstx_arg) {
  const std::string ctx = StrCat("rebuilding ", run_dir);
  auto result = [&]() -> absl::StatusOr<RebuildReport> {
    std::string fstx(fstx_arg);
    if (fstx.empty()) {
      ONIX_ASSIGN_OR_RETURN(fstx, ActiveFstx(root));
    }
    ONIX_ASSIGN_OR_RETURN(UniqueFd root_fd, fs::OpenDir(root));
    ONIX_ASSIGN_OR_RETURN(std::vector<Entry> entries, SourceEntries(root_fd.get()));
    ONIX_ASSIGN_OR_RETURN(std::string digest, SourceDigest(root_fd.get(), entries));

    ONIX_ASSIGN_OR_RETURN(UniqueFd parent, fs::OpenDir(Parent(run_dir)));
    const std::string name = Base(run_dir);
    // Trees left by a crash before an earlier swap.
    ONIX_ASSIGN_OR_RETURN(auto siblings, fs::ListDir(parent.get()));
    const std::string leftover = StrCat(".", name, ".new-");
    for (const auto& s : siblings) {
      if (s.rfind(leftover, 0) == 0) ONIX_RETURN_IF_ERROR(fs::RemoveTreeAt(parent.get(), s));
    }
    const std::string tmp = StrCat(leftover, ::getpid());
    ONIX_RETURN_IF_ERROR(fs::MkdirAt(parent.get(), tmp, 0755));
    ONIX_ASSIGN_OR_RETURN(UniqueFd tree, fs::OpenDirAt(parent.get(), tmp));

    const std::string usr_prefix = StrCat(RootPrefix(root), "/", kBridgeSource, "/");
    absl::StatusOr<RebuildReport> report =
        FillTree(root_fd.get(), tree.get(), entries, run_dir, usr_prefix, fstx, digest);
    if (!report.ok()) {
      // No half-built tree stays behind; the old bridge is untouched.
      fs::RemoveTreeAt(parent.get(), tmp).IgnoreError();
      return report.status();
    }
    // Commit point: the exchange (or first rename). Afterwards `tmp` holds the old tree.
    ONIX_ASSIGN_OR_RETURN(bool had_old, fs::ExistsAt(parent.get(), name));
    if (had_old) {
      ONIX_RETURN_IF_ERROR(fs::RenameExchangeAt(parent.get(), tmp, parent.get(), name));
      ONIX_RETURN_IF_ERROR(fs::RemoveTreeAt(parent.get(), tmp));
    } else {
      ONIX_RETURN_IF_ERROR(fs::RenameNoReplaceAt(parent.get(), tmp, parent.get(), name));
    }
    return report;
  }();
  if (!result.ok()) return Annotate(result.status(), ctx);
  return result;
}

std::string BridgeStatus::ToString() const {
  switch (state) {
    case State::kCoherent:
      return "coherent";
    case State::kStale:
      return StrCat("stale (points to fstx ", built_from, ")");
    case State::kMissing:
      return "missing";
    case State::kBroken:
      return StrCat("broken: ", broken, " links");  // the exact words of `onix status`
  }
  return "unknown";
}

absl::StatusOr<BridgeStatus> Check(const std::string& root, const std::string& run_dir,
                                   std::string_view active_fstx_arg) {
  BridgeStatus status;
  std::string active_fstx(active_fstx_arg);
  if (active_fstx.empty()) {
    ONIX_ASSIGN_OR_RETURN(active_fstx, ActiveFstx(root));
  }
  struct stat st;
  if (::stat(run_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return status;  // missing

  ONIX_ASSIGN_OR_RETURN(UniqueFd root_fd, fs::OpenDir(root));
  ONIX_ASSIGN_OR_RETURN(UniqueFd run_fd, fs::OpenDir(run_dir));
  std::string built_fstx = "unknown", built_digest;
  auto marker_text = fs::ReadFileAt(run_fd.get(), kMarker);
  if (marker_text.ok()) {
    try {
      auto j = nlohmann::json::parse(*marker_text);
      const std::string f = j.at("fstx").get<std::string>();
      if (!f.empty()) built_fstx = f;
      built_digest = j.at("source_digest").get<std::string>();
    } catch (const nlohmann::json::exception&) {
      // An unreadable marker says nothing about the origin: treated as unknown below.
    }
  }
  status.built_from = built_fstx;
  if (!active_fstx.empty() && built_fstx != active_fstx) {
    status.state = BridgeStatus::State::kStale;
    return status;
  }

  // Every link must resolve into the active mesa-bridge tree; so must manifest libraries.
  const std::string src_real = RealPath(StrCat(RootPrefix(root), "/", kBridgeSource));
  std::vector<Entry> run_entries;
  ONIX_RETURN_IF_ERROR_CTX(Walk(run_fd.get(), "", &run_entries), StrCat("checking ", run_dir));
  std::set<std::string> run_set;
  for (const auto& e : run_entries) {
    if (e.rel == kMarker) continue;
    run_set.insert(e.rel);
    const std::string path = StrCat(run_dir, "/", e.rel);
    if (e.dir) continue;
    ONIX_ASSIGN_OR_RETURN(struct stat est, fs::StatAt(run_fd.get(), e.rel));
    if (S_ISLNK(est.st_mode)) {
      const std::string real = RealPath(path);
      if (real.empty() || src_real.empty() || real.rfind(src_real + "/", 0) != 0) ++status.broken;
    } else if (IsManifest(e.rel)) {
      auto text = fs::ReadFileAt(run_fd.get(), e.rel);
      if (!text.ok()) return text.status();
      try {
        auto j = nlohmann::json::parse(*text);
        ForEachLibraryPath(j, [&](nlohmann::json& p) {
          const std::string lib = p.get<std::string>();
          if (!lib.empty() && lib[0] == '/' && RealPath(lib).empty()) ++status.broken;
        });
      } catch (const nlohmann::json::exception&) {
        ++status.broken;
      }
    }
  }
  ONIX_ASSIGN_OR_RETURN(std::vector<Entry> src_entries, SourceEntries(root_fd.get()));
  ONIX_ASSIGN_OR_RETURN(std::string digest, SourceDigest(root_fd.get(), src_entries));
  std::set<std::string> src_set;
  for (const auto& e : src_entries) src_set.insert(e.rel);
  // The source is what the bridge was built from, so an entry it lacks was removed from the
  // run dir afterwards: a missing link is as broken as a dangling one (an app would not find
  // that driver). With a changed source the difference is staleness instead.
  if (digest == built_digest) {
    for (const auto& rel : src_set) {
      if (!run_set.contains(rel)) ++status.broken;
    }
  }
  if (status.broken > 0) {
    status.state = BridgeStatus::State::kBroken;
    return status;
  }
  if (digest != built_digest || src_set != run_set) {
    status.state = BridgeStatus::State::kStale;
    return status;
  }
  status.state = BridgeStatus::State::kCoherent;
  return status;
}

}  // namespace onix::bridge

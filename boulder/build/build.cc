#include "boulder/build/build.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <set>

#include "boost/filesystem.hpp"
#include "boulder/analyse/analyse.h"
#include "boulder/buildroot/build_root.h"
#include "boulder/buildroot/host_toolchain.h"
#include "boulder/recipe/macros.h"
#include "boulder/recipe/recipe.h"
#include "boulder/sandbox/sandbox.h"
#include "boulder/sources/source_cache.h"
#include "boulder/util/util.h"
#include "moss/base/fd.h"
#include "moss/base/fs_at.h"
#include "moss/base/sha256.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"
#include "moss/stone/stone.h"
#include "moss/stone/types.h"

namespace onix::boulder {

namespace {

namespace bfs = boost::filesystem;

// Everything a build needs before its first step runs.
struct Prepared {
  Recipe recipe;
  MacroSet macros;
  TempDir work;
  std::string mason;       // host path bound at /mason
  std::string workdir_in;  // the steps' working directory inside the sandbox
  std::vector<SourceRecord> sources;
  std::vector<BuildDepRecord> builddeps;
  std::vector<SplitPackage> split;
  HostToolchain toolchain;
  SandboxConfig sandbox;  // without argv
  std::string macro_dir;
};

int Jobs(int requested) {
  if (requested > 0) return requested;
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

// The host's top-level /bin, /sbin, /lib, /lib64: the same symlinks on merged-/usr hosts
// (so /bin/sh and /lib/ld-musl-x86_64.so.1 resolve through the sandbox's /usr), read-only
// binds otherwise.
void AddTopLevelLinks(SandboxConfig* cfg) {
  for (const char* top : {"bin", "sbin", "lib", "lib64"}) {
    const std::string host = StrCat("/", top);
    struct stat st;
    if (::lstat(host.c_str(), &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      char buf[4096];
      ssize_t n = ::readlink(host.c_str(), buf, sizeof buf - 1);
      if (n > 0) cfg->symlinks.push_back({host, std::string(buf, static_cast<size_t>(n))});
    } else if (S_ISDIR(st.st_mode)) {
      cfg->binds.push_back({host, host, false});
    }
  }
}

// True when `dep` is binary(x) or sysbinary(x) and the declared host toolchain has x: the
// toolchain wins over the build root (docs/boulder.md), so such a need is met by the host.
bool HostToolchainHas(const HostToolchain& tc, const stone::Dependency& dep) {
  const char* dir = dep.kind == stone::DepKind::kBinary      ? "/usr/bin/"
                    : dep.kind == stone::DepKind::kSysbinary ? "/usr/sbin/"
                                                             : nullptr;
  if (dir == nullptr) return false;
  const std::string path = StrCat(dir, dep.name);
  for (const HostEntry& e : tc.entries) {
    if (e.path == path || (e.kind == HostEntry::Kind::kDir && path.rfind(e.path + "/", 0) == 0)) {
      return true;
    }
  }
  return false;
}

// Resolves the recipe's build dependencies: binary()/sysbinary() needs the declared host
// toolchain meets are recorded as "host"; everything else is installed by moss from `repo`
// into `buildroot` (a throwaway machine root), with the solver and the closure of
// dependencies.
absl::Status ResolveBuildDeps(const Recipe& recipe, const HostToolchain& tc,
                              const std::string& repo, const std::string& buildroot,
                              std::vector<BuildDepRecord>* out) {
  std::vector<std::string> from_repo;
  for (const std::string& text : recipe.builddeps) {
    auto dep = stone::Dependency::Parse(text);
    if (!dep.ok()) {
      return InvalidArgument(StrCat(recipe.Where(recipe.builddeps_line), ": build dependency ",
                                    text, ": ", dep.status().message()));
    }
    if (HostToolchainHas(tc, *dep)) {
      out->push_back({dep->ToString(), "host", ""});
    } else {
      from_repo.push_back(text);
    }
  }
  auto installed = InstallBuildRoot(buildroot, repo, from_repo);
  if (!installed.ok()) {
    return Annotate(installed.status(), recipe.Where(recipe.builddeps_line));
  }
  for (const BuildDepRecord& r : from_repo.empty() ? std::vector<BuildDepRecord>{} : *installed) {
    out->push_back(r);
  }
  return absl::OkStatus();
}

absl::StatusOr<Prepared> Prepare(const BuildOptions& opts) {
  ONIX_ASSIGN_OR_RETURN(Recipe recipe, LoadRecipe(opts.recipe_path));
  const std::string macro_dir = opts.macro_dir.empty() ? DefaultMacroDir() : opts.macro_dir;
  if (macro_dir.empty()) {
    return NotFound("finding boulder's macro files (set BOULDER_MACROS_DIR)");
  }
  ONIX_ASSIGN_OR_RETURN(MacroSet macros, MacroSet::LoadDir(macro_dir));
  {
    const std::string tc = StrCat(macro_dir, "/toolchains/", recipe.toolchain, ".yaml");
    ONIX_ASSIGN_OR_RETURN(std::string text, ReadFile(tc));
    ONIX_RETURN_IF_ERROR(macros.AddFile(text, tc));
  }
  macros.Define("name", recipe.name);
  macros.Define("version", recipe.version);
  macros.Define("release", StrCat(recipe.release));
  macros.Define("jobs", StrCat(Jobs(opts.jobs)));
  macros.Define("sourcedateepoch", StrCat(recipe.source_date_epoch));
  ONIX_ASSIGN_OR_RETURN(TempDir work, TempDir::Make("boulder-work-", opts.work_parent));
  const std::string mason = work.path() + "/mason";
  for (const char* d : {"", "/build", "/install", "/sources", "/buildroot"}) {
    ONIX_RETURN_IF_ERROR(MakeDirs(mason + d));
  }
  auto split = LoadSplit(SplitFile(macro_dir));
  if (!split.ok()) return Annotate(split.status(), "reading the default package split");
  const std::string tc_file = HostToolchainFile(macro_dir, recipe.toolchain);
  auto toolchain = ResolveHostToolchain(tc_file, recipe.host_paths);
  if (!toolchain.ok()) {
    return Annotate(toolchain.status(),
                    StrCat(recipe.path, ": resolving the declared host toolchain ", tc_file));
  }
  std::vector<BuildDepRecord> builddeps;
  ONIX_RETURN_IF_ERROR(
      ResolveBuildDeps(recipe, *toolchain, opts.repo, mason + "/buildroot", &builddeps));
  const std::string cache_root =
      opts.source_cache.empty() ? StrCat(work.path(), "/source-cache") : opts.source_cache;
  ONIX_ASSIGN_OR_RETURN(SourceCache cache, SourceCache::Open(cache_root, opts.mirror));
  std::vector<SourceRecord> records;
  for (const Upstream& up : recipe.upstreams) {
    const std::string dest = StrCat(mason, "/build/", up.unpack_dir);
    if (up.kind == Upstream::Kind::kArchive) {
      auto path = cache.FetchArchive(up.url, up.hash);
      if (!path.ok()) return Annotate(path.status(), recipe.Where(up.line));
      ONIX_RETURN_IF_ERROR_CTX(UnpackArchive(*path, dest, up.strip_components),
                               recipe.Where(up.line));
      records.push_back({up.url, "archive", up.hash, up.hash});
    } else {
      auto repo = cache.FetchGit(up.url, up.hash);
      if (!repo.ok()) return Annotate(repo.status(), recipe.Where(up.line));
      auto digest = CheckoutGit(*repo, up.hash, dest);
      if (!digest.ok()) return Annotate(digest.status(), recipe.Where(up.line));
      records.push_back({up.url, "git", up.hash, digest->Hex()});
    }
  }
  Prepared p{std::move(recipe),
             std::move(macros),
             std::move(work),
             mason,
             "/mason/build",
             std::move(records),
             std::move(builddeps),
             std::move(*split),
             std::move(*toolchain),
             {},
             macro_dir};
  if (!p.recipe.upstreams.empty()) p.workdir_in += "/" + p.recipe.upstreams[0].unpack_dir;

  // The root: the build root's /usr with the declared host toolchain bound into it, the
  // top-level links, /mason writable, and the build root itself read-only at %(depsroot).
  SandboxConfig& cfg = p.sandbox;
  ONIX_RETURN_IF_ERROR_CTX(
      AssembleSandboxUsr(mason + "/buildroot/usr", p.work.path() + "/usr", p.toolchain, &cfg),
      StrCat(p.recipe.path, ": assembling the sandbox's /usr"));
  AddTopLevelLinks(&cfg);
  cfg.binds.push_back({mason, "/mason", true});
  cfg.binds.push_back({mason + "/buildroot", "/mason/buildroot", false});
  cfg.cwd = p.workdir_in;
  cfg.hostname = "boulder";
  cfg.scratch_dir = opts.work_parent;
  cfg.env = {
      "PATH=/usr/bin:/usr/sbin:/bin:/sbin",
      "HOME=/tmp",
      "TMPDIR=/tmp",
      "SHELL=/bin/sh",
      "LC_ALL=C",
      "LANG=C",
      "TZ=UTC",
      StrCat("SOURCE_DATE_EPOCH=", p.recipe.source_date_epoch),
      "TERM=dumb",
      StrCat("BOULDER_JOBS=", Jobs(opts.jobs)),
  };
  return p;
}

// The shell text of one step: the data-file prelude, the recipe's environment, the step.
absl::StatusOr<std::string> StepScript(const Prepared& p, const Step& step) {
  ONIX_ASSIGN_OR_RETURN(std::string prelude, p.macros.Expand(p.macros.prelude(), "prelude", 1));
  std::string env;
  int line = p.recipe.environment_line;
  for (const auto& [name, value] : p.recipe.environment) {
    ONIX_ASSIGN_OR_RETURN(std::string v, p.macros.Expand(value, p.recipe.path, line));
    std::string quoted = "'";
    for (char c : v) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    quoted += "'";
    env += StrCat("export ", name, "=", quoted, "\n");
  }
  ONIX_ASSIGN_OR_RETURN(std::string body, p.macros.Expand(step.script, p.recipe.path, step.line));
  return StrCat(prelude, "\n", env, "cd ", p.workdir_in, "\n", body, "\n");
}

// Refuses anything outside /usr (listing it), then normalises what is inside: directories
// 0755, files 0755 or 0644 by their execute bit (set-id bits dropped), every timestamp
// SOURCE_DATE_EPOCH. Device nodes, fifos and sockets are refused as well.
absl::Status CollectInstallRoot(const std::string& root, const Recipe& recipe) {
  std::vector<std::string> outside, odd;
  boost::system::error_code ec;
  for (bfs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name != "usr" || it->symlink_status().type() != bfs::directory_file) {
      outside.push_back("/" + name);
    }
  }
  if (ec) return ErrnoError(ec.value(), StrCat("listing ", root));
  if (!outside.empty()) {
    std::sort(outside.begin(), outside.end());
    std::string list;
    for (const std::string& o : outside) list += StrCat("\n  ", o);
    return FailedPrecondition(StrCat(recipe.Where(recipe.install.line),
                                     ": the install step put files outside /usr:", list));
  }
  const std::string usr = root + "/usr";
  if (!bfs::exists(usr)) return absl::OkStatus();
  std::vector<std::string> entries = {usr};
  for (bfs::recursive_directory_iterator it(usr, ec), end; !ec && it != end; it.increment(ec)) {
    entries.push_back(it->path().string());
  }
  if (ec) return ErrnoError(ec.value(), StrCat("listing ", usr));
  const struct timespec times[2] = {{static_cast<time_t>(recipe.source_date_epoch), 0},
                                    {static_cast<time_t>(recipe.source_date_epoch), 0}};
  for (const std::string& e : entries) {
    struct stat st;
    if (::lstat(e.c_str(), &st) != 0) {
      const int err = errno;
      return ErrnoError(err, StrCat("stat ", e));
    }
    mode_t mode = 0;
    if (S_ISDIR(st.st_mode)) {
      mode = 0755;
    } else if (S_ISREG(st.st_mode)) {
      mode = (st.st_mode & 0111) ? 0755 : 0644;
    } else if (!S_ISLNK(st.st_mode)) {
      odd.push_back(e.substr(root.size()));
      continue;
    }
    if (mode != 0 && ::chmod(e.c_str(), mode) != 0) {
      const int err = errno;
      return ErrnoError(err, StrCat("chmod ", e));
    }
    if (::utimensat(AT_FDCWD, e.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
      const int err = errno;
      return ErrnoError(err, StrCat("setting the timestamp of ", e));
    }
  }
  if (!odd.empty()) {
    std::string list;
    for (const std::string& o : odd) list += StrCat("\n  ", o);
    return FailedPrecondition(
        StrCat(recipe.Where(recipe.install.line),
               ": the install step made device nodes, fifos or sockets:", list));
  }
  return absl::OkStatus();
}

// What the manifest records about the host toolchain, so two manifests built with
// different compilers or C libraries differ visibly.
// SHA-256 over every data file under `macro_dir` and the split file (names and bytes, in
// name order): the macros decide what the steps run, the split what goes where.
std::string DataDigest(const std::string& macro_dir) {
  std::vector<std::string> files;
  boost::system::error_code ec;
  for (bfs::recursive_directory_iterator it(macro_dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->status().type() == bfs::regular_file) files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  files.push_back(SplitFile(macro_dir));
  std::string all;
  for (const std::string& f : files) {
    auto bytes = ReadFile(f);
    all += StrCat(f.substr(macro_dir.size()), "\n", bytes.ok() ? *bytes : "(unreadable)", "\n");
  }
  return Sha256Of(all).Hex();
}

std::map<std::string, std::string> ToolchainIdentity(const Recipe& recipe, const MacroSet& macros,
                                                     const HostToolchain& host,
                                                     const std::string& macro_dir) {
  std::map<std::string, std::string> id;
  id["toolchain"] = recipe.toolchain;
  id["macros"] = StrCat("sha256:", DataDigest(macro_dir));
  // What the sandbox shows of the host: the declaration's digest and how many paths it
  // resolved to here.
  id["host-toolchain"] =
      StrCat(host.files.empty() ? "" : host.files[0].substr(host.files[0].rfind('/') + 1),
             " sha256:", host.digest, " paths:", host.entries.size());
  auto cc = macros.Expand("%(cc)", "toolchain", 1);
  if (cc.ok()) {
    auto v = RunCommand({*cc, "--version"});
    id["cc"] = v.ok() ? StrCat(*cc, ": ", FirstLine(v->output)) : StrCat(*cc, ": not found");
  }
  auto bu = RunCommand({"objcopy", "--version"});
  id["binutils"] = bu.ok() ? FirstLine(bu->output) : "not found";
  const std::string libc = recipe.toolchain == "musl" ? "/usr/lib/x86_64-linux-musl/libc.so"
                                                      : "/usr/lib/x86_64-linux-gnu/libc.so.6";
  auto bytes = ReadFile(libc);
  id["libc"] = bytes.ok() ? StrCat(libc, " sha256:", Sha256Of(*bytes).Hex()) : "not found";
  return id;
}

}  // namespace

absl::StatusOr<BuildResult> BuildRecipe(const BuildOptions& opts) {
  ONIX_ASSIGN_OR_RETURN(Prepared p, Prepare(opts));
  const Recipe& r = p.recipe;
  // Expanding every step first makes an unknown macro fail before anything runs.
  std::vector<std::pair<const char*, const Step*>> steps = {
      {"setup", &r.setup}, {"build", &r.build}, {"install", &r.install}, {"check", &r.check}};
  std::vector<std::string> scripts;
  for (const auto& [name, step] : steps) {
    if (step->script.empty()) {
      scripts.emplace_back();
      continue;
    }
    ONIX_ASSIGN_OR_RETURN(std::string s, StepScript(p, *step));
    scripts.push_back(std::move(s));
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    if (scripts[i].empty()) continue;
    SandboxConfig cfg = p.sandbox;
    cfg.argv = {"/bin/sh", "-c", scripts[i]};
    std::cerr << "boulder: " << r.name << ": " << steps[i].first << " ("
              << r.Where(steps[i].second->line) << ")\n";
    ONIX_ASSIGN_OR_RETURN(int code, RunSandboxed(cfg));
    if (code != 0) {
      return absl::AbortedError(StrCat(r.Where(steps[i].second->line), ": step ", steps[i].first,
                                       " of ", r.name, " failed: exit status ", code));
    }
  }
  const std::string install = p.mason + "/install";
  ONIX_RETURN_IF_ERROR(CollectInstallRoot(install, r));
  AnalyseOptions aopts;
  aopts.toolchain = r.toolchain;
  auto facts = AnalyseInstallRoot(install, aopts);
  if (!facts.ok()) return Annotate(facts.status(), StrCat("analysing ", r.path));
  // Splitting debug info wrote new files: normalise again.
  ONIX_RETURN_IF_ERROR(CollectInstallRoot(install, r));

  EmitRequest req;
  req.recipe = &r;
  req.install_root = install;
  req.facts = std::move(*facts);
  req.sources = p.sources;
  req.builddeps = p.builddeps;
  req.toolchain = ToolchainIdentity(r, p.macros, p.toolchain, p.macro_dir);
  req.split = p.split;
  req.output_dir = opts.output_dir;
  req.scratch_dir = p.work.path();
  req.check_manifest = opts.check_manifest;
  BuildResult result;
  auto emitted = EmitPackages(req);
  if (!emitted.ok()) return Annotate(emitted.status(), StrCat("packaging ", r.path));
  result.emitted = std::move(*emitted);
  if (opts.keep_work) {
    p.work.Keep();
    result.work_dir = p.work.path();
  }
  return result;
}

absl::StatusOr<int> ChrootRecipe(const BuildOptions& opts) {
  ONIX_ASSIGN_OR_RETURN(Prepared p, Prepare(opts));
  SandboxConfig cfg = p.sandbox;
  cfg.inherit_stdin = true;
  if (const char* term = std::getenv("TERM")) {
    std::replace(cfg.env.begin(), cfg.env.end(), std::string("TERM=dumb"), StrCat("TERM=", term));
  }
  cfg.env.push_back(StrCat("PS1=boulder(", p.recipe.name, "):\\w# "));
  ONIX_ASSIGN_OR_RETURN(std::string prelude, p.macros.Expand(p.macros.prelude(), "prelude", 1));
  const std::string rc = p.mason + "/boulder-env.sh";
  ONIX_RETURN_IF_ERROR(WriteFile(rc, StrCat(prelude, "\nset +e\n")));
  cfg.env.push_back("ENV=/mason/boulder-env.sh");
  cfg.argv = {"/bin/sh", "-i"};
  if (opts.keep_work) p.work.Keep();
  return RunSandboxed(cfg);
}

absl::StatusOr<std::string> DraftRecipe(const std::string& url, const std::string& mirror) {
  std::string path;
  if (url.rfind("file://", 0) == 0) {
    path = url.substr(7);
  } else if (!url.empty() && url[0] == '/') {
    path = url;
  } else if (!mirror.empty()) {
    path = StrCat(mirror, "/", url.substr(url.rfind('/') + 1));
  }
  if (path.empty() || ::access(path.c_str(), R_OK) != 0) {
    return NotFound(StrCat("drafting a recipe for ", url,
                           ": the archive is not local (use a file:// URL or --mirror)"));
  }
  ONIX_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  ONIX_ASSIGN_OR_RETURN(std::string listing, RunCommandOk({"tar", "-tf", path}));
  std::vector<std::string> files;
  size_t start = 0;
  while (start < listing.size()) {
    size_t end = listing.find('\n', start);
    if (end == std::string::npos) end = listing.size();
    std::string f = listing.substr(start, end - start);
    start = end + 1;
    // Paths relative to the top directory (one component stripped, as the recipe does).
    const size_t slash = f.find('/');
    files.push_back(slash == std::string::npos ? f : f.substr(slash + 1));
  }
  auto has = [&](const std::string& f) {
    return std::find(files.begin(), files.end(), f) != files.end();
  };
  std::string base = url.substr(url.rfind('/') + 1);
  for (const char* ext : {".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar.zst", ".tar"}) {
    const std::string e = ext;
    if (base.size() > e.size() && base.compare(base.size() - e.size(), e.size(), e) == 0) {
      base.resize(base.size() - e.size());
      break;
    }
  }
  std::string name = base, version = "0";
  if (size_t dash = base.rfind('-'); dash != std::string::npos) {
    name = base.substr(0, dash);
    version = base.substr(dash + 1);
  }
  std::string setup = "%configure", build = "%make", install = "%make_install",
              system = "autotools";
  if (has("meson.build")) {
    setup = "%meson", build = "%meson_build", install = "%meson_install", system = "meson";
  } else if (has("CMakeLists.txt")) {
    setup = "%cmake", build = "%cmake_build", install = "%cmake_install", system = "cmake";
  } else if (!has("configure") && (has("configure.ac") || has("configure.in"))) {
    setup = "%reconfigure";
  } else if (!has("configure")) {
    setup = "", system = "make";
  }
  std::string out =
      StrCat("# Drafted by `boulder new` (", system, " detected). Review every field.\n",
             "name        : ", name, "\n", "version     : ", version, "\n", "release     : 1\n",
             "homepage    : TODO\n", "license     : TODO\n", "summary     : TODO\n",
             "description : |\n    TODO\n", "upstreams   :\n", "    - ", url, " : ",
             Sha256Of(bytes).Hex(), "\n");
  if (!setup.empty()) out += StrCat("setup       : |\n    ", setup, "\n");
  out += StrCat("build       : |\n    ", build, "\n", "install     : |\n    ", install, "\n");
  return out;
}

}  // namespace onix::boulder

// boulder: builds stones from stone.yaml recipes in a sandbox.
//   boulder build RECIPE [--output DIR] [--source-cache DIR] [--mirror DIR] [--repo DIR|URI]
//                        [--check-manifest FILE] [--jobs N] [--keep-work] [--macros DIR]
//   boulder chroot RECIPE [same source options]
//   boulder fetch RECIPE [--source-cache DIR] [--mirror DIR]
//   boulder fetch --from-debian-source PKG [--source-cache DIR] [--mirror DIR]
//   boulder new URL [--mirror DIR]
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "boulder/build/build.h"
#include "boulder/recipe/recipe.h"
#include "boulder/sources/source_cache.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::boulder {
namespace {

constexpr char kUsage[] =
    "usage: boulder build RECIPE [--output DIR] [--source-cache DIR] [--mirror DIR]\n"
    "                            [--repo DIR|URI]\n"
    "                            [--check-manifest FILE] [--jobs N] [--keep-work] [--macros DIR]\n"
    "       boulder chroot RECIPE [--source-cache DIR] [--mirror DIR] [--repo DIR|URI]\n"
    "       boulder fetch RECIPE [--source-cache DIR] [--mirror DIR]\n"
    "       boulder fetch --from-debian-source PKG [--source-cache DIR] [--mirror DIR]\n"
    "       boulder new URL [--mirror DIR]\n";

// Parsed command line: positional words and --options (every option takes a value except
// the flags listed in kFlags).
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
};

absl::StatusOr<Args> ParseArgs(int argc, char** argv, int first) {
  static const std::vector<std::string> kValued = {"--output",
                                                   "--source-cache",
                                                   "--mirror",
                                                   "--check-manifest",
                                                   "--jobs",
                                                   "--macros",
                                                   "--from-debian-source",
                                                   "--work-dir",
                                                   "--repo"};
  static const std::vector<std::string> kFlags = {"--keep-work"};
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string w = argv[i];
    if (w.rfind("--", 0) != 0) {
      a.positional.push_back(w);
      continue;
    }
    std::string value;
    if (size_t eq = w.find('='); eq != std::string::npos) {
      value = w.substr(eq + 1);
      w = w.substr(0, eq);
    }
    if (std::find(kFlags.begin(), kFlags.end(), w) != kFlags.end()) {
      a.options[w] = "1";
      continue;
    }
    if (std::find(kValued.begin(), kValued.end(), w) == kValued.end()) {
      return InvalidArgument(StrCat("unknown option ", w, "\n", kUsage));
    }
    if (value.empty()) {
      if (i + 1 >= argc) return InvalidArgument(StrCat(w, " needs a value"));
      value = argv[++i];
    }
    a.options[w] = value;
  }
  return a;
}

std::string Opt(const Args& a, const std::string& name, const std::string& fallback = "") {
  auto it = a.options.find(name);
  return it == a.options.end() ? fallback : it->second;
}

std::string DefaultSourceCache() {
  if (const char* e = std::getenv("BOULDER_SOURCE_CACHE"); e != nullptr && *e) return e;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x) {
    return StrCat(x, "/boulder/sources");
  }
  const char* home = std::getenv("HOME");
  return StrCat(home != nullptr ? home : "/tmp", "/.cache/boulder/sources");
}

absl::StatusOr<BuildOptions> ToBuildOptions(const Args& a) {
  if (a.positional.size() != 1) return InvalidArgument(StrCat("expected one RECIPE\n", kUsage));
  BuildOptions o;
  o.recipe_path = a.positional[0];
  o.output_dir = Opt(a, "--output", ".");
  o.source_cache = Opt(a, "--source-cache", DefaultSourceCache());
  o.mirror = Opt(a, "--mirror");
  o.repo = Opt(a, "--repo");
  o.check_manifest = Opt(a, "--check-manifest");
  o.macro_dir = Opt(a, "--macros");
  o.work_parent = Opt(a, "--work-dir");
  o.keep_work = a.options.count("--keep-work") != 0;
  if (const std::string j = Opt(a, "--jobs"); !j.empty()) {
    if (!absl::SimpleAtoi(AbslView(j), &o.jobs) || o.jobs <= 0) {
      return InvalidArgument(StrCat("--jobs: '", j, "' is not a positive number"));
    }
  }
  return o;
}

absl::Status CmdBuild(const Args& a) {
  ONIX_ASSIGN_OR_RETURN(BuildOptions o, ToBuildOptions(a));
  ONIX_ASSIGN_OR_RETURN(BuildResult r, BuildRecipe(o));
  for (const std::string& s : r.emitted.stones) std::cout << s << "\n";
  std::cout << r.emitted.manifest_path << "\n";
  if (!r.work_dir.empty()) std::cerr << "boulder: work tree kept at " << r.work_dir << "\n";
  return absl::OkStatus();
}

absl::Status CmdChroot(const Args& a) {
  ONIX_ASSIGN_OR_RETURN(BuildOptions o, ToBuildOptions(a));
  ONIX_ASSIGN_OR_RETURN(int code, ChrootRecipe(o));
  if (code != 0) return absl::AbortedError(StrCat("the chroot shell exited with status ", code));
  return absl::OkStatus();
}

absl::Status CmdFetch(const Args& a) {
  ONIX_ASSIGN_OR_RETURN(
      SourceCache cache,
      SourceCache::Open(Opt(a, "--source-cache", DefaultSourceCache()), Opt(a, "--mirror")));
  if (const std::string pkg = Opt(a, "--from-debian-source"); !pkg.empty()) {
    ONIX_ASSIGN_OR_RETURN(std::vector<std::string> lines,
                          FetchDebianSource(cache, Opt(a, "--mirror"), pkg));
    for (const std::string& l : lines) std::cout << l << "\n";
    return absl::OkStatus();
  }
  if (a.positional.size() != 1) return InvalidArgument(StrCat("expected one RECIPE\n", kUsage));
  ONIX_ASSIGN_OR_RETURN(Recipe r, LoadRecipe(a.positional[0]));
  for (const Upstream& up : r.upstreams) {
    if (up.kind == Upstream::Kind::kArchive) {
      auto p = cache.FetchArchive(up.url, up.hash);
      if (!p.ok()) return Annotate(p.status(), r.Where(up.line));
      std::cout << up.hash << " " << up.url << "\n";
    } else {
      auto p = cache.FetchGit(up.url, up.hash);
      if (!p.ok()) return Annotate(p.status(), r.Where(up.line));
      std::cout << up.hash << " git|" << up.url << "\n";
    }
  }
  return absl::OkStatus();
}

absl::Status CmdNew(const Args& a) {
  if (a.positional.size() != 1) return InvalidArgument(StrCat("expected one URL\n", kUsage));
  ONIX_ASSIGN_OR_RETURN(std::string text, DraftRecipe(a.positional[0], Opt(a, "--mirror")));
  std::cout << text;
  return absl::OkStatus();
}

struct Command {
  const char* name;
  absl::Status (*run)(const Args&);
};
constexpr Command kCommands[] = {
    {"build", CmdBuild}, {"chroot", CmdChroot}, {"fetch", CmdFetch}, {"new", CmdNew}};

absl::Status RunMain(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "help") {
    std::cout << kUsage;
    return argc < 2 ? InvalidArgument("no command given") : absl::OkStatus();
  }
  for (const Command& c : kCommands) {
    if (argv[1] == std::string(c.name)) {
      ONIX_ASSIGN_OR_RETURN(Args a, ParseArgs(argc, argv, 2));
      return c.run(a);
    }
  }
  return InvalidArgument(StrCat("unknown command '", argv[1], "'\n", kUsage));
}

}  // namespace
}  // namespace onix::boulder

int main(int argc, char** argv) {
  return onix::ReportStatus("boulder", onix::boulder::RunMain(argc, argv));
}

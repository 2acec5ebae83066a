// bench/solver_bench: the resolution path on a generated 60,000-package repository with a
// realistic dependency graph (~5 dependencies each, soname providers with alternative
// providers that conflict, versioned conflicts). Figures: index load cold (index stone ->
// pool) and from the .solv cache, solve time for a 2,000-package closure, and the peak memory
// of a process that loads the cached repository and solves (measured as a child process).
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "bench/harness/harness.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/repo/files.h"
#include "moss/repo/index.h"
#include "moss/solver/solver.h"
#include "moss/stone/stone.h"

namespace onix::bench {
namespace {

namespace solver = onix::moss::solver;

struct Args {
  std::string out, workdir = "build/bench/work";
  int packages = 60000;
  size_t closure = 2000;
  int runs = 5;
};

constexpr char kTarget[] = "bench-target";
constexpr int kLevels = 6;

stone::Dependency Dep(stone::DepKind kind, std::string name) {
  stone::Dependency d;
  d.kind = kind;
  d.name = std::move(name);
  return d;
}

// Packages sit on levels 0..5 and depend on ~5 packages of the level below, so closures are
// bounded like a real distribution's (apps -> toolkits -> libraries -> libc). One in five
// packages provides a soname that dependants use; one in a hundred of those has an alternative
// provider that conflicts with it, so the solver has real choices to make.
std::vector<stone::IndexRecord> Generate(int n, size_t closure_size) {
  std::mt19937_64 rng(42);
  std::vector<int> level(n);
  std::vector<std::vector<int>> by_level(kLevels);
  for (int i = 0; i < n; ++i) {
    // Few packages at the bottom, many at the top.
    const int l = std::min(kLevels - 1, static_cast<int>((static_cast<double>(i) / n) * kLevels));
    level[i] = l;
    by_level[l].push_back(i);
  }
  auto name = [](int i) { return StrCat("pkg", i); };
  auto soname = [](int i) { return StrCat("libpkg", i, ".so.1(x86_64)"); };
  std::vector<bool> has_soname(n), has_alt(n);
  for (int i = 0; i < n; ++i) {
    has_soname[i] = rng() % 5 == 0;
    has_alt[i] = has_soname[i] && rng() % 100 == 0;
  }
  std::vector<std::vector<int>> deps(n);
  std::vector<stone::IndexRecord> out;
  out.reserve(n + n / 400 + 1);
  for (int i = 0; i < n; ++i) {
    stone::IndexRecord r;
    r.meta.name = name(i);
    r.meta.version = StrCat(1 + rng() % 5, ".", rng() % 20, ".", rng() % 10);
    r.meta.source_release = 1 + rng() % 3;
    r.meta.build_release = 1;
    r.meta.architecture = "x86_64";
    r.meta.summary = StrCat("generated package ", i);
    const std::vector<int>& below =
        level[i] == 0 ? by_level[0] : by_level[static_cast<size_t>(level[i] - 1)];
    const int want = level[i] == 0 ? static_cast<int>(rng() % 3) : 3 + static_cast<int>(rng() % 5);
    std::set<int> chosen;
    for (int k = 0; k < want; ++k) {
      const int j = below[rng() % below.size()];
      if (level[i] == 0 && j >= i) continue;  // level 0 depends only on earlier packages
      if (j != i) chosen.insert(j);
    }
    for (int j : chosen) {
      deps[i].push_back(j);
      r.meta.depends.push_back(has_soname[j] ? Dep(stone::DepKind::kSoname, soname(j))
                                             : Dep(stone::DepKind::kName, name(j)));
    }
    if (has_soname[i]) r.meta.provides.push_back(Dep(stone::DepKind::kSoname, soname(i)));
    if (rng() % 50 == 0) {
      stone::Dependency c = Dep(stone::DepKind::kName, name(static_cast<int>(rng() % n)));
      c.op = stone::VersionOp::kLess;
      c.version = "0.1";  // never matches: a conflict rule the solver must still evaluate
      r.meta.conflicts.push_back(c);
    }
    r.stone_digest = Sha256Of(r.meta.name);
    r.stone_size = 10000 + rng() % 1000000;
    r.file_name = StrCat(r.meta.name, ".stone");
    out.push_back(std::move(r));
    if (has_alt[i]) {
      stone::IndexRecord alt;
      alt.meta.name = StrCat(name(i), "-alt");
      alt.meta.version = "1.0";
      alt.meta.source_release = 1;
      alt.meta.architecture = "x86_64";
      alt.meta.provides.push_back(Dep(stone::DepKind::kSoname, soname(i)));
      alt.meta.conflicts.push_back(Dep(stone::DepKind::kName, name(i)));
      alt.stone_digest = Sha256Of(alt.meta.name);
      alt.stone_size = 12345;
      alt.file_name = StrCat(alt.meta.name, ".stone");
      out.push_back(std::move(alt));
    }
  }
  // The target depends on mid-level packages (closures of ~150) until its closure reaches the
  // wanted size; a top-level package alone pulls in thousands.
  std::vector<bool> in(n);
  size_t size = 0;
  stone::IndexRecord target;
  target.meta.name = kTarget;
  target.meta.version = "1";
  target.meta.architecture = "x86_64";
  for (int top : by_level[3]) {
    if (size >= closure_size) break;
    target.meta.depends.push_back(Dep(stone::DepKind::kName, name(top)));
    std::vector<int> stack{top};
    while (!stack.empty()) {
      const int p = stack.back();
      stack.pop_back();
      if (in[p]) continue;
      in[p] = true;
      ++size;
      for (int d : deps[p]) stack.push_back(d);
    }
  }
  target.stone_digest = Sha256Of(kTarget);
  target.file_name = "bench-target.stone";
  out.push_back(std::move(target));
  return out;
}

std::string IndexPath(const Args& a) { return StrCat(a.workdir, "/solver/stone.index"); }
std::string SolvPath(const Args& a) { return StrCat(a.workdir, "/solver/index.solv"); }

absl::StatusOr<solver::Universe> LoadCached(const Args& a) {
  solver::Universe u;
  ONIX_RETURN_IF_ERROR(u.LoadRepositoryCache("bench", 0, SolvPath(a)));
  return u;
}

absl::StatusOr<size_t> Solve(solver::Universe& u) {
  ONIX_ASSIGN_OR_RETURN(solver::Plan plan, solver::Resolve(u, {{kTarget}, {}, false, false, ""}));
  if (!plan.ok())
    return Internal(StrCat("bench request unsatisfiable: ", plan.problems[0].description));
  return plan.installs.size();
}

// The child of the peak-memory figure: load from cache, solve, exit.
int Child(const Args& a) {
  auto u = LoadCached(a);
  if (!u.ok()) return ReportStatus("solver_bench", u.status());
  return ReportStatus("solver_bench", Solve(*u).status());
}

absl::Status Run(const Args& a, const char* self) {
  ONIX_RETURN_IF_ERROR(moss::repo::MkdirAll(StrCat(a.workdir, "/solver")));
  std::vector<stone::IndexRecord> records = Generate(a.packages, a.closure);
  const size_t count = records.size();
  stone::WriteOptions wo;
  wo.fsync = false;
  ONIX_RETURN_IF_ERROR(stone::WriteIndexStone(std::move(records), IndexPath(a), wo));
  {
    ONIX_ASSIGN_OR_RETURN(auto packages, moss::repo::ReadIndex(IndexPath(a)));
    solver::Universe u;
    ONIX_RETURN_IF_ERROR(u.AddRepository("bench", 0, packages, SolvPath(a)));
    ONIX_ASSIGN_OR_RETURN(size_t installs, Solve(u));
    std::printf("generated %zu packages; the request installs %zu packages\n", count, installs);
  }
  std::vector<Figure> figs;
  ONIX_ASSIGN_OR_RETURN(
      Figure cold,
      Absolute("solver index load cold (60k)", "ms", a.runs, 2000, [&]() -> absl::StatusOr<double> {
        absl::Status st;
        const double s = TimeIt([&] {
          auto packages = moss::repo::ReadIndex(IndexPath(a));
          if (!packages.ok()) {
            st = packages.status();
            return;
          }
          solver::Universe u;
          st = u.AddRepository("bench", 0, *packages);
        });
        ONIX_RETURN_IF_ERROR(st);
        return s * 1000;
      }));
  figs.push_back(cold);
  ONIX_ASSIGN_OR_RETURN(Figure cached, Absolute("solver index load .solv cache (60k)", "ms", a.runs,
                                                200, [&]() -> absl::StatusOr<double> {
                                                  absl::Status st;
                                                  const double s =
                                                      TimeIt([&] { st = LoadCached(a).status(); });
                                                  ONIX_RETURN_IF_ERROR(st);
                                                  return s * 1000;
                                                }));
  figs.push_back(cached);
  ONIX_ASSIGN_OR_RETURN(Figure solve,
                        Absolute("solver solve 2000-package closure", "ms", a.runs, 100,
                                 [&]() -> absl::StatusOr<double> {
                                   ONIX_ASSIGN_OR_RETURN(solver::Universe u, LoadCached(a));
                                   absl::Status st;
                                   const double s = TimeIt([&] { st = Solve(u).status(); });
                                   ONIX_RETURN_IF_ERROR(st);
                                   return s * 1000;
                                 }));
  figs.push_back(solve);
  ONIX_ASSIGN_OR_RETURN(
      Figure peak,
      Absolute(
          "solver peak memory (cached load + solve)", "MiB", a.runs, 256,
          [&]() -> absl::StatusOr<double> {
            ONIX_ASSIGN_OR_RETURN(ChildRun r, RunChild({self, "--child", "--workdir", a.workdir}));
            return static_cast<double>(r.max_rss_kib) / 1024.0;
          }));
  figs.push_back(peak);
  std::printf("%s", FormatTable(figs).c_str());
  if (!a.out.empty()) ONIX_RETURN_IF_ERROR(AppendResults(a.out, figs));
  return absl::OkStatus();
}

}  // namespace
}  // namespace onix::bench

int main(int argc, char** argv) {
  onix::bench::Args args;
  bool child = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--out") {
      args.out = next();
    } else if (a == "--workdir") {
      args.workdir = next();
    } else if (a == "--quick") {
      args.runs = 5;
    } else if (a == "--runs") {
      args.runs = std::atoi(next().c_str());
    } else if (a == "--child") {
      child = true;
    } else {
      return onix::ReportStatus(
          "solver_bench",
          onix::InvalidArgument(onix::StrCat("unknown argument '", a,
                                             "' (--out F --workdir D [--quick] [--runs N])")));
    }
  }
  if (args.runs < 1) {
    return onix::ReportStatus("solver_bench", onix::InvalidArgument("--runs must be positive"));
  }
  if (child) return onix::bench::Child(args);
  return onix::ReportStatus("solver_bench", onix::bench::Run(args, argv[0]));
}

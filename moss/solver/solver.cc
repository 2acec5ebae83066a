#include "moss/solver/solver.h"

#include <stdio.h>
#include <unistd.h>

extern "C" {
#include <solv/evr.h>
#include <solv/knownid.h>
#include <solv/pool.h>
#include <solv/poolarch.h>
#include <solv/problems.h>
#include <solv/repo.h>
#include <solv/repo_solv.h>
#include <solv/repo_write.h>
#include <solv/repodata.h>
#include <solv/rules.h>
#include <solv/selection.h>
#include <solv/solvable.h>
#include <solv/solver.h>
#include <solv/testcase.h>
#include <solv/transaction.h>
}

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/ascii.h"
#include "moss/base/c_free.h"
#include "moss/base/check.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::moss::solver {
namespace {

using PoolPtr = std::unique_ptr<::Pool, CFree<pool_free>>;
using SolverPtr = std::unique_ptr<::Solver, CFree<solver_free>>;
using TransactionPtr = std::unique_ptr<::Transaction, CFree<transaction_free>>;
using FilePtr = std::unique_ptr<FILE, CFree<fclose>>;

// A Queue that frees itself (libsolv queues own a heap buffer).
class OwnedQueue {
 public:
  OwnedQueue() { queue_init(&q_); }
  ~OwnedQueue() { queue_free(&q_); }
  OwnedQueue(const OwnedQueue&) = delete;
  OwnedQueue& operator=(const OwnedQueue&) = delete;
  ::Queue* get() { return &q_; }
  ::Queue& operator*() { return q_; }

 private:
  ::Queue q_;
};

constexpr char kInstalledRepo[] = "@installed";
// The upstream version as written, kept only when the EVR had to be sanitised.
constexpr char kOriginalVersionKey[] = "solvable:onix_version";

// The EVR libsolv compares (DISTTYPE_RPM): "<version>-<source_release>.<build_release>".
// '-' and ':' would be read as release and epoch separators, so they become '_', which rpm
// ordering treats as the same kind of separator.
std::string Sanitize(std::string_view version) {
  std::string v(version);
  for (char& c : v) {
    if (c == '-' || c == ':') c = '_';
  }
  if (v.empty()) v = "0";
  return v;
}

std::string EvrOf(std::string_view version, uint64_t source_release, uint64_t build_release) {
  return StrCat(Sanitize(version), "-", source_release, ".", build_release);
}

int RelFlags(stone::VersionOp op) {
  switch (op) {
    case stone::VersionOp::kGreaterEqual:
      return REL_GT | REL_EQ;
    case stone::VersionOp::kEqual:
      return REL_EQ;
    case stone::VersionOp::kLess:
      return REL_LT;
    case stone::VersionOp::kAny:
      break;
  }
  return 0;
}

// Name dependencies are the bare package name (so libsolv's own same-name logic applies);
// every other kind keeps its namespace spelling, "soname(libz.so.1(x86_64))".
Id DepId(::Pool* pool, const stone::Dependency& dep) {
  const std::string base = dep.kind == stone::DepKind::kName
                               ? dep.name
                               : StrCat(stone::DepKindName(dep.kind), "(", dep.name, ")");
  Id id = pool_str2id(pool, base.c_str(), 1);
  if (dep.op != stone::VersionOp::kAny) {
    id = pool_rel2id(pool, id, pool_str2id(pool, Sanitize(dep.version).c_str(), 1),
                     RelFlags(dep.op), 1);
  }
  return id;
}

PoolPtr NewPool() {
  PoolPtr pool(pool_create());
  // Debian builds libsolv with multi-semantics; we pin rpm version ordering (documented in
  // docs/repositories.md) so results do not depend on the host distribution.
  pool_setdisttype(pool.get(), DISTTYPE_RPM);
  return pool;
}

}  // namespace

std::string StoneRef::Nvr() const {
  return StrCat(name, " ", version, "-", source_release, "-", build_release);
}

int CompareVersions(std::string_view version_a, uint64_t source_release_a, uint64_t build_release_a,
                    std::string_view version_b, uint64_t source_release_b,
                    uint64_t build_release_b) {
  static thread_local PoolPtr pool = NewPool();
  const std::string a = EvrOf(version_a, source_release_a, build_release_a);
  const std::string b = EvrOf(version_b, source_release_b, build_release_b);
  const int c = pool_evrcmp_str(pool.get(), a.c_str(), b.c_str(), EVRCMP_COMPARE);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

int CompareVersions(const stone::Meta& a, const stone::Meta& b) {
  return CompareVersions(a.version, a.source_release, a.build_release, b.version, b.source_release,
                         b.build_release);
}

struct Universe::Impl {
  PoolPtr pool = NewPool();
  ::Repo* installed = nullptr;
  std::unordered_set<Id> explicit_installed;
  std::set<std::string> repo_names;
  bool whatprovides_dirty = true;
  Id original_version_key = 0;

  Impl() { original_version_key = pool_str2id(pool.get(), kOriginalVersionKey, 1); }

  void EnsureWhatProvides() {
    if (!whatprovides_dirty) return;
    pool_addfileprovides(pool.get());
    pool_createwhatprovides(pool.get());
    whatprovides_dirty = false;
  }

  void AddPackage(::Repo* repo, Repodata* data, const Package& pkg) {
    ::Pool* p = pool.get();
    const stone::Meta& m = pkg.meta;
    const Id sid = repo_add_solvable(repo);
    Solvable* s = pool_id2solvable(p, sid);
    s->name = pool_str2id(p, m.name.c_str(), 1);
    s->evr = pool_str2id(p, EvrOf(m.version, m.source_release, m.build_release).c_str(), 1);
    s->arch = m.architecture.empty() ? ARCH_NOARCH : pool_str2id(p, m.architecture.c_str(), 1);
    s->dep_provides =
        repo_addid_dep(repo, s->dep_provides, pool_rel2id(p, s->name, s->evr, REL_EQ, 1), 0);
    for (const auto& d : m.provides)
      s->dep_provides = repo_addid_dep(repo, s->dep_provides, DepId(p, d), 0);
    for (const auto& d : m.depends)
      s->dep_requires = repo_addid_dep(repo, s->dep_requires, DepId(p, d), 0);
    for (const auto& d : m.conflicts) {
      s->dep_conflicts = repo_addid_dep(repo, s->dep_conflicts, DepId(p, d), 0);
    }
    for (const auto& d : m.replaces) {
      s->dep_obsoletes = repo_addid_dep(repo, s->dep_obsoletes, DepId(p, d), 0);
    }
    if (!m.summary.empty()) repodata_set_str(data, sid, SOLVABLE_SUMMARY, m.summary.c_str());
    if (!m.description.empty()) {
      repodata_set_str(data, sid, SOLVABLE_DESCRIPTION, m.description.c_str());
    }
    repodata_set_bin_checksum(data, sid, SOLVABLE_CHECKSUM, REPOKEY_TYPE_SHA256,
                              pkg.stone_digest.bytes.data());
    repodata_set_num(data, sid, SOLVABLE_DOWNLOADSIZE, pkg.stone_size);
    if (!pkg.file_name.empty()) {
      repodata_set_str(data, sid, SOLVABLE_MEDIAFILE, pkg.file_name.c_str());
    }
    if (Sanitize(m.version) != m.version) {
      repodata_set_str(data, sid, original_version_key, m.version.c_str());
    }
  }

  StoneRef Ref(Id p) {
    ::Pool* pl = pool.get();
    Solvable* s = pool_id2solvable(pl, p);
    StoneRef r;
    r.name = pool_id2str(pl, s->name);
    const std::string evr = pool_id2str(pl, s->evr);
    const size_t dash = evr.rfind('-');
    std::string release;
    if (dash != std::string::npos) {
      r.version = evr.substr(0, dash);
      release = evr.substr(dash + 1);
    } else {
      r.version = evr;
    }
    const size_t dot = release.find('.');
    r.source_release = std::strtoull(release.substr(0, dot).c_str(), nullptr, 10);
    if (dot != std::string::npos) {
      r.build_release = std::strtoull(release.substr(dot + 1).c_str(), nullptr, 10);
    }
    if (const char* orig = solvable_lookup_str(s, original_version_key)) r.version = orig;
    r.architecture = s->arch == ARCH_NOARCH ? "" : pool_id2str(pl, s->arch);
    if (const char* sum = solvable_lookup_str(s, SOLVABLE_SUMMARY)) r.summary = sum;
    r.repository = s->repo->name ? s->repo->name : "";
    Id type = 0;
    if (const unsigned char* sum = solvable_lookup_bin_checksum(s, SOLVABLE_CHECKSUM, &type);
        sum != nullptr && type == REPOKEY_TYPE_SHA256) {
      std::copy(sum, sum + 32, r.stone_digest.bytes.begin());
    }
    r.stone_size = solvable_lookup_num(s, SOLVABLE_DOWNLOADSIZE, 0);
    if (const char* f = solvable_lookup_str(s, SOLVABLE_MEDIAFILE)) r.file_name = f;
    r.is_explicit = s->repo == installed && explicit_installed.count(p) > 0;
    return r;
  }

  std::string Label(Id p) {
    StoneRef r = Ref(p);
    return StrCat(r.Nvr(), r.repository == kInstalledRepo ? " (installed)" : "");
  }

  std::string DepText(Id dep) { return pool_dep2str(pool.get(), dep); }
};

Universe::Universe() : impl_(std::make_unique<Impl>()) {}
Universe::~Universe() = default;
Universe::Universe(Universe&&) noexcept = default;
Universe& Universe::operator=(Universe&&) noexcept = default;

absl::Status Universe::AddRepository(std::string_view name, int priority,
                                     const std::vector<Package>& packages,
                                     const std::string& solv_cache_path) {
  const std::string n(name);
  if (n.empty() || n == kInstalledRepo || !impl_->repo_names.insert(n).second) {
    return InvalidArgument(StrCat("adding repository '", n, "': name is empty or taken"));
  }
  ::Repo* repo = repo_create(impl_->pool.get(), n.c_str());
  repo->priority = priority;
  Repodata* data = repo_add_repodata(repo, 0);
  for (const Package& pkg : packages) {
    if (pkg.meta.name.empty()) {
      return InvalidArgument(
          StrCat("adding repository '", n, "': package '", pkg.file_name, "' has no name"));
    }
    impl_->AddPackage(repo, data, pkg);
  }
  repo_internalize(repo);
  impl_->whatprovides_dirty = true;
  if (solv_cache_path.empty()) return absl::OkStatus();

  // Write-then-rename so a crash or a concurrent reader never sees half a cache.
  const std::string tmp = StrCat(solv_cache_path, ".tmp.", ::getpid());
  FilePtr fp(fopen(tmp.c_str(), "we"));
  if (!fp) {
    const int err = errno;
    return ErrnoError(err, StrCat("writing solv cache ", tmp));
  }
  if (repo_write(repo, fp.get()) != 0 || fflush(fp.get()) != 0 || fsync(fileno(fp.get())) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoError(err, StrCat("writing solv cache ", tmp));
  }
  fp.reset();
  if (::rename(tmp.c_str(), solv_cache_path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoError(err, StrCat("renaming solv cache to ", solv_cache_path));
  }
  return absl::OkStatus();
}

absl::Status Universe::LoadRepositoryCache(std::string_view name, int priority,
                                           const std::string& solv_cache_path) {
  const std::string n(name);
  if (n.empty() || n == kInstalledRepo || impl_->repo_names.count(n) > 0) {
    return InvalidArgument(StrCat("loading repository '", n, "': name is empty or taken"));
  }
  FilePtr fp(fopen(solv_cache_path.c_str(), "re"));
  if (!fp) {
    const int err = errno;
    return ErrnoError(err, StrCat("opening solv cache ", solv_cache_path));
  }
  ::Repo* repo = repo_create(impl_->pool.get(), n.c_str());
  repo->priority = priority;
  if (repo_add_solv(repo, fp.get(), 0) != 0) {
    const std::string why = pool_errstr(impl_->pool.get());
    repo_free(repo, 1);
    return DataLoss(StrCat("loading solv cache ", solv_cache_path, ": ", why));
  }
  impl_->repo_names.insert(n);
  impl_->whatprovides_dirty = true;
  return absl::OkStatus();
}

absl::Status Universe::AddTesttagsRepository(std::string_view name, int priority,
                                             const std::string& path, bool installed) {
  const std::string n = installed ? kInstalledRepo : std::string(name);
  if (installed ? impl_->installed != nullptr
                : (n.empty() || n == kInstalledRepo || impl_->repo_names.count(n) > 0)) {
    return InvalidArgument(StrCat("loading testtags ", path, ": repository name is taken"));
  }
  FilePtr fp(fopen(path.c_str(), "re"));
  if (!fp) {
    const int err = errno;
    return ErrnoError(err, StrCat("opening testtags ", path));
  }
  ::Repo* repo = repo_create(impl_->pool.get(), n.c_str());
  repo->priority = priority;
  if (testcase_add_testtags(repo, fp.get(), 0) != 0) {
    const std::string why = pool_errstr(impl_->pool.get());
    repo_free(repo, 1);
    return InvalidArgument(StrCat("loading testtags ", path, ": ", why));
  }
  if (installed) {
    pool_set_installed(impl_->pool.get(), repo);
    impl_->installed = repo;
  } else {
    impl_->repo_names.insert(n);
  }
  impl_->whatprovides_dirty = true;
  return absl::OkStatus();
}

absl::Status Universe::SetInstalled(const std::vector<InstalledPackage>& installed) {
  if (impl_->installed != nullptr) {
    repo_free(impl_->installed, 1);
    impl_->installed = nullptr;
  }
  impl_->explicit_installed.clear();
  ::Repo* repo = repo_create(impl_->pool.get(), kInstalledRepo);
  Repodata* data = repo_add_repodata(repo, 0);
  for (const InstalledPackage& ip : installed) {
    const Id first = repo->end;
    impl_->AddPackage(repo, data, ip.package);
    if (ip.is_explicit) impl_->explicit_installed.insert(first);
  }
  repo_internalize(repo);
  pool_set_installed(impl_->pool.get(), repo);
  impl_->installed = repo;
  impl_->whatprovides_dirty = true;
  return absl::OkStatus();
}

size_t Universe::package_count() const {
  return static_cast<size_t>(impl_->pool->nsolvables > 2 ? impl_->pool->nsolvables - 2 : 0);
}

std::vector<StoneRef> Universe::Search(std::string_view text) {
  const std::string needle = absl::AsciiStrToLower(AbslView(text));
  std::vector<StoneRef> out;
  ::Pool* pool = impl_->pool.get();
  for (Id p = 2; p < pool->nsolvables; ++p) {
    Solvable* s = pool_id2solvable(pool, p);
    if (s->repo == nullptr || s->repo == impl_->installed) continue;
    bool hit = absl::AsciiStrToLower(pool_id2str(pool, s->name)).find(needle) != std::string::npos;
    for (Id key : {SOLVABLE_SUMMARY, SOLVABLE_DESCRIPTION}) {
      if (hit) break;
      if (const char* v = solvable_lookup_str(s, key)) {
        hit = absl::AsciiStrToLower(v).find(needle) != std::string::npos;
      }
    }
    if (hit) out.push_back(impl_->Ref(p));
  }
  std::sort(out.begin(), out.end(), [](const StoneRef& a, const StoneRef& b) {
    return std::tie(a.name, a.repository) < std::tie(b.name, b.repository);
  });
  return out;
}

absl::StatusOr<std::vector<StoneRef>> Universe::WhatProvides(std::string_view dep_text) {
  ONIX_ASSIGN_OR_RETURN(stone::Dependency dep, stone::Dependency::Parse(dep_text));
  impl_->EnsureWhatProvides();
  ::Pool* pool = impl_->pool.get();
  const Id id = DepId(pool, dep);
  std::vector<StoneRef> out;
  Id p, pp;
  FOR_PROVIDES(p, pp, id) out.push_back(impl_->Ref(p));
  return out;
}

std::vector<StoneRef> Universe::FindByName(std::string_view name) {
  ::Pool* pool = impl_->pool.get();
  const Id id = pool_str2id(pool, std::string(name).c_str(), 0);
  std::vector<std::pair<Id, StoneRef>> found;
  if (id == 0) return {};
  for (Id p = 2; p < pool->nsolvables; ++p) {
    Solvable* s = pool_id2solvable(pool, p);
    if (s->repo != nullptr && s->name == id) found.emplace_back(p, impl_->Ref(p));
  }
  std::sort(found.begin(), found.end(), [pool](const auto& a, const auto& b) {
    const Solvable* sa = pool_id2solvable(pool, a.first);
    const Solvable* sb = pool_id2solvable(pool, b.first);
    const int c = pool_evrcmp(pool, sa->evr, sb->evr, EVRCMP_COMPARE);
    if (c != 0) return c > 0;
    return sa->repo->priority > sb->repo->priority;
  });
  std::vector<StoneRef> out;
  for (auto& [p, r] : found) out.push_back(std::move(r));
  return out;
}

namespace {

// Turns libsolv's problem rule into one sentence that names who needs what.
std::string DescribeProblem(Universe::Impl& u, ::Solver* solv, Id problem) {
  const Id rid = solver_findproblemrule(solv, problem);
  Id source = 0, target = 0, dep = 0;
  const SolverRuleinfo type = solver_ruleinfo(solv, rid, &source, &target, &dep);
  switch (type) {
    case SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP:
      return StrCat(u.Label(source), " needs ", u.DepText(dep), ", which no package provides");
    case SOLVER_RULE_JOB_NOTHING_PROVIDES_DEP:
      return StrCat("no package provides ", u.DepText(dep));
    case SOLVER_RULE_JOB_UNKNOWN_PACKAGE:
      return StrCat("no package is named ", u.DepText(dep));
    case SOLVER_RULE_PKG_REQUIRES:
      return StrCat(u.Label(source), " needs ", u.DepText(dep),
                    ", but no package providing it can be installed");
    case SOLVER_RULE_PKG_CONFLICTS:
      return StrCat(u.Label(source), " conflicts with ", u.DepText(dep), ", which ",
                    u.Label(target), " provides");
    case SOLVER_RULE_PKG_SELF_CONFLICT:
      return StrCat(u.Label(source), " conflicts with ", u.DepText(dep),
                    ", which it provides itself");
    case SOLVER_RULE_PKG_SAME_NAME:
      return StrCat(u.Label(source), " and ", u.Label(target), " cannot both be installed");
    case SOLVER_RULE_PKG_OBSOLETES:
    case SOLVER_RULE_PKG_IMPLICIT_OBSOLETES:
    case SOLVER_RULE_PKG_INSTALLED_OBSOLETES:
      return StrCat(u.Label(source), " replaces ", u.Label(target));
    case SOLVER_RULE_PKG_NOT_INSTALLABLE:
      return StrCat(u.Label(source), " cannot be installed on this machine");
    default:
      break;
  }
  return absl::AsciiStrToLower(solver_problem2str(solv, problem));
}

std::vector<std::string> DescribeSolutions(::Solver* solv, Id problem) {
  std::vector<std::string> out;
  for (Id sol = solver_next_solution(solv, problem, 0); sol != 0;
       sol = solver_next_solution(solv, problem, sol)) {
    std::string text;
    Id p = 0, rp = 0;
    for (Id el = solver_next_solutionelement(solv, problem, sol, 0, &p, &rp); el != 0;
         el = solver_next_solutionelement(solv, problem, sol, el, &p, &rp)) {
      if (!text.empty()) text += "; ";
      text += solver_solutionelement2str(solv, p, rp);
    }
    if (!text.empty()) out.push_back(std::move(text));
  }
  return out;
}

struct Solved {
  SolverPtr solver;
  std::vector<Problem> problems;
};

// One libsolv run over `jobs`. USERINSTALLED marks explicit packages so cleandeps and
// solver_get_unneeded know which dependencies are still wanted.
Solved RunSolver(Universe::Impl& u, OwnedQueue& jobs) {
  Solved out;
  u.EnsureWhatProvides();
  out.solver.reset(solver_create(u.pool.get()));
  solver_set_flag(out.solver.get(), SOLVER_FLAG_IGNORE_RECOMMENDED, 1);
  solver_set_flag(out.solver.get(), SOLVER_FLAG_ALLOW_UNINSTALL, 0);
  if (solver_solve(out.solver.get(), jobs.get()) != 0) {
    const unsigned count = solver_problem_count(out.solver.get());
    for (Id pr = 1; pr <= static_cast<Id>(count); ++pr) {
      out.problems.push_back(
          {DescribeProblem(u, out.solver.get(), pr), DescribeSolutions(out.solver.get(), pr)});
    }
  }
  return out;
}

}  // namespace

std::vector<StoneRef> Universe::Orphans() {
  OwnedQueue jobs;
  for (Id p : impl_->explicit_installed) {
    queue_push2(jobs.get(), SOLVER_USERINSTALLED | SOLVER_SOLVABLE, p);
  }
  Solved solved = RunSolver(*impl_, jobs);
  std::vector<StoneRef> out;
  if (!solved.problems.empty()) return out;
  OwnedQueue unneeded;
  solver_get_unneeded(solved.solver.get(), unneeded.get(), 0);
  for (int i = 0; i < (*unneeded).count; ++i) out.push_back(impl_->Ref((*unneeded).elements[i]));
  std::sort(out.begin(), out.end(),
            [](const StoneRef& a, const StoneRef& b) { return a.name < b.name; });
  return out;
}

absl::StatusOr<Plan> Resolve(Universe& universe, const Request& request) {
  Universe::Impl& u = *universe.impl_;
  if (u.installed == nullptr) ONIX_RETURN_IF_ERROR(universe.SetInstalled({}));
  u.EnsureWhatProvides();
  ::Pool* pool = u.pool.get();
  Plan plan;

  OwnedQueue jobs;
  for (Id p : u.explicit_installed)
    queue_push2(jobs.get(), SOLVER_USERINSTALLED | SOLVER_SOLVABLE, p);
  for (const std::string& text : request.install) {
    absl::StatusOr<stone::Dependency> dep = stone::Dependency::Parse(text);
    if (!dep.ok()) return Annotate(dep.status(), StrCat("resolving install of '", text, "'"));
    const Id id = DepId(pool, *dep);
    const Id how =
        dep->kind == stone::DepKind::kName ? SOLVER_SOLVABLE_NAME : SOLVER_SOLVABLE_PROVIDES;
    queue_push2(jobs.get(), SOLVER_INSTALL | how, id);
  }
  for (const std::string& name : request.remove) {
    const Id id = pool_str2id(pool, name.c_str(), 0);
    bool installed = false;
    if (id != 0) {
      Id p;
      Solvable* s;
      FOR_REPO_SOLVABLES(u.installed, p, s) {
        if (s->name == id) installed = true;
      }
    }
    if (!installed) {
      plan.problems.push_back({StrCat(name, " is not installed"), {}});
      continue;
    }
    queue_push2(jobs.get(),
                SOLVER_ERASE | SOLVER_SOLVABLE_NAME | (request.autoremove ? SOLVER_CLEANDEPS : 0),
                id);
  }
  if (request.sync) queue_push2(jobs.get(), SOLVER_DISTUPGRADE | SOLVER_SOLVABLE_ALL, 0);
  if (!plan.problems.empty()) return plan;

  Solved solved = RunSolver(u, jobs);
  if (solved.problems.empty() && request.autoremove) {
    // Cleandeps only follows the erased packages; a second pass also drops dependency-only
    // packages that were already orphaned before this request.
    OwnedQueue unneeded;
    solver_get_unneeded(solved.solver.get(), unneeded.get(), 0);
    if ((*unneeded).count > 0) {
      for (int i = 0; i < (*unneeded).count; ++i) {
        queue_push2(jobs.get(), SOLVER_ERASE | SOLVER_SOLVABLE, (*unneeded).elements[i]);
      }
      solved = RunSolver(u, jobs);
    }
  }
  if (!request.debug_dir.empty()) {
    if (!testcase_write(solved.solver.get(), request.debug_dir.c_str(),
                        TESTCASE_RESULT_TRANSACTION | TESTCASE_RESULT_PROBLEMS, nullptr, nullptr)) {
      return Internal(
          StrCat("writing solver testcase to ", request.debug_dir, ": ", pool_errstr(pool)));
    }
  }
  if (!solved.problems.empty()) {
    plan.problems = std::move(solved.problems);
    return plan;
  }

  TransactionPtr trans(solver_create_transaction(solved.solver.get()));
  std::set<Id> erased, added;
  for (int i = 0; i < trans->steps.count; ++i) {
    const Id p = trans->steps.elements[i];
    (pool_id2solvable(pool, p)->repo == u.installed ? erased : added).insert(p);
  }
  OwnedQueue userinstalled;
  solver_get_userinstalled(solved.solver.get(), userinstalled.get(), 0);
  std::unordered_set<Id> wanted((*userinstalled).elements,
                                (*userinstalled).elements + (*userinstalled).count);

  std::map<std::string, Id> erased_by_name;
  for (Id p : erased) erased_by_name[pool_id2str(pool, pool_id2solvable(pool, p)->name)] = p;
  Id p;
  Solvable* s;
  FOR_REPO_SOLVABLES(u.installed, p, s) {
    if (erased.count(p) != 0) continue;
    StoneRef kept = u.Ref(p);
    // Asking for an installed dependency by name makes it explicit, so autoremove keeps it.
    if (wanted.count(p) > 0 && !kept.is_explicit) {
      kept.is_explicit = true;
      plan.promoted.push_back(kept);
    }
    plan.selection.push_back(std::move(kept));
  }
  for (Id n : added) {
    StoneRef to = u.Ref(n);
    to.is_explicit = wanted.count(n) > 0;
    auto it = erased_by_name.find(to.name);
    if (it != erased_by_name.end()) {
      StoneRef from = u.Ref(it->second);
      to.is_explicit = to.is_explicit || from.is_explicit;
      const int c = pool_evrcmp(pool, pool_id2solvable(pool, n)->evr,
                                pool_id2solvable(pool, it->second)->evr, EVRCMP_COMPARE);
      if (c != 0 || from.stone_digest != to.stone_digest) {
        (c < 0 ? plan.downgrades : plan.upgrades).push_back({from, to});
      }
      erased_by_name.erase(it);
    } else {
      plan.installs.push_back(to);
    }
    plan.to_fetch.push_back(to);
    plan.download_size += to.stone_size;
    plan.selection.push_back(to);
  }
  for (const auto& [name, id] : erased_by_name) plan.removals.push_back(u.Ref(id));

  auto by_name = [](const StoneRef& a, const StoneRef& b) { return a.name < b.name; };
  std::sort(plan.installs.begin(), plan.installs.end(), by_name);
  std::sort(plan.removals.begin(), plan.removals.end(), by_name);
  std::sort(plan.selection.begin(), plan.selection.end(), by_name);
  std::sort(plan.to_fetch.begin(), plan.to_fetch.end(), by_name);
  auto change_by_name = [](const Change& a, const Change& b) { return a.to.name < b.to.name; };
  std::sort(plan.upgrades.begin(), plan.upgrades.end(), change_by_name);
  std::sort(plan.downgrades.begin(), plan.downgrades.end(), change_by_name);
  return plan;
}

}  // namespace onix::moss::solver

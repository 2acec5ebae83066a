// bench/moss_bench: moss transactions on a generated /usr split into packages (bench/lib), each
// figure against a baseline measured in the same run, interleaved (bench/harness):
//   full install from a local repository   vs zstd -d | tar -x of the same content (<= 1.3x)
//   update touching 5% of the packages     vs full install                           (<= 0.25x)
//   new-state build from a warm store      vs cp -al of the same tree                (<= 1.0x)
//   state switch (activate back and forth)                                           (< 10 ms)
//   state switch medium                    vs small                                  (<= 1.5x)
//   prune of 5 states                      vs rm -rf of the same trees               (<= 1.5x)
//   full install / state build             vs ostree commit + checkout -H / checkout -H (bare)
//   peak RSS of each moss command (the real bazel-bin/moss/moss as a child)          (< 128 MiB)
// Timed work goes through the moss libraries (the CLI has no install-by-name); the CLI runs
// only for the peak-RSS figures. Everything lives below --workdir.
//
//   moss_bench --out results.json --workdir DIR [--quick | --medium-only] [--runs N] [--moss PATH]
//              [--figures install,update,switch,build,ostree,prune,rss]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bench/harness/harness.h"
#include "bench/lib/usr_tree.h"
#include "bench/moss_bench/dataset.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/repo/config.h"
#include "moss/repo/driver.h"
#include "moss/repo/repository.h"
#include "moss/state/layout.h"
#include "moss/state/tree.h"
#include "moss/transaction/maintenance.h"
#include "moss/transaction/root.h"
#include "moss/transaction/selection.h"
#include "moss/transaction/transaction.h"

namespace onix::bench {
namespace {

namespace tx = ::onix::moss::transaction;
namespace repo = ::onix::moss::repo;

struct Args {
  std::string out, workdir = "build/bench/work", moss;
  bool quick = false;
  bool medium_only = false;  // the medium set alone (no medium/small switch ratio)
  int runs = 5;
  // --figures: only these groups (install, update, switch, build, ostree, prune, rss); all
  // when empty. For iterating on one figure; a full run measures every group.
  std::set<std::string> figures;
  bool Want(const std::string& group) const { return figures.empty() || figures.count(group); }
};

constexpr const char* kFigureGroups[] = {"install", "update", "switch", "build",
                                         "ostree",  "prune",  "rss"};

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Removes `path` (whatever it is; missing is fine) and, when `create`, makes it an empty
// directory.
absl::Status Fresh(const std::string& path, bool create = true) {
  const std::filesystem::path p(path);
  ONIX_ASSIGN_OR_RETURN(UniqueFd parent, fs::OpenDir(p.parent_path().string()));
  ONIX_RETURN_IF_ERROR(fs::RemoveTreeAt(parent.get(), p.filename().string()));
  if (!create) return absl::OkStatus();
  return fs::MkdirAt(parent.get(), p.filename().string(), 0755);
}

absl::Status Rename(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("rename(", from, ", ", to, ")"));
  }
  return absl::OkStatus();
}

// The moss libraries' progress output goes here instead of the terminal.
FILE* DevNull() {
  static FILE* f = std::fopen("/dev/null", "w");
  return f;
}

repo::ByNameOptions Quiet() {
  repo::ByNameOptions o;
  o.progress = DevNull();
  o.apply.log = [](std::string_view) {};
  return o;
}

// Points ROOT's only repository, "bench", at `dir` and refreshes its index (not timed: a
// real machine refreshes its indexes before it installs).
absl::Status UseRepository(const std::string& root, const std::string& dir) {
  repo::RepoConfig config;
  config.name = "bench";
  config.uri = StrCat("file://", dir);
  if (repo::GetRepo(root, "bench").ok()) {
    ONIX_RETURN_IF_ERROR(repo::UpdateRepoConfig(root, config));
  } else {
    ONIX_RETURN_IF_ERROR(repo::AddRepo(root, config));
  }
  return repo::UpdateRepo(root, config);
}

struct Size {
  DataSet data;
  std::string roots;           // dir/roots: machine roots made by the trials
  std::string last_installed;  // a root holding only the full install, for the next update
  std::string last_updated;    // a root holding the install and the update (two states)
  int next_root = 0;
  std::string switch_root;  // kept for the medium/small switch ratio
};

// Full install of every package by name from the base repository into a fresh root: the
// library path of `moss repo update` + install by name (resolve, fetch, transaction).
absl::StatusOr<double> InstallTrial(Size& s) {
  const std::string root = StrCat(s.roots, "/r", s.next_root++ % 2);
  if (root == s.last_updated) s.last_updated.clear();
  ONIX_RETURN_IF_ERROR(Fresh(root));
  ONIX_RETURN_IF_ERROR(UseRepository(root, s.data.repo));
  ONIX_RETURN_IF_ERROR(WarmTree(s.data.repo));
  moss::solver::Request request;
  request.install = s.data.names;
  const double t0 = Now();
  ONIX_RETURN_IF_ERROR_CTX(repo::RunByName(root, request, Quiet()).status(),
                           "installing from the repository");
  const double t = Now() - t0;
  s.last_installed = root;
  return t;
}

// `moss sync` against the update repository on the root the last full install left.
absl::StatusOr<double> UpdateTrial(Size& s) {
  if (s.last_installed.empty()) ONIX_RETURN_IF_ERROR(InstallTrial(s).status());
  const std::string root = s.last_installed;
  ONIX_RETURN_IF_ERROR(UseRepository(root, s.data.update_repo));
  ONIX_RETURN_IF_ERROR(WarmTree(s.data.update_repo));
  ONIX_RETURN_IF_ERROR(WarmTree(StrCat(root, "/usr")));
  moss::solver::Request request;
  request.sync = true;
  const double t0 = Now();
  ONIX_RETURN_IF_ERROR_CTX(repo::RunByName(root, request, Quiet()).status(),
                           "updating 5% of the packages");
  const double t = Now() - t0;
  s.last_installed.clear();
  s.last_updated = root;
  return t;
}

absl::StatusOr<double> TarTrial(const Size& s, const std::string& dest) {
  ONIX_RETURN_IF_ERROR(Fresh(dest));
  ONIX_RETURN_IF_ERROR(WarmTree(s.data.tar_dir));
  ONIX_ASSIGN_OR_RETURN(ChildRun r, RunShell(StrCat("zstd -q -d -c '", s.data.tar_zst,
                                                    "' | tar -C '", dest, "' -xf -")));
  return r.seconds;
}

// Opens the root and activates the retained state that is not active: `moss state activate`
// without the process start. Choosing the state is not timed.
absl::StatusOr<double> SwitchTrial(const std::string& root_path) {
  std::string target;
  {
    ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root,
                          tx::MachineRoot::Open(root_path, tx::Access::kRead));
    ONIX_ASSIGN_OR_RETURN(std::vector<tx::RetainedState> states, root.RetainedStates());
    for (const auto& st : states) {
      if (!st.active) target = st.fstx;
    }
    if (target.empty()) return FailedPrecondition(StrCat(root_path, " has no state to switch to"));
  }
  // The switch syncs a dozen times; the trials before it (GiB-sized installs) leave writeback
  // in flight that each of those syncs would queue behind. Timed on a settled disk, as a
  // rollback on a machine would be.
  ::sync();
  const double t0 = Now();
  ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root, tx::MachineRoot::Open(root_path, tx::Access::kWrite));
  ONIX_RETURN_IF_ERROR(tx::Activate(root, target, {}).status());
  return (Now() - t0) * 1000;
}

// The package selections of the retained states, so more states can be made from the store.
absl::StatusOr<std::vector<tx::Selection>> StateSelections(tx::MachineRoot& root) {
  std::vector<tx::Selection> out;
  ONIX_ASSIGN_OR_RETURN(std::vector<tx::RetainedState> states, root.RetainedStates());
  for (const auto& st : states) {
    ONIX_ASSIGN_OR_RETURN(moss::db::StateRecord rec, root.ResolveState(st.fstx));
    ONIX_ASSIGN_OR_RETURN(moss::state::Manifest m, root.ManifestOf(rec));
    tx::Selection sel;
    for (const auto& p : m.packages) sel.push_back({p.meta, p.stone_digest, p.is_explicit, ""});
    out.push_back(std::move(sel));
  }
  return out;
}

// Makes new states (alternating between the known selections, from the warm store) until the
// root retains `want`.
absl::Status GrowStates(const std::string& root_path, size_t want) {
  ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root, tx::MachineRoot::Open(root_path, tx::Access::kWrite));
  ONIX_ASSIGN_OR_RETURN(std::vector<tx::Selection> sels, StateSelections(root));
  if (sels.size() < 2) return FailedPrecondition(StrCat(root_path, " needs two states"));
  for (size_t i = 0;; ++i) {
    ONIX_ASSIGN_OR_RETURN(std::vector<tx::RetainedState> states, root.RetainedStates());
    if (states.size() >= want) return absl::OkStatus();
    ONIX_ASSIGN_OR_RETURN(tx::Result r, tx::Apply(root, sels[i % 2], {}));
    if (r.plan.noop) ONIX_RETURN_IF_ERROR(tx::Apply(root, sels[(i + 1) % 2], {}).status());
  }
}

std::string Label(const Size& s, const std::string& what) {
  return StrCat("moss ", what, " (", s.data.label, ", ", s.data.spec.packages, " packages)");
}

// Runs `argv` with stdout and stderr sent to `log` (the CLI prints plans and progress) and
// returns its peak RSS in MiB (RunChild measures it through bench/harness/rss_wrap, so it is
// the command's own, not this benchmark's).
absl::StatusOr<double> PeakRssMiB(const std::vector<std::string>& argv, const std::string& log) {
  std::fflush(stdout);
  std::fflush(stderr);
  UniqueFd saved_out(::dup(1)), saved_err(::dup(2));
  UniqueFd sink(::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!saved_out.valid() || !saved_err.valid() || !sink.valid()) {
    const int err = errno;
    return ErrnoError(err, StrCat("redirecting output to ", log));
  }
  ::dup2(sink.get(), 1);
  ::dup2(sink.get(), 2);
  absl::StatusOr<ChildRun> r = RunChild(argv);
  ::dup2(saved_out.get(), 1);
  ::dup2(saved_err.get(), 2);
  if (!r.ok()) return Annotate(r.status(), StrCat("see ", log));
  return static_cast<double>(r->max_rss_kib) / 1024.0;
}

Figure FromSamples(const std::string& name, const std::string& unit, double max_value,
                   const std::vector<double>& v) {
  Figure f;
  f.name = name;
  f.unit = unit;
  f.baseline = "none";
  f.value = Median(v);
  f.target = StrCat("< ", static_cast<int>(max_value), " ", unit);
  f.pass = f.value < max_value;
  f.runs = static_cast<int>(v.size());
  f.min = *std::min_element(v.begin(), v.end());
  f.max = *std::max_element(v.begin(), v.end());
  return f;
}

// Peak RSS of each moss command through the real binary, one warm-up round and `runs` rounds
// on a fresh root: install (stone files), repo add/update, sync (the 5% update), list
// installed, state list, state activate, state prune, state verify, index.
absl::Status CliFigures(const Size& s, const Args& a, std::vector<Figure>& figs) {
  const std::string root = StrCat(s.roots, "/cli");
  const std::string log = StrCat(s.data.dir, "/moss-cli.log");
  ONIX_RETURN_IF_ERROR(Fresh(log, false));
  std::map<std::string, std::vector<double>> rss;
  std::vector<std::string> order;
  for (int round = 0; round <= a.runs; ++round) {
    ONIX_RETURN_IF_ERROR(Fresh(root));
    std::vector<std::pair<std::string, std::vector<std::string>>> cmds;
    std::vector<std::string> install = {a.moss, "-D", root, "-y", "install"};
    install.insert(install.end(), s.data.base_stones.begin(), s.data.base_stones.end());
    cmds.push_back({"install (stone files)", install});
    cmds.push_back(
        {"repo add", {a.moss, "-D", root, "repo", "add", "bench", "file://" + s.data.update_repo}});
    cmds.push_back({"repo update", {a.moss, "-D", root, "repo", "update"}});
    cmds.push_back({"sync (5% update)", {a.moss, "-D", root, "-y", "sync"}});
    cmds.push_back({"list installed", {a.moss, "-D", root, "list", "installed"}});
    cmds.push_back({"state list", {a.moss, "-D", root, "state", "list"}});
    cmds.push_back({"state activate", {a.moss, "-D", root, "-y", "state", "activate", "1"}});
    cmds.push_back({"state prune", {a.moss, "-D", root, "-y", "state", "prune", "--keep", "1"}});
    cmds.push_back({"state verify", {a.moss, "-D", root, "state", "verify"}});
    cmds.push_back({"index", {a.moss, "index", s.data.update_repo}});
    for (const auto& [what, argv] : cmds) {
      ONIX_RETURN_IF_ERROR(WarmTree(s.data.repo));
      ONIX_ASSIGN_OR_RETURN(double mib, PeakRssMiB(argv, log));
      if (round == 0) {
        order.push_back(what);
        continue;  // warm-up
      }
      rss[what].push_back(mib);
    }
  }
  for (const auto& what : order) {
    figs.push_back(FromSamples(Label(s, StrCat(what, " peak RSS")), "MiB", 128, rss[what]));
  }
  return Fresh(root, false);
}

absl::Status RunSize(Size& s, const Args& a, std::vector<Figure>& figs) {
  const DataSet& d = s.data;
  const int runs = a.runs;
  s.roots = StrCat(d.dir, "/roots");
  const std::string x_tar = StrCat(d.dir, "/x-tar"), build = StrCat(d.dir, "/build"),
                    ostree = StrCat(d.dir, "/ostree");
  for (const auto& p : {s.roots, build, ostree}) ONIX_RETURN_IF_ERROR(Fresh(p));
  auto add = [&](absl::StatusOr<Figure> f) -> absl::Status {
    ONIX_RETURN_IF_ERROR(f.status());
    std::printf("%s", FormatTable({*f}).c_str());
    std::fflush(stdout);
    figs.push_back(*f);
    return absl::OkStatus();
  };
  Trial install = [&] { return InstallTrial(s); };
  Trial tar = [&] { return TarTrial(s, x_tar); };
  if (a.Want("install")) {
    ONIX_RETURN_IF_ERROR(add(Compare(
        {Label(s, "full install from a local repository"), "s", "zstd -d | tar -x", 1.3, runs},
        install, tar)));
  }
  ONIX_RETURN_IF_ERROR(Fresh(x_tar, false));

  Trial update = [&] { return UpdateTrial(s); };
  if (a.Want("update")) {
    ONIX_RETURN_IF_ERROR(
        add(Compare({Label(s, "update of 5% of the packages"), "s", "full install", 0.25, runs},
                    update, install)));
  }
  // The last updated root (two states) stays for the switch, build and prune figures.
  if (s.last_updated.empty()) ONIX_RETURN_IF_ERROR(UpdateTrial(s).status());
  s.switch_root = StrCat(s.roots, "/switch");
  ONIX_RETURN_IF_ERROR(Rename(s.last_updated, s.switch_root));
  for (int i = 0; i < 2; ++i) ONIX_RETURN_IF_ERROR(Fresh(StrCat(s.roots, "/r", i), false));
  s.last_installed.clear();
  s.last_updated.clear();

  if (a.Want("switch")) {
    ONIX_RETURN_IF_ERROR(add(Absolute(Label(s, "state switch (activate back and forth)"), "ms",
                                      runs, 10, [&] { return SwitchTrial(s.switch_root); })));
  }

  // New-state build from the warm store: the active state's layout, hardlinked from the
  // store by moss/state BuildTree, against cp -al of the active /usr.
  {
    ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root,
                          tx::MachineRoot::Open(s.switch_root, tx::Access::kRead));
    ONIX_ASSIGN_OR_RETURN(std::optional<moss::db::StateRecord> active, root.ActiveState());
    if (!active) return Internal("the switch root has no active state");
    ONIX_ASSIGN_OR_RETURN(moss::state::Manifest manifest, root.ManifestOf(*active));
    ONIX_ASSIGN_OR_RETURN(std::vector<moss::state::OwnedEntry> merged, root.LayoutOf(manifest));
    const std::vector<stone::LayoutEntry> layout = moss::state::Entries(merged);
    const std::string usr = StrCat(s.switch_root, "/usr");
    const std::string store = StrCat(s.switch_root, "/.moss/store");
    Trial build_tree = [&]() -> absl::StatusOr<double> {
      const std::string dest = StrCat(build, "/onix");
      ONIX_RETURN_IF_ERROR(Fresh(dest));
      ONIX_ASSIGN_OR_RETURN(UniqueFd fd, fs::OpenDir(dest));
      ONIX_RETURN_IF_ERROR(WarmTree(store));
      const double t0 = Now();
      ONIX_RETURN_IF_ERROR(moss::state::BuildTree(root.store(), layout, fd.get()));
      return Now() - t0;
    };
    Trial cp_al = [&]() -> absl::StatusOr<double> {
      const std::string dest = StrCat(build, "/cp");
      ONIX_RETURN_IF_ERROR(Fresh(dest));
      ONIX_RETURN_IF_ERROR(WarmTree(usr));
      ONIX_ASSIGN_OR_RETURN(ChildRun r, RunShell(StrCat("cp -al '", usr, "' '", dest, "/usr'")));
      return r.seconds;
    };
    if (a.Want("build")) {
      ONIX_RETURN_IF_ERROR(
          add(Compare({Label(s, "new-state build from a warm store"), "s", "cp -al", 1.0, runs},
                      build_tree, cp_al)));
    }

    // The same tree through Debian's ostree, a `bare` repository as root. The issue names
    // `checkout -U -H`, but ostree refuses user-mode hardlink checkouts from a `bare` repo
    // ("Bare repository mode cannot hardlink in user checkout mode"), so we check out as root
    // with -H, which is what a real /ostree/repo deployment does.
    const std::string orepo = StrCat(ostree, "/repo"), ocheckout = StrCat(ostree, "/checkout");
    Trial ostree_full = [&]() -> absl::StatusOr<double> {
      ONIX_RETURN_IF_ERROR(Fresh(orepo, false));
      ONIX_RETURN_IF_ERROR(Fresh(ocheckout, false));
      ONIX_RETURN_IF_ERROR(
          RunShell(StrCat("ostree --repo='", orepo, "' init --mode=bare")).status());
      ONIX_RETURN_IF_ERROR(WarmTree(d.tree));
      ONIX_ASSIGN_OR_RETURN(
          ChildRun r, RunShell(StrCat("ostree --repo='", orepo, "' commit -b bench --tree=dir='",
                                      d.tree, "' >/dev/null && ostree --repo='", orepo,
                                      "' checkout -H bench '", ocheckout, "'")));
      return r.seconds;
    };
    if (a.Want("ostree")) {
      ONIX_RETURN_IF_ERROR(add(Compare({Label(s, "full install vs ostree"), "s",
                                        "ostree commit + checkout -H (bare)", 1.0, runs},
                                       install, ostree_full)));
    }
    Trial ostree_checkout = [&]() -> absl::StatusOr<double> {
      ONIX_RETURN_IF_ERROR(Fresh(ocheckout, false));
      ONIX_RETURN_IF_ERROR(WarmTree(StrCat(orepo, "/objects")));
      ONIX_ASSIGN_OR_RETURN(ChildRun r, RunShell(StrCat("ostree --repo='", orepo,
                                                        "' checkout -H bench '", ocheckout, "'")));
      return r.seconds;
    };
    if (a.Want("ostree")) {
      ONIX_RETURN_IF_ERROR(add(Compare(
          {Label(s, "new-state build vs ostree"), "s", "ostree checkout -H (bare)", 1.0, runs},
          build_tree, ostree_checkout)));
    }
  }
  for (int i = 0; i < 2; ++i) ONIX_RETURN_IF_ERROR(Fresh(StrCat(s.roots, "/r", i), false));
  ONIX_RETURN_IF_ERROR(Fresh(ostree, false));
  ONIX_RETURN_IF_ERROR(Fresh(build, false));

  // Prune: the switch root grows to 7 states (untimed), then `prune --keep 2` removes 5 (the
  // active and the newest other stay, so the switch figures still work). The baseline grows
  // the root the same way and removes the very trees prune would (moss built them: same
  // layout on disk, same hardlinks into the store) with rm -rf, then lets moss forget those
  // states untimed. Copies made by cp -al would be a different tree: created in one pass
  // just before, their inodes sit together, which makes them cheaper to remove.
  Trial prune = [&]() -> absl::StatusOr<double> {
    ONIX_RETURN_IF_ERROR(GrowStates(s.switch_root, 7));
    ONIX_RETURN_IF_ERROR(WarmTree(StrCat(s.switch_root, "/.moss/root")));
    const double t0 = Now();
    ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root,
                          tx::MachineRoot::Open(s.switch_root, tx::Access::kWrite));
    ONIX_ASSIGN_OR_RETURN(tx::RemoveResult r, tx::Prune(root, 2, false));
    const double t = Now() - t0;
    if (r.removed.size() != 5) {
      return Internal(StrCat("prune removed ", r.removed.size(), " states, not 5"));
    }
    return t;
  };
  Trial rm_rf = [&]() -> absl::StatusOr<double> {
    ONIX_RETURN_IF_ERROR(GrowStates(s.switch_root, 7));
    ONIX_RETURN_IF_ERROR(WarmTree(StrCat(s.switch_root, "/.moss/root")));
    std::vector<std::string> doomed;
    {
      ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root,
                            tx::MachineRoot::Open(s.switch_root, tx::Access::kRead));
      ONIX_ASSIGN_OR_RETURN(tx::RemoveResult plan, tx::Prune(root, 2, /*dry_run=*/true));
      doomed = plan.removed;
    }
    if (doomed.size() != 5) {
      return Internal(StrCat("prune would remove ", doomed.size(), " states, not 5"));
    }
    std::string cmd = "rm -rf";
    for (const auto& fstx : doomed) cmd += StrCat(" '", s.switch_root, "/.moss/root/", fstx, "'");
    ONIX_ASSIGN_OR_RETURN(ChildRun r, RunShell(cmd));
    // Untimed: the states' rows and history refs (their trees are gone already).
    ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root,
                          tx::MachineRoot::Open(s.switch_root, tx::Access::kWrite));
    ONIX_RETURN_IF_ERROR(tx::RemoveStates(root, doomed, false).status());
    return r.seconds;
  };
  if (a.Want("prune")) {
    ONIX_RETURN_IF_ERROR(
        add(Compare({Label(s, "prune of 5 states"), "s", "rm -rf of the same trees", 1.5, runs},
                    prune, rm_rf)));
  }

  if (a.Want("rss")) ONIX_RETURN_IF_ERROR(CliFigures(s, a, figs));
  return absl::OkStatus();
}

absl::Status Run(Args a, const std::string& self) {
  if (a.moss.empty()) {
    // The data dependency on //moss puts the binary in our runfiles; bazel-bin otherwise.
    a.moss = StrCat(self, ".runfiles/onix/moss/moss");
    if (::access(a.moss.c_str(), X_OK) != 0) a.moss = "bazel-bin/moss/moss";
  }
  std::error_code ec;
  a.moss = std::filesystem::absolute(a.moss, ec).string();
  if (::access(a.moss.c_str(), X_OK) != 0) {
    return FailedPrecondition(
        StrCat("no moss binary at ", a.moss, " (build //moss:moss or pass --moss PATH)"));
  }
  std::vector<std::pair<std::string, PackageSetSpec>> sizes;
  if (!a.medium_only) sizes.push_back({"small", SmallPackageSet()});
  if (!a.quick) sizes.push_back({"medium", MediumPackageSet()});
  std::vector<Size> done;
  std::vector<Figure> figs;
  for (const auto& [label, spec] : sizes) {
    Size s;
    ONIX_ASSIGN_OR_RETURN(s.data, PrepareDataSet(a.workdir, label, spec));
    ONIX_RETURN_IF_ERROR_CTX(RunSize(s, a, figs), StrCat("measuring the ", label, " set"));
    done.push_back(std::move(s));
  }
  if (done.size() == 2 && a.Want("switch")) {
    // Switch time must not grow with the tree: medium against small, interleaved.
    ONIX_ASSIGN_OR_RETURN(Figure f, Compare(
                                        {"moss state switch medium vs small", "ms",
                                         "state switch (small)", 1.5, a.runs},
                                        [&] { return SwitchTrial(done[1].switch_root); },
                                        [&] { return SwitchTrial(done[0].switch_root); }));
    figs.push_back(f);
  }
  for (const auto& s : done) ONIX_RETURN_IF_ERROR(Fresh(s.roots, false));
  std::printf("\n%s", FormatTable(figs).c_str());
  if (!a.out.empty()) ONIX_RETURN_IF_ERROR(AppendResults(a.out, figs));
  return absl::OkStatus();
}

}  // namespace
}  // namespace onix::bench

int main(int argc, char** argv) {
  onix::bench::Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--out") {
      args.out = next();
    } else if (a == "--workdir") {
      args.workdir = next();
    } else if (a == "--quick") {
      args.quick = true;
    } else if (a == "--medium-only") {
      args.medium_only = true;
    } else if (a == "--runs") {
      args.runs = std::atoi(next().c_str());
    } else if (a == "--moss") {
      args.moss = next();
    } else if (a == "--figures") {
      std::stringstream list(next());
      for (std::string group; std::getline(list, group, ',');) {
        if (std::find(std::begin(onix::bench::kFigureGroups), std::end(onix::bench::kFigureGroups),
                      group) == std::end(onix::bench::kFigureGroups)) {
          return onix::ReportStatus("moss_bench",
                                    onix::InvalidArgument(onix::StrCat(
                                        "--figures: unknown group '", group,
                                        "' (install, update, switch, build, ostree, prune, rss)")));
        }
        args.figures.insert(group);
      }
    } else {
      return onix::ReportStatus(
          "moss_bench",
          onix::InvalidArgument(onix::StrCat("unknown argument '", a,
                                             "' (--out F --workdir D [--quick | --medium-only] "
                                             "[--runs N] [--moss PATH] [--figures G,...])")));
    }
  }
  if (args.quick && args.medium_only) {
    return onix::ReportStatus(
        "moss_bench",
        onix::InvalidArgument("--quick (small only) and --medium-only exclude each other"));
  }
  if (args.runs < 1) {
    return onix::ReportStatus("moss_bench", onix::InvalidArgument("--runs must be positive"));
  }
  return onix::ReportStatus("moss_bench", onix::bench::Run(args, argv[0]));
}

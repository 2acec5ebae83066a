#include "moss/repo/driver.h"

#include <map>
#include <set>

#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/repo/index.h"
#include "moss/repo/report.h"
#include "moss/repo/repository.h"

namespace onix::moss::repo {

absl::StatusOr<std::vector<solver::InstalledPackage>> InstalledForSolver(
    transaction::MachineRoot& root) {
  ONIX_ASSIGN_OR_RETURN(transaction::Selection current, transaction::CurrentSelection(root));
  std::vector<solver::InstalledPackage> out;
  out.reserve(current.size());
  for (const auto& p : current) {
    out.push_back({solver::Package{p.meta, p.stone_digest, 0, ""}, p.is_explicit});
  }
  return out;
}

absl::StatusOr<ResolvedSelection> ResolveSelection(
    const std::string& root_path, const std::vector<solver::InstalledPackage>& installed,
    const solver::Request& request) {
  ONIX_ASSIGN_OR_RETURN(solver::Universe universe, LoadUniverse(root_path, installed));
  ResolvedSelection out;
  ONIX_ASSIGN_OR_RETURN(out.plan, solver::Resolve(universe, request));
  if (!out.plan.ok()) return out;
  std::map<Digest, const solver::InstalledPackage*> by_digest;
  for (const auto& ip : installed) by_digest[ip.package.stone_digest] = &ip;
  for (const solver::StoneRef& ref : out.plan.selection) {
    transaction::SelectedPackage sel;
    sel.stone_digest = ref.stone_digest;
    sel.is_explicit = ref.is_explicit;
    if (ref.repository == "@installed") {
      auto it = by_digest.find(ref.stone_digest);
      if (it == by_digest.end()) {
        return Internal(StrCat("resolving: installed ", ref.Nvr(), " vanished from the input"));
      }
      sel.meta = it->second->package.meta;
    } else {
      // Full metadata comes from the verified stone in FetchSelection; until then, the name.
      sel.meta.name = ref.name;
    }
    out.selection.push_back(std::move(sel));
  }
  return out;
}

absl::Status FetchSelection(const std::string& root_path, ResolvedSelection& resolved,
                            Progress* progress, int parallel) {
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> paths,
                        FetchStones(root_path, resolved.plan.to_fetch, parallel, {}, progress));
  std::map<Digest, std::string> path_of;
  for (size_t i = 0; i < paths.size(); ++i) {
    path_of[resolved.plan.to_fetch[i].stone_digest] = paths[i];
  }
  // The records the plan was made from, to hold each stone to what the index promised.
  std::map<Digest, stone::Meta> promised;
  std::set<std::string> read;
  for (const solver::StoneRef& ref : resolved.plan.to_fetch) {
    if (!read.insert(ref.repository).second) continue;
    ONIX_ASSIGN_OR_RETURN(
        std::vector<solver::Package> index,
        ReadIndex(StrCat(RepoCacheDir(root_path, ref.repository), "/", kIndexFile)));
    for (solver::Package& p : index) promised[p.stone_digest] = std::move(p.meta);
  }
  for (transaction::SelectedPackage& sel : resolved.selection) {
    auto it = path_of.find(sel.stone_digest);
    if (it == path_of.end()) continue;
    ONIX_ASSIGN_OR_RETURN(transaction::SelectedPackage from_file,
                          transaction::SelectStoneFile(it->second));
    if (from_file.stone_digest != sel.stone_digest) {
      return DataLoss(StrCat("fetching ", sel.meta.name, ": cached stone ", it->second,
                             " changed after verification"));
    }
    auto want = promised.find(sel.stone_digest);
    if (want == promised.end()) {
      return FailedPrecondition(StrCat("fetching ", sel.meta.name, ": stone ", it->second,
                                       " is no longer in its repository's index; run moss "
                                       "repo update and try again"));
    }
    ONIX_RETURN_IF_ERROR(CheckStoneMatchesIndex(want->second, from_file.meta, it->second));
    sel.meta = from_file.meta;
    sel.stone_path = it->second;
  }
  return absl::OkStatus();
}

absl::StatusOr<ByNameResult> RunByName(const std::string& root_path, const solver::Request& request,
                                       const ByNameOptions& options) {
  std::vector<solver::InstalledPackage> installed;
  auto root = transaction::MachineRoot::Open(
      root_path, options.dry_run ? transaction::Access::kRead : transaction::Access::kWrite);
  if (root.ok()) {
    ONIX_ASSIGN_OR_RETURN(installed, InstalledForSolver(*root));
  } else if (!(options.dry_run && absl::IsNotFound(root.status()))) {
    return root.status();
  }
  ONIX_ASSIGN_OR_RETURN(ResolvedSelection resolved,
                        ResolveSelection(root_path, installed, request));
  if (!resolved.plan.ok()) {
    std::string text = FormatProblems(resolved.plan);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    return FailedPrecondition(text);
  }
  ByNameResult out;
  out.plan = resolved.plan;
  if (options.dry_run || resolved.plan.empty()) return out;

  Progress progress = Progress::ForStream(options.progress);
  ONIX_RETURN_IF_ERROR(FetchSelection(root_path, resolved, &progress, options.parallel));
  transaction::Options apply = options.apply;
  apply.dry_run = false;
  FILE* log = options.progress;
  if (!apply.log) {
    apply.log = [log](std::string_view line) {
      std::fprintf(log, "%.*s\n", static_cast<int>(line.size()), line.data());
    };
  }
  ONIX_ASSIGN_OR_RETURN(transaction::Result result,
                        transaction::Apply(*root, resolved.selection, apply));
  out.applied = std::move(result);
  return out;
}

}  // namespace onix::moss::repo

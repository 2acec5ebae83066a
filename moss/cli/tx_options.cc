#include "moss/cli/tx_options.h"

#include <cstdio>

#include "moss/base/json.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/bootsync/bootsync.h"
#include "moss/repo/driver.h"
#include "moss/repo/report.h"
#include "moss/transaction/report.h"

namespace onix::moss_cli {

moss::transaction::Options TransactionOptions(const GlobalOptions& global) {
  moss::transaction::Options options =
      moss::transaction::CommandOptions(global.dry_run, global.json);
  options.boot_hook = moss::bootsync::MakeBootHook();
  return options;
}

absl::Status RunSolverRequest(const GlobalOptions& global, const moss::solver::Request& request,
                              const std::string& message) {
  moss::repo::ByNameOptions options;
  options.dry_run = global.dry_run;
  options.apply = TransactionOptions(global);
  options.apply.dry_run = false;  // RunByName takes dry_run from `options`
  if (!message.empty()) options.apply.message = message;
  // The engine's lines go to stderr in both modes: stdout carries only the result.
  if (!options.apply.log) {
    options.apply.log = [](std::string_view line) {
      std::fprintf(stderr, "moss: %.*s\n", static_cast<int>(line.size()), line.data());
    };
  }
  ONIX_ASSIGN_OR_RETURN(moss::repo::ByNameResult ran,
                        moss::repo::RunByName(global.root, request, options));
  PrintByName(global, ran);
  return absl::OkStatus();
}

namespace {

nlohmann::json RefJson(const moss::solver::StoneRef& r) {
  return {{"name", r.name},
          {"version", StrCat(r.version, "-", r.source_release, "-", r.build_release)},
          {"repository", r.repository}};
}

}  // namespace

void PrintTransactionResult(const GlobalOptions& g, std::string_view verb,
                            const moss::transaction::Result& result) {
  namespace tx = ::onix::moss::transaction;
  if (g.json) {
    nlohmann::json j = tx::ResultJson(result);
    j["dry_run"] = g.dry_run;
    std::printf("%s\n", DumpJson(j, 2).c_str());
    return;
  }
  if (result.plan.noop) {
    std::printf("nothing to do: state %s already has these packages\n",
                result.plan.from_fstx.c_str());
    return;
  }
  std::printf("%s%s", g.dry_run ? StrCat("would ", verb, ":\n").c_str() : "",
              tx::FormatPlan(result.plan).c_str());
  for (const auto& w : result.warnings) {
    std::fprintf(stderr, "moss: warning: %s\n", EscapeLines(w, 14).c_str());
  }
  if (g.dry_run) {
    std::printf("dry run: state %s would become active; nothing changed\n",
                result.plan.to_fstx.c_str());
  } else {
    std::printf(
        "state %s is active%s\n", result.plan.to_fstx.c_str(),
        result.plan.from_fstx.empty() ? "" : StrCat(" (was ", result.plan.from_fstx, ")").c_str());
  }
}

void PrintByName(const GlobalOptions& g, const moss::repo::ByNameResult& ran) {
  const moss::solver::Plan& p = ran.plan;
  if (g.json) {
    auto refs = [](const std::vector<moss::solver::StoneRef>& v) {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& r : v) a.push_back(RefJson(r));
      return a;
    };
    auto changes = [](const std::vector<moss::solver::Change>& v) {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& c : v) a.push_back({{"from", RefJson(c.from)}, {"to", RefJson(c.to)}});
      return a;
    };
    nlohmann::json j = {{"dry_run", g.dry_run},
                        {"install", refs(p.installs)},
                        {"upgrade", changes(p.upgrades)},
                        {"downgrade", changes(p.downgrades)},
                        {"remove", refs(p.removals)},
                        {"download_size", p.download_size},
                        {"applied", ran.applied.has_value()}};
    if (ran.applied) {
      j["state"] = ran.applied->plan.to_fstx;
      j["previous_state"] = ran.applied->plan.from_fstx;
      j["warnings"] = ran.applied->warnings;
    }
    std::printf("%s\n", DumpJson(j, 2).c_str());
    return;
  }
  std::fputs(moss::repo::FormatPlan(p).c_str(), stdout);
  if (!ran.applied) return;
  for (const auto& w : ran.applied->warnings) {
    std::fprintf(stderr, "moss: warning: %s\n", EscapeLines(w, 14).c_str());
  }
  std::printf("state %s is active\n", ran.applied->plan.to_fstx.c_str());
}

}  // namespace onix::moss_cli

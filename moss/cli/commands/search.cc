// `moss search TEXT` / `moss search --provides DEP`: packages of the enabled repositories by
// name, summary or description, or by what they provide ("soname(libz.so.1(x86_64))").
#include <cstdio>
#include <memory>
#include <string>

#include "moss/base/json.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/cli/commands.h"
#include "moss/repo/report.h"
#include "moss/repo/repository.h"
#include "nlohmann/json.hpp"

namespace onix::moss_cli {
namespace {

namespace repo = onix::moss::repo;
namespace solver = onix::moss::solver;

struct SearchRequest {
  std::string text;
  std::string provides;
};

absl::Status RunSearch(const GlobalOptions& g, const SearchRequest& req) {
  if (req.text.empty() == req.provides.empty()) {
    return InvalidArgument("searching: give either TEXT or --provides DEP");
  }
  ONIX_ASSIGN_OR_RETURN(solver::Universe universe, repo::LoadUniverse(g.root, {}));
  std::vector<solver::StoneRef> found;
  if (!req.provides.empty()) {
    ONIX_ASSIGN_OR_RETURN(found, universe.WhatProvides(req.provides));
  } else {
    found = universe.Search(req.text);
  }
  if (g.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& r : found) {
      j.push_back({{"name", r.name},
                   {"version", r.version},
                   {"source_release", r.source_release},
                   {"build_release", r.build_release},
                   {"architecture", r.architecture},
                   {"summary", r.summary},
                   {"repository", r.repository},
                   {"file_name", r.file_name},
                   {"size", r.stone_size},
                   {"sha256", r.stone_digest.Hex()}});
    }
    std::printf("%s\n", DumpJson(j, 2).c_str());
    return absl::OkStatus();
  }
  if (found.empty()) {
    return NotFound(req.provides.empty() ? StrCat("no package matches '", req.text, "'")
                                         : StrCat("no package provides ", req.provides));
  }
  for (const auto& r : found) {
    std::printf("%-24s %-16s %-10s %s\n", r.name.c_str(),
                StrCat(r.version, "-", r.source_release, "-", r.build_release).c_str(),
                r.repository.c_str(), r.summary.c_str());
  }
  return absl::OkStatus();
}

}  // namespace

void AddSearchCommand(CLI::App& app, Context& ctx) {
  auto req = std::make_shared<SearchRequest>();
  CLI::App* cmd = app.add_subcommand("search", "Search the repositories");
  DryRunSafe(ctx, cmd);
  cmd->add_option("text", req->text, "Text in a package's name, summary or description");
  cmd->add_option("--provides", req->provides, "A provider, e.g. soname(libz.so.1(x86_64))");
  cmd->add_flag("--json", ctx.global.json, "Machine-readable output");
  cmd->callback([&ctx, req] { ctx.action = [&ctx, req] { return RunSearch(ctx.global, *req); }; });
}

}  // namespace onix::moss_cli

// `moss info NAME`: metadata of an installed package.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_join.h"
#include "moss/base/status.h"
#include "moss/cli/commands.h"
#include "moss/state/manifest.h"
#include "moss/transaction/queries.h"
#include "moss/transaction/report.h"

namespace onix::moss_cli {
namespace {

namespace tx = ::onix::moss::transaction;

std::string Deps(const std::vector<::onix::stone::Dependency>& deps) {
  std::vector<std::string> out;
  for (const auto& d : deps) out.push_back(d.ToString());
  return out.empty() ? "-" : absl::StrJoin(out, ", ");
}

absl::Status RunInfo(const GlobalOptions& g, const std::string& name) {
  ONIX_ASSIGN_OR_RETURN(tx::MachineRoot root, tx::OpenForCommand(g.root, false, false));
  ONIX_ASSIGN_OR_RETURN(tx::PackageInfo info, tx::InstalledPackage(root, name));
  const auto& m = info.record.meta;
  if (g.json) {
    nlohmann::json j = moss::state::MetaToJson(m);
    j["stone_digest"] = info.record.stone_digest.Hex();
    j["explicit"] = info.record.is_explicit;
    j["files"] = info.layout.size();
    std::printf("%s\n", j.dump(2).c_str());
    return absl::OkStatus();
  }
  std::printf("Name:         %s\n", m.name.c_str());
  std::printf("Version:      %s\n", moss::state::VersionRelease(m).c_str());
  std::printf("Build:        %llu\n", static_cast<unsigned long long>(m.build_release));
  std::printf("Architecture: %s\n", m.architecture.c_str());
  std::printf("Summary:      %s\n", m.summary.c_str());
  if (!m.description.empty()) std::printf("Description:  %s\n", m.description.c_str());
  if (!m.homepage.empty()) std::printf("Homepage:     %s\n", m.homepage.c_str());
  std::printf("Licenses:     %s\n", absl::StrJoin(m.licenses, ", ").c_str());
  std::printf("Depends:      %s\n", Deps(m.depends).c_str());
  std::printf("Provides:     %s\n", Deps(m.provides).c_str());
  std::printf("Explicit:     %s\n", info.record.is_explicit ? "yes" : "no (dependency)");
  std::printf("Stone:        %s\n", info.record.stone_digest.Hex().c_str());
  std::printf("Paths:        %zu\n", info.layout.size());
  return absl::OkStatus();
}

}  // namespace

void AddInfoCommand(CLI::App& app, Context& ctx) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("info", "Show an installed package");
  cmd->add_option("name", *name, "Package name")->required();
  cmd->add_flag("--json", ctx.global.json, "Machine-readable output");
  cmd->callback([&ctx, name] { ctx.action = [&ctx, name] { return RunInfo(ctx.global, *name); }; });
}

}  // namespace onix::moss_cli

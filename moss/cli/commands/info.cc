// `moss info NAME`: an installed package's metadata, and every version of it the enabled
// repositories offer (repository, version, dependencies, providers, download size, and
// whether that version is the installed one).
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_join.h"
#include "moss/base/json.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/cli/commands.h"
#include "moss/repo/report.h"
#include "moss/repo/repository.h"
#include "moss/state/manifest.h"
#include "moss/transaction/queries.h"
#include "moss/transaction/report.h"

namespace onix::moss_cli {
namespace {

namespace tx = ::onix::moss::transaction;
namespace repo = ::onix::moss::repo;

std::string Deps(const std::vector<::onix::stone::Dependency>& deps) {
  std::vector<std::string> out;
  for (const auto& d : deps) out.push_back(d.ToString());
  return out.empty() ? "-" : EscapeControl(absl::StrJoin(out, ", "));
}

nlohmann::json DepsJson(const std::vector<::onix::stone::Dependency>& deps) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& d : deps) j.push_back(d.ToString());
  return j;
}

// The installed package, or nullopt when the root has no such package (or no state at all):
// `moss info` also answers for packages that are only available.
absl::StatusOr<std::optional<tx::PackageInfo>> FindInstalled(const GlobalOptions& g,
                                                             const std::string& name) {
  auto root = tx::OpenForCommand(g.root, false, false);
  if (!root.ok()) {
    if (absl::IsNotFound(root.status())) return std::nullopt;
    return root.status();
  }
  auto info = tx::InstalledPackage(*root, name);
  if (!info.ok()) {
    if (absl::IsNotFound(info.status())) return std::nullopt;
    return info.status();
  }
  return std::optional<tx::PackageInfo>(std::move(*info));
}

// "yes" when this exact stone is installed, otherwise what is installed instead.
std::string InstalledState(const repo::AvailablePackage& a,
                           const std::optional<tx::PackageInfo>& installed) {
  if (!installed) return "no";
  if (installed->record.stone_digest == a.package.stone_digest) return "yes";
  return StrCat("no (", moss::state::VersionRelease(installed->record.meta), "-",
                installed->record.meta.build_release, " is installed)");
}

// Provenance (Meta tag 17), one line each, aligned under the first.
void PrintInputs(const std::vector<std::string>& inputs) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::printf("%s%s\n", i == 0 ? "Inputs:       " : "              ",
                EscapeControl(inputs[i]).c_str());
  }
}

void PrintInstalled(const tx::PackageInfo& info) {
  const auto& m = info.record.meta;
  std::printf("Name:         %s\n", m.name.c_str());
  std::printf("Version:      %s\n", moss::state::VersionRelease(m).c_str());
  std::printf("Build:        %llu\n", static_cast<unsigned long long>(m.build_release));
  std::printf("Architecture: %s\n", EscapeControl(m.architecture).c_str());
  std::printf("Summary:      %s\n", EscapeControl(m.summary).c_str());
  if (!m.description.empty())
    std::printf("Description:  %s\n", EscapeLines(m.description, 14).c_str());
  if (!m.homepage.empty()) std::printf("Homepage:     %s\n", EscapeControl(m.homepage).c_str());
  std::printf("Licenses:     %s\n", EscapeControl(absl::StrJoin(m.licenses, ", ")).c_str());
  std::printf("Depends:      %s\n", Deps(m.depends).c_str());
  std::printf("Provides:     %s\n", Deps(m.provides).c_str());
  PrintInputs(m.inputs);
  std::printf("Explicit:     %s\n", info.record.is_explicit ? "yes" : "no (dependency)");
  std::printf("Stone:        %s\n", info.record.stone_digest.Hex().c_str());
  std::printf("Paths:        %zu\n", info.layout.size());
}

void PrintAvailable(const repo::AvailablePackage& a, bool candidate,
                    const std::optional<tx::PackageInfo>& installed, bool header) {
  const auto& m = a.package.meta;
  if (header) {
    std::printf("Name:         %s\n", m.name.c_str());
    std::printf("Summary:      %s\n", EscapeControl(m.summary).c_str());
    if (!m.description.empty())
      std::printf("Description:  %s\n", EscapeLines(m.description, 14).c_str());
  }
  std::printf("\nRepository:   %s (priority %d)%s\n", a.repository.c_str(), a.priority,
              candidate ? ", the candidate `moss install` picks" : "");
  std::printf("Version:      %s-%llu\n", moss::state::VersionRelease(m).c_str(),
              static_cast<unsigned long long>(m.build_release));
  std::printf("Architecture: %s\n", EscapeControl(m.architecture).c_str());
  std::printf("Depends:      %s\n", Deps(m.depends).c_str());
  std::printf("Provides:     %s\n", Deps(m.provides).c_str());
  if (!m.conflicts.empty()) std::printf("Conflicts:    %s\n", Deps(m.conflicts).c_str());
  if (!m.replaces.empty()) std::printf("Replaces:     %s\n", Deps(m.replaces).c_str());
  PrintInputs(m.inputs);
  std::printf("Download:     %s (%s)\n", repo::HumanSize(a.package.stone_size).c_str(),
              EscapeControl(a.package.file_name).c_str());
  std::printf("Stone:        %s\n", a.package.stone_digest.Hex().c_str());
  std::printf("Installed:    %s\n", InstalledState(a, installed).c_str());
}

absl::Status RunInfo(const GlobalOptions& g, const std::string& name) {
  ONIX_ASSIGN_OR_RETURN(std::optional<tx::PackageInfo> installed, FindInstalled(g, name));
  ONIX_ASSIGN_OR_RETURN(std::vector<repo::AvailablePackage> available,
                        repo::FindAvailable(g.root, name));
  if (!installed && available.empty()) {
    return NotFound(StrCat("package ", name,
                           " is neither installed nor in an enabled repository (after `moss repo "
                           "update`)"));
  }
  if (g.json) {
    nlohmann::json j;
    if (installed) {
      j = moss::state::MetaToJson(installed->record.meta);
      j["stone_digest"] = installed->record.stone_digest.Hex();
      j["explicit"] = installed->record.is_explicit;
      j["files"] = installed->layout.size();
      j["inputs"] = installed->record.meta.inputs;
    } else {
      j["name"] = name;
    }
    j["installed"] = installed.has_value();
    j["available"] = nlohmann::json::array();
    for (size_t i = 0; i < available.size(); ++i) {
      const auto& a = available[i];
      nlohmann::json e = moss::state::MetaToJson(a.package.meta);
      e["repository"] = a.repository;
      e["priority"] = a.priority;
      e["candidate"] = i == 0;
      e["download_size"] = a.package.stone_size;
      e["file_name"] = a.package.file_name;
      e["sha256"] = a.package.stone_digest.Hex();
      e["installed"] = installed && installed->record.stone_digest == a.package.stone_digest;
      e["depends"] = DepsJson(a.package.meta.depends);
      e["provides"] = DepsJson(a.package.meta.provides);
      e["inputs"] = a.package.meta.inputs;
      j["available"].push_back(std::move(e));
    }
    std::printf("%s\n", DumpJson(j, 2).c_str());
    return absl::OkStatus();
  }
  if (installed) PrintInstalled(*installed);
  if (available.empty()) {
    std::printf("\nAvailable:    in no enabled repository\n");
    return absl::OkStatus();
  }
  for (size_t i = 0; i < available.size(); ++i) {
    PrintAvailable(available[i], i == 0, installed, !installed && i == 0);
  }
  return absl::OkStatus();
}

}  // namespace

void AddInfoCommand(CLI::App& app, Context& ctx) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd =
      app.add_subcommand("info", "Show a package: installed, and what the repositories offer");
  DryRunSafe(ctx, cmd);
  cmd->add_option("name", *name, "Package name")->required();
  cmd->add_flag("--json", ctx.global.json, "Machine-readable output");
  cmd->callback([&ctx, name] { ctx.action = [&ctx, name] { return RunInfo(ctx.global, *name); }; });
}

}  // namespace onix::moss_cli

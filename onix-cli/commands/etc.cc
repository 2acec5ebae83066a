// `onix etc drift|diff|reset`: the admin's view of /etc against the factory defaults.
#include <cstdio>
#include <memory>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/transaction/root.h"
#include "nlohmann/json.hpp"
#include "onix-cli/commands.h"
#include "onix-cli/etc/etc_drift.h"
#include "onix-cli/etc/unified_diff.h"

namespace onix::cli {
namespace {

const char* KindWord(DriftKind kind) {
  return kind == DriftKind::kModified ? "modified" : "deleted";
}

absl::Status RunDrift(const GlobalOptions& g) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd root, fs::OpenDir(g.root));
  ONIX_ASSIGN_OR_RETURN(std::vector<EtcDrift> drift, ComputeEtcDrift(root.get()));
  if (g.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& d : drift)
      out.push_back({{"path", "/etc/" + d.path}, {"kind", KindWord(d.kind)}});
    std::printf("%s\n", out.dump(2).c_str());
    return absl::OkStatus();
  }
  for (const auto& d : drift) std::printf("%-9s /etc/%s\n", KindWord(d.kind), d.path.c_str());
  if (drift.empty()) std::printf("no local overrides of factory defaults\n");
  return absl::OkStatus();
}

// The factory default of `path` in the state the active one was built from, against the
// active one's: what an update changed upstream, whatever the local file says.
absl::Status RunUpstreamDiff(const GlobalOptions& g, const std::vector<std::string>& paths) {
  ONIX_ASSIGN_OR_RETURN(
      moss::transaction::MachineRoot machine,
      moss::transaction::MachineRoot::Open(g.root, moss::transaction::Access::kRead));
  ONIX_ASSIGN_OR_RETURN(std::optional<moss::db::StateRecord> active, machine.ActiveState());
  if (!active || active->parent_fstx.empty()) {
    return FailedPrecondition("the active state has no previous state to compare defaults with");
  }
  const std::string old_usr = machine.UsrDirOf(active->parent_fstx, /*active=*/false);
  const std::string new_usr = machine.UsrDirOf(active->fstx, /*active=*/true);
  if (paths.empty()) return InvalidArgument("--upstream needs the files to compare");
  for (std::string p : paths) {
    if (p.rfind("/etc/", 0) == 0) p = p.substr(5);
    ONIX_RETURN_IF_ERROR(fs::ValidateRelativePath(p));
    auto read = [&](const std::string& usr) -> absl::StatusOr<std::string> {
      ONIX_ASSIGN_OR_RETURN(UniqueFd dir, fs::OpenDir(usr));
      auto text = fs::ReadFileAt(dir.get(), StrCat("share/defaults/etc/", p));
      if (absl::IsNotFound(text.status())) return std::string();
      return text;
    };
    ONIX_ASSIGN_OR_RETURN(std::string before, read(old_usr));
    ONIX_ASSIGN_OR_RETURN(std::string after, read(new_usr));
    std::fputs(
        UnifiedDiff(before, after, StrCat(active->parent_fstx, ":/usr/share/defaults/etc/", p),
                    StrCat(active->fstx, ":/usr/share/defaults/etc/", p))
            .c_str(),
        stdout);
  }
  return absl::OkStatus();
}

absl::Status RunDiff(const GlobalOptions& g, const std::vector<std::string>& paths) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd root, fs::OpenDir(g.root));
  std::vector<std::string> targets = paths;
  if (targets.empty()) {
    ONIX_ASSIGN_OR_RETURN(std::vector<EtcDrift> drift, ComputeEtcDrift(root.get()));
    for (const auto& d : drift) targets.push_back(d.path);
  }
  for (std::string p : targets) {
    if (p.rfind("/etc/", 0) == 0) p = p.substr(5);
    ONIX_ASSIGN_OR_RETURN(std::string diff, EtcDiff(root.get(), p));
    std::fputs(diff.c_str(), stdout);
  }
  return absl::OkStatus();
}

absl::Status RunReset(const GlobalOptions& g, std::string path) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd root, fs::OpenDir(g.root));
  if (path.rfind("/etc/", 0) == 0) path = path.substr(5);
  ONIX_RETURN_IF_ERROR(ResetEtcFile(root.get(), path));
  std::printf("restored /etc/%s from /%s/%s\n", path.c_str(), std::string(kDefaultsEtc).c_str(),
              path.c_str());
  return absl::OkStatus();
}

}  // namespace

void AddEtcCommand(CLI::App& app, Context& ctx) {
  CLI::App* etc =
      app.add_subcommand("etc", "Compare /etc with the active state's factory defaults");
  etc->require_subcommand(1);
  etc->footer(
      "Examples:\n  onix etc drift\n  onix etc diff /etc/hostname\n  onix etc reset /etc/hostname");
  CLI::App* drift =
      etc->add_subcommand("drift", "List files that differ from their factory default");
  drift->callback([&ctx] { ctx.action = [&ctx] { return RunDrift(ctx.global); }; });
  // Option storage lives in the callbacks, which the App owns, so it outlives parsing.
  auto paths = std::make_shared<std::vector<std::string>>();
  auto upstream = std::make_shared<bool>(false);
  CLI::App* diff = etc->add_subcommand("diff", "Unified diff from the factory default to /etc");
  diff->add_option("path", *paths, "Files under /etc (default: every drifted file)");
  diff->add_flag("--upstream", *upstream,
                 "Show how the factory default changed from the previous state to the active one");
  diff->callback([&ctx, paths, upstream] {
    ctx.action = [&ctx, paths, upstream] {
      return *upstream ? RunUpstreamDiff(ctx.global, *paths) : RunDiff(ctx.global, *paths);
    };
  });
  auto reset_path = std::make_shared<std::string>();
  CLI::App* reset = etc->add_subcommand("reset", "Restore a file of /etc from its factory default");
  reset->add_option("path", *reset_path, "File under /etc")->required();
  reset->callback([&ctx, reset_path] {
    ctx.action = [&ctx, reset_path] { return RunReset(ctx.global, *reset_path); };
  });
}

}  // namespace onix::cli

// `onix history` and `onix diff A B`: the machine states moss recorded, read through the moss
// libraries (the same data `git --git-dir ROOT/.moss/history.git log` shows).
#include <cstdio>
#include <ctime>
#include <memory>
#include <set>

#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/transaction/queries.h"
#include "moss/transaction/root.h"
#include "nlohmann/json.hpp"
#include "onix-cli/commands.h"
#include "onix-cli/status/collect.h"

namespace onix::cli {
namespace {

using moss::transaction::Access;
using moss::transaction::MachineRoot;

std::string Date(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", &tm);
  return buf;
}

absl::Status RunHistory(const GlobalOptions& g) {
  ONIX_ASSIGN_OR_RETURN(MachineRoot machine, MachineRoot::Open(g.root, Access::kRead));
  ONIX_ASSIGN_OR_RETURN(std::vector<moss::transaction::RetainedState> states,
                        machine.RetainedStates());
  ONIX_ASSIGN_OR_RETURN(std::set<std::string> booted, FstxsWithBootEntries(g.root));
  if (g.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : states) {
      out.push_back({{"fstx", s.fstx},
                     {"created", Date(s.created_unix)},
                     {"summary", s.summary},
                     {"boot_entry", booted.count(s.fstx) > 0},
                     {"active", s.active},
                     {"parent", s.parent_fstx}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return absl::OkStatus();
  }
  std::printf("  %-12s %-16s %-5s %s\n", "FSTX", "DATE (UTC)", "BOOT", "SUMMARY");
  for (auto it = states.rbegin(); it != states.rend(); ++it) {
    std::printf("%s %-12s %-16s %-5s %s\n", it->active ? "*" : " ", it->fstx.c_str(),
                Date(it->created_unix).c_str(), booted.count(it->fstx) ? "yes" : "no",
                it->summary.c_str());
  }
  return absl::OkStatus();
}

struct DiffRequest {
  std::string a, b;
  bool files = false;
};

absl::Status RunDiff(const GlobalOptions& g, const DiffRequest& req) {
  ONIX_ASSIGN_OR_RETURN(MachineRoot machine, MachineRoot::Open(g.root, Access::kRead));
  ONIX_ASSIGN_OR_RETURN(moss::transaction::StateDiff diff,
                        moss::transaction::DiffStates(machine, req.a, req.b));
  if (g.json) {
    nlohmann::json packages = nlohmann::json::array();
    for (const auto& p : diff.packages)
      packages.push_back({{"name", p.name}, {"from", p.from}, {"to", p.to}});
    std::printf("%s\n", nlohmann::json({{"from", diff.from},
                                        {"to", diff.to},
                                        {"packages", packages},
                                        {"files_added", diff.files.added},
                                        {"files_removed", diff.files.removed},
                                        {"files_changed", diff.files.changed}})
                            .dump(2)
                            .c_str());
    return absl::OkStatus();
  }
  std::printf("%s -> %s\n", diff.from.c_str(), diff.to.c_str());
  for (const auto& p : diff.packages) {
    if (p.from.empty()) {
      std::printf("  + %s %s\n", p.name.c_str(), p.to.c_str());
    } else if (p.to.empty()) {
      std::printf("  - %s %s\n", p.name.c_str(), p.from.c_str());
    } else {
      std::printf("  ~ %s %s -> %s\n", p.name.c_str(), p.from.c_str(), p.to.c_str());
    }
  }
  std::printf("files: %zu added, %zu removed, %zu changed\n", diff.files.added.size(),
              diff.files.removed.size(), diff.files.changed.size());
  if (req.files) {
    for (const auto& f : diff.files.added) std::printf("  + /usr/%s\n", f.c_str());
    for (const auto& f : diff.files.removed) std::printf("  - /usr/%s\n", f.c_str());
    for (const auto& f : diff.files.changed) std::printf("  ~ /usr/%s\n", f.c_str());
  }
  return absl::OkStatus();
}

}  // namespace

void AddHistoryCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd =
      app.add_subcommand("history", "List the machine states (newest first; * = active)");
  cmd->footer("Examples:\n  onix history\n  onix history --json");
  cmd->callback([&ctx] { ctx.action = [&ctx] { return RunHistory(ctx.global); }; });
}

void AddDiffCommand(CLI::App& app, Context& ctx) {
  auto req = std::make_shared<DiffRequest>();
  CLI::App* cmd =
      app.add_subcommand("diff", "Packages and files that differ between two machine states");
  cmd->add_option("from", req->a, "State, as N or N-xxxx")->required();
  cmd->add_option("to", req->b, "State, as N or N-xxxx")->required();
  cmd->add_flag("--files", req->files, "List every added, removed and changed file");
  cmd->footer("Examples:\n  onix diff 1 2\n  onix diff 6648-03be 6649-a17c --files");
  cmd->callback([&ctx, req] { ctx.action = [&ctx, req] { return RunDiff(ctx.global, *req); }; });
}

}  // namespace onix::cli

// `moss repo add|list|remove|update|enable|disable`: the repositories of the root
// (ROOT/.moss/repos.d) and their cached indexes (ROOT/.moss/cache/repos).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "moss/base/json.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/cli/commands.h"
#include "moss/repo/config.h"
#include "moss/repo/repository.h"
#include "moss/repo/signature.h"
#include "nlohmann/json.hpp"

namespace onix::moss_cli {
namespace {

namespace repo = onix::moss::repo;

struct RepoRequest {
  std::string name;
  std::string uri;
  int priority = 0;
  std::string key;
  std::string ca_file;
  std::vector<std::string> names;
};

// file:// URIs are stored absolute so the config does not depend on the caller's cwd.
std::string NormaliseUri(std::string uri) {
  while (uri.size() > 8 && uri.back() == '/') uri.pop_back();
  return uri;
}

absl::Status RunAdd(const GlobalOptions& g, const RepoRequest& req) {
  repo::RepoConfig c;
  c.name = req.name;
  c.uri = NormaliseUri(req.uri);
  c.priority = req.priority;
  if (!req.key.empty()) {
    ONIX_ASSIGN_OR_RETURN(repo::PublicKey key, repo::ReadPublicKey(req.key));
    c.public_key = key.Hex();
  }
  if (!req.ca_file.empty()) {
    // Stored absolute and checked now, so a typo fails here rather than at the first download.
    std::error_code ec;
    const std::filesystem::path abs = std::filesystem::absolute(req.ca_file, ec);
    if (ec || !std::filesystem::is_regular_file(abs, ec)) {
      return InvalidArgument(StrCat("repo add --ca-file: '", req.ca_file, "' is not a file"));
    }
    c.ca_file = abs.string();
  }
  ONIX_RETURN_IF_ERROR(repo::AddRepo(g.root, c));
  std::printf("added repository %s (%s, priority %d%s); run `moss repo update %s`\n",
              c.name.c_str(), c.uri.c_str(), c.priority, c.public_key.empty() ? "" : ", signed",
              c.name.c_str());
  return absl::OkStatus();
}

absl::Status RunList(const GlobalOptions& g) {
  ONIX_ASSIGN_OR_RETURN(std::vector<repo::RepoConfig> repos, repo::ListRepos(g.root));
  if (g.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& c : repos) {
      j.push_back({{"name", c.name},
                   {"uri", c.uri},
                   {"priority", c.priority},
                   {"enabled", c.enabled},
                   {"public_key", c.public_key},
                   {"ca_file", c.ca_file}});
    }
    std::printf("%s\n", DumpJson(j, 2).c_str());
    return absl::OkStatus();
  }
  if (repos.empty()) std::printf("no repositories configured\n");
  for (const auto& c : repos) {
    std::printf("%-16s %-8s priority %-4d %s%s%s\n", c.name.c_str(),
                c.enabled ? "enabled" : "disabled", c.priority, c.uri.c_str(),
                c.public_key.empty() ? "" : " (signed)",
                c.ca_file.empty() ? "" : StrCat(" (ca ", c.ca_file, ")").c_str());
  }
  return absl::OkStatus();
}

absl::Status RunUpdate(const GlobalOptions& g, const RepoRequest& req) {
  ONIX_ASSIGN_OR_RETURN(std::vector<repo::RepoConfig> repos, repo::ListRepos(g.root));
  std::vector<repo::RepoConfig> chosen;
  if (req.names.empty()) {
    for (const auto& c : repos) {
      if (c.enabled) chosen.push_back(c);
    }
  } else {
    for (const auto& n : req.names) {
      ONIX_ASSIGN_OR_RETURN(repo::RepoConfig c, repo::GetRepo(g.root, n));
      chosen.push_back(c);
    }
  }
  repo::Progress progress = repo::Progress::ForStream(stdout);
  for (const auto& c : chosen) {
    ONIX_RETURN_IF_ERROR(repo::UpdateRepo(g.root, c, {}, &progress));
    std::printf("updated %s\n", c.name.c_str());
  }
  return absl::OkStatus();
}

absl::Status RunEnable(const GlobalOptions& g, const std::string& name, bool enabled) {
  ONIX_ASSIGN_OR_RETURN(repo::RepoConfig c, repo::GetRepo(g.root, name));
  c.enabled = enabled;
  ONIX_RETURN_IF_ERROR(repo::UpdateRepoConfig(g.root, c));
  std::printf("%s repository %s\n", enabled ? "enabled" : "disabled", name.c_str());
  return absl::OkStatus();
}

}  // namespace

void AddRepoCommand(CLI::App& app, Context& ctx) {
  auto req = std::make_shared<RepoRequest>();
  CLI::App* cmd = app.add_subcommand("repo", "Manage the repositories of the root");
  cmd->require_subcommand(1);

  CLI::App* add = cmd->add_subcommand("add", "Add a repository");
  add->add_option("name", req->name, "Repository name")->required();
  add->add_option("uri", req->uri, "file:///path, http://host/path or https://host/path")
      ->required();
  add->add_option("--priority", req->priority, "Higher wins over newer versions elsewhere");
  add->add_option("--key", req->key, "Public key file or hex: the index must be signed by it");
  add->add_option("--ca-file", req->ca_file,
                  "PEM CA bundle trusted for this https repository (besides the system's)");
  add->callback([&ctx, req] { ctx.action = [&ctx, req] { return RunAdd(ctx.global, *req); }; });

  CLI::App* list = cmd->add_subcommand("list", "List repositories");
  DryRunSafe(ctx, list);
  list->add_flag("--json", ctx.global.json, "Machine-readable output");
  list->callback([&ctx] { ctx.action = [&ctx] { return RunList(ctx.global); }; });

  CLI::App* remove = cmd->add_subcommand("remove", "Remove a repository and its cached index");
  remove->add_option("name", req->name, "Repository name")->required();
  remove->callback([&ctx, req] {
    ctx.action = [&ctx, req] {
      ONIX_RETURN_IF_ERROR(repo::RemoveRepo(ctx.global.root, req->name));
      std::printf("removed repository %s\n", req->name.c_str());
      return absl::OkStatus();
    };
  });

  CLI::App* update = cmd->add_subcommand("update", "Fetch and verify repository indexes");
  update->add_option("names", req->names, "Repositories (default: every enabled one)");
  update->callback(
      [&ctx, req] { ctx.action = [&ctx, req] { return RunUpdate(ctx.global, *req); }; });

  for (bool enabled : {true, false}) {
    CLI::App* sub = cmd->add_subcommand(enabled ? "enable" : "disable",
                                        enabled ? "Enable a repository" : "Disable a repository");
    sub->add_option("name", req->name, "Repository name")->required();
    sub->callback([&ctx, req, enabled] {
      ctx.action = [&ctx, req, enabled] { return RunEnable(ctx.global, req->name, enabled); };
    });
  }
}

}  // namespace onix::moss_cli

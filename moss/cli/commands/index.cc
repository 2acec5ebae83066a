// `moss index DIR [--sign KEY]`: makes DIR a repository (stone.index, SHA256SUMS and, with a
// secret key from `moss keygen`, the detached signature stone.index.sig).
#include "moss/repo/index.h"

#include <cstdio>
#include <memory>
#include <string>

#include "moss/base/status.h"
#include "moss/cli/commands.h"
#include "moss/repo/signature.h"

namespace onix::moss_cli {
namespace {

struct IndexRequest {
  std::string dir;
  std::string sign_key;
};

absl::Status RunIndex(const IndexRequest& req) {
  moss::repo::IndexOptions options;
  moss::repo::SecretKey key;
  if (!req.sign_key.empty()) {
    ONIX_ASSIGN_OR_RETURN(key, moss::repo::ReadSecretKeyFile(req.sign_key));
    options.sign_key = &key;
  }
  ONIX_ASSIGN_OR_RETURN(moss::repo::IndexSummary summary, moss::repo::BuildIndex(req.dir, options));
  std::printf("indexed %zu packages into %s/%s (sha256 %s)%s\n", summary.packages, req.dir.c_str(),
              moss::repo::kIndexFile, summary.index_digest.Hex().c_str(),
              options.sign_key ? ", signed" : "");
  return absl::OkStatus();
}

}  // namespace

void AddIndexCommand(CLI::App& app, Context& ctx) {
  auto req = std::make_shared<IndexRequest>();
  CLI::App* cmd = app.add_subcommand("index", "Build a repository index from the stones in DIR");
  cmd->add_option("dir", req->dir, "Directory of .stone files")->required();
  cmd->add_option("--sign", req->sign_key, "Secret key file (moss keygen) to sign the index");
  cmd->callback([&ctx, req] { ctx.action = [req] { return RunIndex(*req); }; });
}

}  // namespace onix::moss_cli

// `moss keygen PREFIX`: a new Ed25519 key pair for signing repository indexes, written to
// PREFIX.key (secret, mode 0600) and PREFIX.pub; existing files are never overwritten.
#include <cstdio>
#include <memory>
#include <string>

#include "moss/base/status.h"
#include "moss/cli/commands.h"
#include "moss/repo/signature.h"

namespace onix::moss_cli {
namespace {

absl::Status RunKeygen(const std::string& prefix) {
  ONIX_ASSIGN_OR_RETURN(moss::repo::SecretKey key, moss::repo::GenerateKey());
  ONIX_RETURN_IF_ERROR(moss::repo::WriteSecretKeyFile(key, prefix + ".key"));
  ONIX_RETURN_IF_ERROR(moss::repo::WritePublicKeyFile(key.public_key, prefix + ".pub"));
  std::printf("secret key: %s.key\npublic key: %s.pub\n%s\n", prefix.c_str(), prefix.c_str(),
              key.public_key.Hex().c_str());
  return absl::OkStatus();
}

}  // namespace

void AddKeygenCommand(CLI::App& app, Context& ctx) {
  auto prefix = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("keygen", "Generate an Ed25519 key pair for signing indexes");
  cmd->add_option("prefix", *prefix, "Writes PREFIX.key and PREFIX.pub")->required();
  cmd->callback([&ctx, prefix] { ctx.action = [prefix] { return RunKeygen(*prefix); }; });
}

}  // namespace onix::moss_cli

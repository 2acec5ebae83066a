#include "moss/cli/tx_options.h"

#include "moss/bootsync/bootsync.h"
#include "moss/repo/driver.h"
#include "moss/transaction/report.h"

namespace onix::moss_cli {

moss::transaction::Options TransactionOptions(const GlobalOptions& global) {
  moss::transaction::Options options =
      moss::transaction::CommandOptions(global.dry_run, global.json);
  options.boot_hook = moss::bootsync::MakeBootHook();
  return options;
}

absl::Status RunSolverRequest(const GlobalOptions& global, const moss::solver::Request& request) {
  moss::repo::ByNameOptions options;
  options.dry_run = global.dry_run;
  options.apply = TransactionOptions(global);
  options.apply.dry_run = false;  // RunByName takes dry_run from `options`
  return moss::repo::RunByName(global.root, request, options);
}

}  // namespace onix::moss_cli

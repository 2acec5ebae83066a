#include "moss/cli/tx_options.h"

#include "moss/bootsync/bootsync.h"
#include "moss/transaction/report.h"

namespace onix::moss_cli {

moss::transaction::Options TransactionOptions(const GlobalOptions& global) {
  moss::transaction::Options options =
      moss::transaction::CommandOptions(global.dry_run, global.json);
  options.boot_hook = moss::bootsync::MakeBootHook();
  return options;
}

}  // namespace onix::moss_cli

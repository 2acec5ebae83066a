// `onix doctor`: the composition checks that can run on a live machine, each pass or fail with
// a one-line detail: store and trees, transaction journal, boot entries vs states, graphics
// bridge, Nix daemon handshake, /etc/nix drift.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "onix-cli/status/collect.h"

namespace onix::cli {

struct Check {
  std::string name;
  bool pass = false;
  std::string detail;
};

// Runs every check; a check that cannot run at all fails with the reason as its detail.
// Read-only.
std::vector<Check> RunDoctor(const StatusOptions& options);

std::string FormatChecks(const std::vector<Check>& checks);

}  // namespace onix::cli

#include "onix-cli/machine/gc.h"

#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <set>
#include <sstream>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/bootsync/bootsync.h"
#include "moss/transaction/journal.h"
#include "moss/transaction/maintenance.h"
#include "moss/transaction/root.h"
#include "onix-cli/status/collect.h"

namespace onix::cli {
namespace {

using moss::transaction::Access;
using moss::transaction::MachineRoot;

// Runs argv and returns its combined output's last non-empty line; an error naming the
// command and its exit status when it fails.
absl::StatusOr<std::string> RunNix(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const auto& a : argv) cmd += StrCat(cmd.empty() ? "" : " ", "'", a, "'");
  FILE* p = ::popen(StrCat("env -u NIX_REMOTE ", cmd, " 2>&1").c_str(), "r");
  if (p == nullptr) return Internal(StrCat("starting ", cmd));
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = ::pclose(p);
  // Nix ends with its summary ("N store paths deleted, X MiB freed"): keep the last line.
  std::string last;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.find_first_not_of(' ') != std::string::npos) last = line;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Internal(StrCat("'", cmd, "' failed: ", last.empty() ? "no output" : last));
  }
  return last;
}

}  // namespace

absl::StatusOr<GcResult> Gc(const GcRequest& req) {
  if (req.keep < 1) return InvalidArgument("--keep must be at least 1");
  GcResult result;
  {
    ONIX_ASSIGN_OR_RETURN(
        MachineRoot machine,
        MachineRoot::Open(req.root, req.dry_run ? Access::kRead : Access::kWrite));
    ONIX_ASSIGN_OR_RETURN(std::optional<moss::transaction::JournalRecord> journal,
                          moss::transaction::ReadJournal(machine.moss_fd()));
    if (journal) {
      return FailedPrecondition(StrCat("a moss ", journal->operation, " to ", journal->to_fstx,
                                       " is in flight (", journal->phase,
                                       "); run `moss state recover` first"));
    }
    ONIX_ASSIGN_OR_RETURN(std::vector<moss::transaction::RetainedState> states,
                          machine.RetainedStates());
    ONIX_ASSIGN_OR_RETURN(std::optional<boot::BootEntry> default_entry, DefaultBootEntry(req.root));
    std::set<std::string> keep;
    for (const auto& s : states) {
      if (s.active) keep.insert(s.fstx);
    }
    if (default_entry) keep.insert(default_entry->name.fstx);
    std::vector<moss::transaction::RetainedState> newest = states;
    std::sort(newest.begin(), newest.end(),
              [](const auto& a, const auto& b) { return a.number > b.number; });
    for (const auto& s : newest) {
      if (keep.size() >= req.keep) break;
      keep.insert(s.fstx);
    }
    std::vector<std::string> remove;
    for (const auto& s : states) {
      (keep.count(s.fstx) ? result.kept_states : remove).push_back(s.fstx);
    }
    if (!remove.empty()) {
      ONIX_ASSIGN_OR_RETURN(moss::transaction::RemoveResult removed,
                            moss::transaction::RemoveStates(machine, remove, req.dry_run,
                                                            moss::bootsync::MakeBootHook()));
      result.removed_states = removed.removed;
      result.machine_bytes_freed = removed.gc.bytes_freed;
      if (!req.dry_run) ONIX_RETURN_IF_ERROR(moss::bootsync::SyncBoot(machine));
    }
  }
  if (req.skip_nix) {
    result.nix_summary = "skipped (--machine-only)";
    return result;
  }
  // A root without a Nix plane has nothing to collect; running nix there would create one
  // (R/nix/var/nix/...), and another plane's files are never this command's to make.
  ONIX_ASSIGN_OR_RETURN(UniqueFd root_fd, fs::OpenDir(req.root.empty() ? "/" : req.root));
  ONIX_ASSIGN_OR_RETURN(bool has_store, fs::ExistsAt(root_fd.get(), "nix/store"));
  if (!has_store) {
    result.nix_summary = "no Nix store on this root (no /nix/store): nothing to collect";
    return result;
  }
  if (req.dry_run) {
    result.nix_summary = "would run `nix store gc`";
    return result;
  }
  std::vector<std::string> argv = {req.nix_command, "--extra-experimental-features", "nix-command",
                                   "store", "gc"};
  if (!req.root.empty() && req.root != "/") {
    argv.push_back("--store");
    argv.push_back(StrCat("local?root=", req.root));
  }
  ONIX_ASSIGN_OR_RETURN(result.nix_summary, RunNix(argv));
  result.nix_ran = true;
  return result;
}

}  // namespace onix::cli

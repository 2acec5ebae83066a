#include "moss/transaction/report.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "moss/base/fs_at.h"
#include "moss/base/str_cat.h"

namespace onix::moss::transaction {

std::string FormatPlan(const Plan& plan) {
  std::string out;
  for (const auto& c : plan.packages) {
    if (c.from.empty()) {
      out += StrCat("  + ", c.name, " ", c.to, "\n");
    } else if (c.to.empty()) {
      out += StrCat("  - ", c.name, " ", c.from, "\n");
    } else {
      out += StrCat("  ~ ", c.name, " ", c.from, " -> ", c.to, "\n");
    }
  }
  out += StrCat("  files: ", plan.files.added.size(), " added, ", plan.files.removed.size(),
                " removed, ", plan.files.changed.size(), " changed\n");
  return out;
}

nlohmann::json PlanJson(const Plan& plan) {
  nlohmann::json j;
  j["from"] = plan.from_fstx;
  j["to"] = plan.to_fstx;
  j["message"] = plan.message;
  j["noop"] = plan.noop;
  j["packages"] = nlohmann::json::array();
  for (const auto& c : plan.packages) {
    j["packages"].push_back({{"name", c.name}, {"from", c.from}, {"to", c.to}});
  }
  j["files"] = {{"added", plan.files.added},
                {"removed", plan.files.removed},
                {"changed", plan.files.changed}};
  return j;
}

nlohmann::json ResultJson(const Result& result) {
  nlohmann::json j = PlanJson(result.plan);
  j["warnings"] = result.warnings;
  return j;
}

nlohmann::json StateJson(const RetainedState& s) {
  return {{"number", s.number},   {"fstx", s.fstx},
          {"active", s.active},   {"created_unix", s.created_unix},
          {"summary", s.summary}, {"parent", s.parent_fstx},
          {"usr_dir", s.usr_dir}};
}

nlohmann::json RemoveJson(const RemoveResult& r) {
  return {{"removed", r.removed},
          {"objects_removed", r.gc.objects_removed},
          {"bytes_freed", r.gc.bytes_freed},
          {"stones_removed", r.gc.stones_removed},
          {"warnings", r.warnings}};
}

nlohmann::json VerifyJson(const VerifyReport& r) {
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& p : r.problems) {
    problems.push_back({{"where", p.where}, {"path", p.path}, {"problem", p.problem}});
  }
  return {{"objects_checked", r.objects_checked},
          {"states_checked", r.states_checked},
          {"problems", problems},
          {"repaired", r.repaired},
          {"clean", r.clean_after}};
}

std::string FormatTime(int64_t unix_seconds) {
  const time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

bool Confirm(bool yes, std::string_view question) {
  if (yes || !::isatty(0)) return true;
  std::fprintf(stderr, "%.*s [y/N] ", static_cast<int>(question.size()), question.data());
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "y" || answer == "Y" || answer == "yes";
}

absl::StatusOr<MachineRoot> OpenForCommand(const std::string& root, bool mutating, bool dry_run) {
  if (!mutating || dry_run) {
    absl::StatusOr<MachineRoot> r = MachineRoot::Open(root, Access::kRead);
    // A query cannot reconcile (that needs the lock, and the boot hook only changes have), so
    // it says when it may be looking at a root in the middle of a transaction.
    if (r.ok() && fs::ExistsAt(r->moss_fd(), "journal").value_or(false)) {
      std::fprintf(stderr,
                   "moss: note: a transaction on %s is in flight or was interrupted; this shows "
                   "its last committed state (`moss state recover` finishes an interrupted "
                   "one)\n",
                   root.c_str());
    }
    if (!mutating || !absl::IsNotFound(r.status())) return r;
  }
  return MachineRoot::Open(root, Access::kWrite, LockWait::kWait);
}

Options CommandOptions(bool dry_run, bool json) {
  Options o;
  o.dry_run = dry_run;
  if (!json) {
    o.log = [](std::string_view line) {
      std::fprintf(stderr, "moss: %.*s\n", static_cast<int>(line.size()), line.data());
    };
  }
  return o;
}

}  // namespace onix::moss::transaction

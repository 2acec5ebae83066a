#include "moss/repo/report.h"

#include <cstdio>

#include "moss/base/str_cat.h"

namespace onix::moss::repo {
namespace {

std::string Vr(const solver::StoneRef& r) {
  return StrCat(r.version, "-", r.source_release, "-", r.build_release);
}

}  // namespace

std::string HumanSize(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int i = 0;
  while (v >= 1024 && i < 4) {
    v /= 1024;
    ++i;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), i == 0 ? "%.0f %s" : "%.1f %s", v, units[i]);
  return buf;
}

std::string FormatPlan(const solver::Plan& plan) {
  if (plan.empty()) return "nothing to do\n";
  std::string out;
  if (!plan.installs.empty()) {
    out += "install:\n";
    for (const auto& r : plan.installs) {
      out += StrCat("  ", r.name, " ", Vr(r), " (", r.repository, ", ", HumanSize(r.stone_size),
                    r.is_explicit ? "" : ", dependency", ")\n");
    }
  }
  for (const auto& [title, changes] :
       {std::pair{"upgrade:\n", &plan.upgrades}, std::pair{"downgrade:\n", &plan.downgrades}}) {
    if (changes->empty()) continue;
    out += title;
    for (const auto& c : *changes) {
      out += StrCat("  ", c.to.name, " ", Vr(c.from), " -> ", Vr(c.to), " (", c.to.repository, ", ",
                    HumanSize(c.to.stone_size), ")\n");
    }
  }
  if (!plan.promoted.empty()) {
    out += "mark explicit:\n";
    for (const auto& r : plan.promoted) out += StrCat("  ", r.name, " ", Vr(r), "\n");
  }
  if (!plan.removals.empty()) {
    out += "remove:\n";
    for (const auto& r : plan.removals) out += StrCat("  ", r.name, " ", Vr(r), "\n");
  }
  out += StrCat("download size: ", HumanSize(plan.download_size), " (", plan.to_fetch.size(),
                plan.to_fetch.size() == 1 ? " stone)\n" : " stones)\n");
  return out;
}

std::string FormatProblems(const solver::Plan& plan) {
  std::string out = "cannot satisfy the request:\n";
  for (const auto& p : plan.problems) {
    out += StrCat("  - ", p.description, "\n");
    for (const auto& s : p.solutions) out += StrCat("      solution: ", s, "\n");
  }
  return out;
}

}  // namespace onix::moss::repo

#include "onix-cli/status/report.h"

#include "moss/base/str_cat.h"

namespace onix::cli {
namespace {

// Labels are padded so values line up one column after the longest label ("active fstx:").
std::string Line(std::string_view label, std::string_view value) {
  std::string l = StrCat(label, ":");
  l.resize(13, ' ');
  return StrCat(l, value, "\n");
}

}  // namespace

std::string DriftWords(int overrides) {
  if (overrides == 0) return "none";
  if (overrides == 1) return "1 local override";
  return StrCat(overrides, " local overrides");
}

std::string FormatStatusText(const MachineStatus& s) {
  std::string out = Line("active fstx", s.active_fstx);
  out += Line("boot entry", s.boot_entry);
  for (const auto& w : s.warnings) out += Line("warning", w);
  out += Line("nix daemon", s.nix_daemon);
  out += Line("etc drift", DriftWords(s.etc_overrides));
  out += Line("opengl", s.opengl);
  return out;
}

nlohmann::json StatusJson(const MachineStatus& s) {
  return {{"active_fstx", s.active_fstx}, {"boot_entry", s.boot_entry},   {"warnings", s.warnings},
          {"nix_daemon", s.nix_daemon},   {"etc_drift", s.etc_overrides}, {"opengl", s.opengl}};
}

}  // namespace onix::cli

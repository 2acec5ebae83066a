// The values `onix status` shows and their exact text and JSON shapes. Every value is
// computed by the collectors in collect.h; this file only renders them.
#pragma once

#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace onix::cli {

struct MachineStatus {
  std::string active_fstx;            // "6649-a17c"; "none" when the root has no state yet
  std::string boot_entry;             // "onix-6649-a17c.conf"; "missing" when there is none
  std::vector<std::string> warnings;  // shown right after the boot entry line
  std::string nix_daemon;             // healthy | not running | socket missing | ...
  int etc_overrides = 0;              // files of /etc (and /etc/nix) differing from defaults
  std::string opengl;  // coherent | stale (points to fstx X) | missing | broken: N links
};

// Exactly:
//   active fstx: 6649-a17c
//   boot entry:  onix-6649-a17c.conf
//   warning:     <each warning>
//   nix daemon:  healthy
//   etc drift:   2 local overrides
//   opengl:      coherent
std::string FormatStatusText(const MachineStatus& status);

// "none", "1 local override", "N local overrides".
std::string DriftWords(int overrides);

nlohmann::json StatusJson(const MachineStatus& status);

}  // namespace onix::cli

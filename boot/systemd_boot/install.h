// systemd-boot on an ESP: installing it with the real bootctl (or by copying the EFI binary
// when bootctl is absent) and running bootctl against ESP/XBOOTLDR directories.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace onix::boot {

struct InstallOptions {
  std::string esp_dir;       // must exist
  std::string xbootldr_dir;  // empty when the ESP holds the entries
  // false forces the copy fallback even where bootctl exists.
  bool use_bootctl = true;
  // Where systemd-bootx64.efi comes from for the copy fallback (Debian's systemd-boot-efi).
  std::string efi_source_dir = "/usr/lib/systemd/boot/efi";
};

struct InstallResult {
  bool used_bootctl = false;
  std::string log;  // bootctl's output, or what was copied
};

// True when a `bootctl` is on $PATH.
bool BootctlAvailable();

// Runs `bootctl --esp-path=ESP [--boot-path=XBOOTLDR] --no-variables ARGS...` and returns its
// combined output. When the ESP is not a mounted vfat (a plain directory: image builds, tests)
// it runs inside `unshare -m` with the directories bind-mounted onto themselves and
// SYSTEMD_RELAX_ESP_CHECKS=1, the only way bootctl accepts a plain directory (see
// docs/boot.md). Never touches EFI variables. Error when bootctl exits non-zero, with output.
absl::StatusOr<std::string> RunBootctl(const std::string& esp_dir, const std::string& xbootldr_dir,
                                       const std::vector<std::string>& args);

// Installs systemd-boot into the ESP and writes loader.conf ("default onix-*", see
// boot/bls/sync.h). With bootctl: `bootctl install` (EFI/systemd, EFI/BOOT/BOOTX64.EFI,
// loader/); the random-seed it writes into a plain directory is removed, since an image must
// not ship one. Without: copies systemd-bootx64.efi to EFI/BOOT/BOOTX64.EFI and
// EFI/systemd/systemd-bootx64.efi, each atomically. Re-running is safe (it updates).
// A crash leaves each file old or new; the loader works once BOOTX64.EFI is complete.
absl::StatusOr<InstallResult> InstallSystemdBoot(const InstallOptions& options);

}  // namespace onix::boot

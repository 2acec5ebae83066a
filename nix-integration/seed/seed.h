// Seeding the Nix plane into a machine root: nixbld users, /etc/nix from declared defaults,
// shell hooks, units, tmpfiles/sysusers entries, runtime dirs under /nix, and a receipt.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace onix::nixplane {

// One file seeding installs: copied from `source` (in the active /usr, shipped by the
// onix-nix-integration stone) to `target`. Both are relative to the root. `data_name` is the
// file's name in nix-integration/data/ of the source tree.
struct ManagedFile {
  std::string data_name;
  std::string source;
  std::string target;
  mode_t mode;
};

// The fixed table of seeded files. The declared /etc/nix defaults live in
// usr/share/defaults/nix/; everything else in usr/share/onix/nix-integration/.
const std::vector<ManagedFile>& ManagedFiles();

// Files the stone ships straight into /usr that seeding does not copy: the boot-time unit, the
// busybox-init rc.d step and the moss system trigger that run `onix-nix-integration sync --root /`.
const std::vector<ManagedFile>& StoneOnlyFiles();

// Where the receipt of a seeding lives, relative to the root.
inline constexpr char kReceiptPath[] = "var/lib/onix/nix-integration/receipt.json";

// A seeded file that differs from its declared default (a local override), or is missing.
struct DriftEntry {
  enum class Kind { kModified, kMissing };
  std::string path;  // absolute inside the root, e.g. "/etc/nix/nix.conf"
  Kind kind;
  std::string ToString() const;  // "/etc/nix/nix.conf: modified" or "...: missing"
};

struct SeedReport {
  std::vector<std::string> changed;  // paths written, users/groups added (empty on a re-seed)
  std::vector<DriftEntry> drift;     // local overrides kept as they are
};

// Seeds `root` (a directory; "/" for the running machine). Pre-conditions: the stone's data
// is installed under root/usr (NotFound naming the file otherwise); the caller may write
// root/etc, root/var/lib and root/nix. On disk afterwards: the nixbld users and group (see
// users.h; refused with FailedPrecondition before any write when their ids are taken), every
// ManagedFile at its target unless the admin changed it (then it is kept and reported as
// drift), the unit enable link etc/systemd/system/sockets.target.wants/nix-daemon.socket,
// root/nix/var/nix/{profiles/per-user,gcroots/per-user,daemon-socket} with mode 0755 (created
// if missing, never emptied; modes corrected), and the receipt at kReceiptPath naming what
// this and earlier seedings created. A file is rewritten only when its bytes change, so a
// second Seed() writes nothing. Each write is atomic; a crash leaves every file old or new
// and at worst a created file not yet in the receipt (the next Seed() takes it over only if
// its bytes equal the declared default, as it does for any pre-existing identical file).
absl::StatusOr<SeedReport> Seed(const std::string& root);

// The seeded files under `root` that differ from their declared defaults in root/usr.
// Read-only. NotFound when a declared default is missing from root/usr.
absl::StatusOr<std::vector<DriftEntry>> EtcNixDrift(const std::string& root);

struct UnseedReport {
  std::vector<std::string> removed;
  std::vector<std::string> kept;  // created by seeding but changed since: left in place
};

// Removes what the receipt says seeding created: users and group it added, files whose bytes
// are still what it wrote (changed ones are kept and listed), the enable link, directories it
// created once they are empty, and the receipt. root/nix is never touched. NotFound when
// there is no receipt. A crash part-way leaves the receipt, so unseed can be run again.
absl::StatusOr<UnseedReport> Unseed(const std::string& root);

// Installs the stone's data files from `data_dir` (a checkout's nix-integration/data) into
// root/usr at each ManagedFile's and StoneOnlyFile's source path, as the stone's file list does.
// For tests and for images built without the stone; never run on a live root (it writes /usr).
absl::Status InstallShippedData(const std::string& root, const std::string& data_dir);

}  // namespace onix::nixplane

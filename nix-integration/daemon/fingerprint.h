// A fingerprint of the Nix plane under a /nix directory, taken before and after a machine
// rollback so `onix rollback` can verify "/nix: untouched", and the Nix DB schema version.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace onix::nixplane {

struct PlaneFingerprint {
  bool present = false;                              // the nix root exists
  std::vector<std::string> store_paths;              // names under store/, sorted
  std::map<std::string, std::string> profile_links;  // var/nix/profiles/** symlink -> target
  std::map<std::string, std::string> gcroots;        // var/nix/gcroots/** symlink -> target
  std::string db_digest;  // sha256 of the DB's registered paths and references ("" if no DB)
  int db_schema = 0;      // var/nix/db/schema (0 if absent)
};

// Reads the fingerprint of the plane rooted at `nix_root` ("/nix", or ROOT/nix). Read-only
// towards Nix's data: the DB is read through SQLite read-only (SQLite may create its -shm/-wal
// side files next to a WAL database, as every Nix client does). The DB digest covers the rows
// of ValidPaths (path, hash, registrationTime, narSize) and Refs, so a checkpoint of the
// write-ahead log does not change it. A missing `nix_root` gives present = false, not an error.
absl::StatusOr<PlaneFingerprint> Fingerprint(const std::string& nix_root);

// Lines naming every difference from `before` to `after` ("store path added: <name>",
// "profile link changed: default -> A (was B)", "db contents changed", ...). Empty means
// the plane is untouched.
std::vector<std::string> Diff(const PlaneFingerprint& before, const PlaneFingerprint& after);

// The Nix store DB schema version recorded in nix_root/var/nix/db/schema (10 for all of Nix
// 2.x so far). NotFound when the plane has no DB yet. `onix rollback` refuses to bring back a
// Nix that supports an older schema than this.
absl::StatusOr<int> DbSchemaVersion(const std::string& nix_root);

// The highest DB schema a Nix release supports, from its version string ("2.8.0" -> 10);
// InvalidArgument for a version it cannot parse.
absl::StatusOr<int> SchemaOfNixVersion(const std::string& nix_version);

}  // namespace onix::nixplane

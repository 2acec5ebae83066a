#include "onix-cli/machine/rollback.h"

#include <cstdio>
#include <optional>
#include <utility>

#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/bootsync/bootsync.h"
#include "moss/transaction/root.h"
#include "moss/transaction/transaction.h"
#include "nix-integration/daemon/fingerprint.h"
#include "nix-integration/opengl_bridge/bridge.h"
#include "onix-cli/machine/plane.h"
#include "onix-cli/machine/update.h"
#include "onix-cli/status/collect.h"

namespace onix::cli {
namespace {

using moss::transaction::Access;
using moss::transaction::MachineRoot;

absl::StatusOr<moss::db::StateRecord> PickTarget(MachineRoot& machine, const std::string& target) {
  ONIX_ASSIGN_OR_RETURN(std::optional<moss::db::StateRecord> active, machine.ActiveState());
  if (!active) return FailedPrecondition("the root has no machine state yet: nothing to roll back");
  if (!target.empty()) {
    ONIX_ASSIGN_OR_RETURN(moss::db::StateRecord state, machine.ResolveState(target));
    if (state.fstx == active->fstx) {
      return FailedPrecondition(StrCat("state ", state.fstx, " is already the active one"));
    }
    return state;
  }
  ONIX_ASSIGN_OR_RETURN(std::vector<moss::transaction::RetainedState> states,
                        machine.RetainedStates());
  const moss::transaction::RetainedState* best = nullptr;
  for (const auto& s : states) {
    if (s.number < active->number && (best == nullptr || s.number > best->number)) best = &s;
  }
  if (best == nullptr) {
    return FailedPrecondition(StrCat("no retained state older than the active ", active->fstx,
                                     " to roll back to (see `onix history`)"));
  }
  return machine.ResolveState(best->fstx);
}

// Major and minor of a Nix version ("2.8.0" -> {2, 8}); nullopt when it does not parse. Patch
// releases keep Nix's on-disk formats, minor releases have changed them (profile manifest v1
// -> v2 in 2.4, newer versions since), so minor is the unit we compare.
std::optional<std::pair<int, int>> NixRelease(const std::string& version) {
  int major = 0, minor = 0;
  if (std::sscanf(version.c_str(), "%d.%d", &major, &minor) != 2 || major <= 0) {
    return std::nullopt;
  }
  return std::pair<int, int>(major, minor);
}

// The Nix that last wrote /nix is the active state's: it is the one whose daemon and clients
// ran against the plane. A target whose Nix reads an older store DB schema than
// var/nix/db/schema, or is an older Nix release than the active one, is refused.
absl::Status CheckNixNotOlder(MachineRoot& machine, const moss::db::StateRecord& target,
                              const std::string& nix_root) {
  auto db_schema = nixplane::DbSchemaVersion(nix_root);
  if (absl::IsNotFound(db_schema.status())) return absl::OkStatus();  // no Nix data yet
  ONIX_RETURN_IF_ERROR_CTX(db_schema.status(), "checking the Nix store DB schema");
  ONIX_ASSIGN_OR_RETURN(moss::state::Manifest manifest, machine.ManifestOf(target));
  const moss::state::PackageRecord* nix = manifest.Find("nix");
  if (nix == nullptr) return absl::OkStatus();  // the target has no Nix to misread the store
  const std::string& version = nix->meta.version;
  const int schema = NixSchemaOfState(version);
  if (schema < *db_schema) {
    return FailedPrecondition(StrCat(
        "state ", target.fstx, " carries Nix ", version, ", which reads store DB schema ", schema,
        ", but ", nix_root, " was last written with schema ", *db_schema,
        "; rolling back would leave the Nix plane unreadable (pass --force to roll back anyway)"));
  }
  ONIX_ASSIGN_OR_RETURN(std::optional<moss::db::StateRecord> active, machine.ActiveState());
  if (!active) return absl::OkStatus();
  ONIX_ASSIGN_OR_RETURN(moss::state::Manifest active_manifest, machine.ManifestOf(*active));
  const moss::state::PackageRecord* running = active_manifest.Find("nix");
  if (running == nullptr) return absl::OkStatus();
  const auto from = NixRelease(running->meta.version);
  const auto to = NixRelease(version);
  if (from && to && *to < *from) {
    return FailedPrecondition(StrCat(
        "state ", target.fstx, " carries Nix ", version, ", older than Nix ", running->meta.version,
        " of the active state ", active->fstx, ", which last wrote ", nix_root,
        " (store DB schema ", *db_schema,
        "); an older Nix may not read the profiles and DB a newer one wrote (pass --force to roll "
        "back anyway)"));
  }
  return absl::OkStatus();
}

}  // namespace

int NixSchemaOfState(const std::string& nix_version) {
  auto schema = nixplane::SchemaOfNixVersion(nix_version);
  return schema.ok() ? *schema : 0;
}

absl::StatusOr<RollbackResult> Rollback(const RollbackRequest& req) {
  const std::string nix_root = NixRootOf(req.root);
  ONIX_ASSIGN_OR_RETURN(nixplane::PlaneFingerprint before, nixplane::Fingerprint(nix_root));

  ONIX_ASSIGN_OR_RETURN(MachineRoot machine,
                        MachineRoot::Open(req.root, req.dry_run ? Access::kRead : Access::kWrite));
  ONIX_ASSIGN_OR_RETURN(moss::db::StateRecord target, PickTarget(machine, req.target));
  if (!req.force) ONIX_RETURN_IF_ERROR(CheckNixNotOlder(machine, target, nix_root));

  RollbackResult result;
  ONIX_ASSIGN_OR_RETURN(std::optional<std::string> active, machine.ActiveFstx());
  result.from_fstx = active.value_or("none");
  result.to_fstx = target.fstx;
  if (req.dry_run) return result;

  moss::transaction::Options options;
  options.boot_hook = moss::bootsync::MakeBootHook();
  ONIX_ASSIGN_OR_RETURN(moss::transaction::Result moved,
                        moss::transaction::Activate(machine, target.fstx, options));
  result.warnings = moved.warnings;
  result.etc = moved.etc;

  ONIX_RETURN_IF_ERROR(FinishMachineMove(req.root, req.run_dir, target.fstx, before,
                                         result.warnings, result.nix_changes));
  return result;
}

std::string FormatRollback(const RollbackResult& r) {
  std::string out = StrCat("machine:     ", r.from_fstx, " -> ", r.to_fstx, "\n");
  out += FormatEtcChanges(r.etc);
  for (const auto& w : r.warnings) out += StrCat("warning:     ", w, "\n");
  return out + FormatPlaneLines(r.nix_changes);
}

}  // namespace onix::cli

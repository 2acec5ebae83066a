#include "moss/transaction/queries.h"

#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::moss::transaction {

absl::StatusOr<std::vector<state::PackageRecord>> InstalledPackages(MachineRoot& root) {
  ONIX_ASSIGN_OR_RETURN(std::optional<db::StateRecord> active, root.ActiveState());
  if (!active) return std::vector<state::PackageRecord>();
  ONIX_ASSIGN_OR_RETURN(state::Manifest m, root.ManifestOf(*active));
  return m.packages;
}

absl::StatusOr<PackageInfo> InstalledPackage(MachineRoot& root, std::string_view name) {
  ONIX_ASSIGN_OR_RETURN(std::vector<state::PackageRecord> pkgs, InstalledPackages(root));
  for (auto& p : pkgs) {
    if (p.meta.name != name) continue;
    ONIX_ASSIGN_OR_RETURN(db::LayoutPtr layout, root.db().Layout(p.stone_digest));
    return PackageInfo{std::move(p), *layout};
  }
  return NotFound(StrCat("package ", name, " is not installed"));
}

absl::StatusOr<std::vector<db::PathOwner>> SearchFile(MachineRoot& root, std::string_view path) {
  std::string_view rel = path;
  if (rel.substr(0, 5) == "/usr/") {
    rel.remove_prefix(5);
  } else if (rel.substr(0, 4) == "usr/") {
    rel.remove_prefix(4);
  } else if (!rel.empty() && rel[0] == '/') {
    return NotFound(StrCat(path, " is outside /usr; moss only owns /usr"));
  }
  ONIX_ASSIGN_OR_RETURN(std::optional<db::StateRecord> active, root.ActiveState());
  if (!active) return NotFound(StrCat("no package ships ", path, " (nothing is installed)"));
  ONIX_ASSIGN_OR_RETURN(std::vector<db::PathOwner> owners, root.db().FindPath(active->number, rel));
  if (owners.empty()) return NotFound(StrCat("no installed package ships ", path));
  return owners;
}

absl::StatusOr<StateDiff> DiffStates(MachineRoot& root, std::string_view a, std::string_view b) {
  ONIX_ASSIGN_OR_RETURN(db::StateRecord sa, root.ResolveState(a));
  ONIX_ASSIGN_OR_RETURN(db::StateRecord sb, root.ResolveState(b));
  ONIX_ASSIGN_OR_RETURN(state::Manifest ma, root.ManifestOf(sa));
  ONIX_ASSIGN_OR_RETURN(state::Manifest mb, root.ManifestOf(sb));
  ONIX_ASSIGN_OR_RETURN(std::vector<state::OwnedEntry> la, root.LayoutOf(ma));
  ONIX_ASSIGN_OR_RETURN(std::vector<state::OwnedEntry> lb, root.LayoutOf(mb));
  StateDiff d;
  d.from = sa.fstx;
  d.to = sb.fstx;
  d.packages = DiffPackages(ma, mb);
  d.files = state::DiffLayouts(state::Entries(la), state::Entries(lb));
  return d;
}

}  // namespace onix::moss::transaction

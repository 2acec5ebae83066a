#include "moss/transaction/selection.h"

#include <fcntl.h>

#include <algorithm>
#include <set>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/stone/stone.h"

namespace onix::moss::transaction {

absl::StatusOr<SelectedPackage> SelectStoneFile(const std::string& path) {
  const std::string what = StrCat("reading stone ", path);
  const int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw < 0) {
    const int err = errno;
    return Annotate(ErrnoError(err, "open"), what);
  }
  UniqueFd fd(raw);
  ONIX_ASSIGN_OR_RETURN(Digest digest, Sha256Fd(fd.get()));
  absl::StatusOr<stone::StoneReader> reader = stone::StoneReader::Open(path);
  if (!reader.ok()) return reader.status();  // it already says "reading stone PATH"
  if (reader->type() != stone::StoneType::kBinary) {
    return InvalidArgument(
        StrCat(what, ": a ", stone::StoneTypeName(reader->type()), " stone, not a binary package"));
  }
  return SelectedPackage{reader->meta(), digest, true, path};
}

absl::StatusOr<Selection> CurrentSelection(MachineRoot& root) {
  Selection out;
  ONIX_ASSIGN_OR_RETURN(std::optional<db::StateRecord> active, root.ActiveState());
  if (!active) return out;
  ONIX_ASSIGN_OR_RETURN(state::Manifest m, root.ManifestOf(*active));
  for (const auto& p : m.packages) out.push_back({p.meta, p.stone_digest, p.is_explicit, ""});
  return out;
}

absl::StatusOr<Selection> InstallSelection(MachineRoot& root,
                                           const std::vector<std::string>& stone_files) {
  ONIX_ASSIGN_OR_RETURN(Selection sel, CurrentSelection(root));
  std::set<std::string> named;
  for (const auto& file : stone_files) {
    ONIX_ASSIGN_OR_RETURN(SelectedPackage pkg, SelectStoneFile(file));
    if (!named.insert(pkg.meta.name).second) {
      return InvalidArgument(
          StrCat("two stones of package ", pkg.meta.name, " given (", file, ")"));
    }
    std::erase_if(sel, [&](const SelectedPackage& p) { return p.meta.name == pkg.meta.name; });
    sel.push_back(std::move(pkg));
  }
  return sel;
}

absl::StatusOr<Selection> RemoveSelection(MachineRoot& root,
                                          const std::vector<std::string>& names) {
  ONIX_ASSIGN_OR_RETURN(Selection sel, CurrentSelection(root));
  for (const auto& name : names) {
    const size_t before = sel.size();
    std::erase_if(sel, [&](const SelectedPackage& p) { return p.meta.name == name; });
    if (sel.size() == before) return NotFound(StrCat("package ", name, " is not installed"));
  }
  return sel;
}

}  // namespace onix::moss::transaction

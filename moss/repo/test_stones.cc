#include "moss/repo/test_stones.h"

#include "moss/base/sha256.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/stone/stone.h"

namespace onix::moss::repo::testing {

absl::StatusOr<std::string> MakeRepoStone(const std::string& dir, const std::string& name,
                                          const std::string& version,
                                          const std::vector<std::string>& depends,
                                          const std::vector<std::string>& provides) {
  stone::Meta meta;
  meta.name = name;
  meta.version = version;
  meta.source_release = 1;
  meta.build_release = 1;
  meta.architecture = "x86_64";
  meta.summary = StrCat("test package ", name);
  for (const auto& d : depends) {
    ONIX_ASSIGN_OR_RETURN(stone::Dependency dep, stone::Dependency::Parse(d));
    meta.depends.push_back(dep);
  }
  for (const auto& d : provides) {
    ONIX_ASSIGN_OR_RETURN(stone::Dependency dep, stone::Dependency::Parse(d));
    meta.provides.push_back(dep);
  }
  const std::string content = StrCat("content of ", name, " ", version, "\n");
  stone::LayoutEntry share;
  share.path = "share";
  share.kind = stone::FileKind::kDirectory;
  share.mode = 0755;
  stone::LayoutEntry file;
  file.path = StrCat("share/", name, ".txt");
  file.kind = stone::FileKind::kRegular;
  file.mode = 0644;
  file.digest = Sha256Of(content);
  file.size = content.size();
  const std::string out = StrCat(dir, "/", name, "-", version, ".stone");
  stone::WriteOptions options;
  options.fsync = false;
  ONIX_RETURN_IF_ERROR(stone::WriteBinaryStoneFrom(
      meta, {share, file},
      [&](const stone::LayoutEntry&, const std::function<absl::Status(std::string_view)>& emit) {
        return emit(content);
      },
      out, options));
  return out;
}

}  // namespace onix::moss::repo::testing

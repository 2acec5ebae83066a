#include "bench/moss_bench/dataset.h"

#include <cstdio>
#include <filesystem>

#include "bench/harness/harness.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/repo/index.h"
#include "moss/stone/stone.h"

namespace onix::bench {
namespace {

std::string StoneName(const PackageSetSpec& spec, int index, Variant variant) {
  return StrCat(PackageName(index), "-", PackageVersion(spec, index, variant), "-1-1-x86_64.stone");
}

stone::Meta MetaOf(const PackageSetSpec& spec, int index, Variant variant) {
  stone::Meta m;
  m.name = PackageName(index);
  m.version = PackageVersion(spec, index, variant);
  m.source_release = 1;
  m.build_release = 1;
  m.architecture = "x86_64";
  m.summary = StrCat("generated benchmark package ", index);
  m.licenses = {"MIT"};
  m.source_id = m.name;
  return m;
}

// Packs package `index` from packages_dir/<name> into repo_dir with moss's stone writer.
absl::Status Pack(const PackageSetSpec& spec, int index, Variant variant, int packages_fd,
                  const std::string& repo_dir) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd tree, fs::OpenDirAt(packages_fd, PackageName(index)));
  stone::WriteOptions options;
  options.zstd_level = 3;
  options.fsync = false;  // benchmark inputs, regenerated when lost
  return stone::WriteBinaryStone(MetaOf(spec, index, variant), tree.get(),
                                 StrCat(repo_dir, "/", StoneName(spec, index, variant)), options);
}

absl::Status Generate(DataSet& d) {
  std::printf("moss_bench: generating the %s data set (%d packages) in %s\n", d.label.c_str(),
              d.spec.packages, d.dir.c_str());
  std::fflush(stdout);
  ONIX_ASSIGN_OR_RETURN(UniqueFd dir, fs::OpenDir(d.dir));
  for (const char* sub : {"pkgs", "pkgs-update", "tree", "repo", "repo-update", "tar"}) {
    ONIX_RETURN_IF_ERROR(fs::MkdirAt(dir.get(), sub, 0755));
  }
  ONIX_ASSIGN_OR_RETURN(UniqueFd pkgs, fs::OpenDirAt(dir.get(), "pkgs"));
  ONIX_ASSIGN_OR_RETURN(UniqueFd upd, fs::OpenDirAt(dir.get(), "pkgs-update"));
  ONIX_ASSIGN_OR_RETURN(UniqueFd tree, fs::OpenDirAt(dir.get(), "tree"));
  ONIX_ASSIGN_OR_RETURN(d.stats,
                        GeneratePackageSet(d.spec, Variant::kBase, false, pkgs.get(), tree.get()));
  ONIX_ASSIGN_OR_RETURN(PackageSetStats changed,
                        GeneratePackageSet(d.spec, Variant::kUpdate, true, upd.get(), -1));
  std::printf(
      "moss_bench: %llu packages, %llu files, %llu symlinks, %llu duplicate licences, %.1f MiB; "
      "update: %llu packages changed\n",
      static_cast<unsigned long long>(d.stats.packages),
      static_cast<unsigned long long>(d.stats.files),
      static_cast<unsigned long long>(d.stats.symlinks),
      static_cast<unsigned long long>(d.stats.duplicates),
      static_cast<double>(d.stats.bytes) / (1 << 20),
      static_cast<unsigned long long>(changed.packages));
  std::fflush(stdout);
  for (int i = 0; i < d.spec.packages; ++i) {
    ONIX_RETURN_IF_ERROR(Pack(d.spec, i, Variant::kBase, pkgs.get(), d.repo));
    if (PackageChanges(d.spec, i)) {
      ONIX_RETURN_IF_ERROR(Pack(d.spec, i, Variant::kUpdate, upd.get(), d.update_repo));
    } else {
      // The same stone in both repositories: same bytes, so the same digest.
      const std::string name = StoneName(d.spec, i, Variant::kBase);
      ONIX_ASSIGN_OR_RETURN(UniqueFd base_repo, fs::OpenDir(d.repo));
      ONIX_ASSIGN_OR_RETURN(UniqueFd update_repo, fs::OpenDir(d.update_repo));
      ONIX_RETURN_IF_ERROR(fs::LinkAt(base_repo.get(), name, update_repo.get(), name));
    }
  }
  ONIX_RETURN_IF_ERROR_CTX(moss::repo::BuildIndex(d.repo).status(), "indexing the base repository");
  ONIX_RETURN_IF_ERROR_CTX(moss::repo::BuildIndex(d.update_repo).status(),
                           "indexing the update repository");
  ONIX_RETURN_IF_ERROR(
      RunShell(StrCat("tar -C '", d.tree, "' -cf - . | zstd -q -T0 -3 -f -o '", d.tar_zst, "'"))
          .status());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DataSet> PrepareDataSet(const std::string& workdir, const std::string& label,
                                       const PackageSetSpec& spec) {
  DataSet d;
  d.label = label;
  d.spec = spec;
  std::error_code ec;
  const std::string abs = std::filesystem::absolute(workdir, ec).lexically_normal().string();
  if (ec) return InvalidArgument(StrCat("resolving ", workdir, ": ", ec.message()));
  d.dir = StrCat(abs, "/moss-", label);
  d.tree = d.dir + "/tree";
  d.repo = d.dir + "/repo";
  d.update_repo = d.dir + "/repo-update";
  d.tar_dir = d.dir + "/tar";
  d.tar_zst = d.tar_dir + "/tree.tar.zst";
  for (int i = 0; i < spec.packages; ++i) {
    d.names.push_back(PackageName(i));
    d.base_stones.push_back(StrCat(d.repo, "/", StoneName(spec, i, Variant::kBase)));
  }
  std::filesystem::create_directories(abs, ec);
  if (ec) return InvalidArgument(StrCat("creating ", abs, ": ", ec.message()));
  ONIX_ASSIGN_OR_RETURN(UniqueFd work, fs::OpenDir(abs));
  const std::string stamp_name = StrCat("moss-", label, ".stamp");
  const std::string stamp = PackageSetStamp(spec);
  auto old = fs::ReadFileAt(work.get(), stamp_name);
  if (old.ok() && *old == stamp) {
    std::printf("moss_bench: reusing the %s data set in %s\n", label.c_str(), d.dir.c_str());
    return d;
  }
  // A stale stamp must not outlive an interrupted regeneration.
  (void)fs::UnlinkAt(work.get(), stamp_name);
  ONIX_RETURN_IF_ERROR(fs::RemoveTreeAt(work.get(), StrCat("moss-", label)));
  ONIX_RETURN_IF_ERROR(fs::MkdirAt(work.get(), StrCat("moss-", label), 0755));
  ONIX_RETURN_IF_ERROR_CTX(Generate(d), StrCat("generating the ", label, " data set"));
  ONIX_RETURN_IF_ERROR(
      fs::WriteFileAtomicAt(work.get(), stamp_name, stamp, 0644, fs::Durability::kNone));
  return d;
}

}  // namespace onix::bench

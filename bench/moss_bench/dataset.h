// The inputs of bench/moss_bench for one size: the generated package set as trees, its stones
// (moss/stone) in two local repositories indexed by moss/repo (base and 5% updated), and the
// same content as a tar.zst for the baselines. Generated once and reused while the stamp fits.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/lib/usr_tree.h"

namespace onix::bench {

struct DataSet {
  std::string label;  // "small", "medium"
  PackageSetSpec spec;
  std::string dir;          // <workdir>/moss-<label>
  std::string tree;         // dir/tree: the merged base /usr
  std::string repo;         // dir/repo: base stones + stone.index
  std::string update_repo;  // dir/repo-update: the update variant (unchanged stones hardlinked)
  std::string tar_dir;      // dir/tar: tree.tar.zst (tar -c | zstd -3 of `tree`)
  std::string tar_zst;
  std::vector<std::string> names;        // every package
  std::vector<std::string> base_stones;  // absolute paths, in `names` order
  PackageSetStats stats;                 // of the base variant
};

// Generates (or reuses, when dir/stamp matches) the data set `label` of `spec` below
// `workdir`. Nothing outside `workdir` is written.
absl::StatusOr<DataSet> PrepareDataSet(const std::string& workdir, const std::string& label,
                                       const PackageSetSpec& spec);

}  // namespace onix::bench

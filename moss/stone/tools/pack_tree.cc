// pack_tree TREE OUT.stone NAME VERSION [--level N] [--epoch N] [--setid]: packs a directory
// into a binary stone. A test and benchmark tool (boulder is the real producer of stones).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/stone/stone.h"

namespace {

absl::Status Run(int argc, char** argv) {
  if (argc < 5) {
    return onix::InvalidArgument(
        "usage: pack_tree TREE OUT.stone NAME VERSION [--level N] [--epoch N] [--setid]");
  }
  onix::stone::Meta meta;
  meta.name = argv[3];
  meta.version = argv[4];
  meta.architecture = "x86_64";
  onix::stone::WriteOptions options;
  options.fsync = false;
  for (int i = 5; i < argc; ++i) {
    if (std::strcmp(argv[i], "--level") == 0 && i + 1 < argc) {
      options.zstd_level = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--epoch") == 0 && i + 1 < argc) {
      options.source_date_epoch = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--setid") == 0) {
      meta.allow_setid = true;
    } else {
      return onix::InvalidArgument(std::string("unknown argument ") + argv[i]);
    }
  }
  ONIX_ASSIGN_OR_RETURN(onix::UniqueFd tree, onix::fs::OpenDir(argv[1]));
  return onix::stone::WriteBinaryStone(meta, tree.get(), argv[2], options);
}

}  // namespace

int main(int argc, char** argv) { return onix::ReportStatus("pack_tree", Run(argc, argv)); }

// make_repo_stone DIR NAME VERSION [--depends DEP]... [--provides DEP]...: writes
// DIR/NAME-VERSION.stone with dependencies, for tests/suites/repo.sh.
#include <cstring>
#include <string>
#include <vector>

#include "moss/base/status.h"
#include "moss/repo/test_stones.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    return onix::ReportStatus(
        "make_repo_stone",
        onix::InvalidArgument(
            "usage: make_repo_stone DIR NAME VERSION [--depends D] [--provides D]"));
  }
  std::vector<std::string> depends, provides;
  for (int i = 4; i < argc; ++i) {
    if (i + 1 < argc && std::strcmp(argv[i], "--depends") == 0) {
      depends.push_back(argv[++i]);
    } else if (i + 1 < argc && std::strcmp(argv[i], "--provides") == 0) {
      provides.push_back(argv[++i]);
    } else {
      return onix::ReportStatus("make_repo_stone",
                                onix::InvalidArgument(std::string("unknown argument ") + argv[i]));
    }
  }
  auto path =
      onix::moss::repo::testing::MakeRepoStone(argv[1], argv[2], argv[3], depends, provides);
  return onix::ReportStatus("make_repo_stone", path.status());
}

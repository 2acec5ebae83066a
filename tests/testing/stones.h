// Test stones: writes a small tree to disk and packs it with the real stone writer, so
// tests install exactly what a user would.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace onix::testing {

struct TestFile {
  std::string path;     // relative to /usr: "bin/tool"
  std::string content;  // regular files
  uint32_t mode = 0644;
  std::string link_target;  // non-empty: a symlink to this instead of a file
  bool directory = false;   // a directory with `mode` instead of a file
};

// Packs `files` (parent directories made 0755) as package `name` `version`-`release` into
// "<out_dir>/<name>-<version>-<release>.stone" and returns that path.
absl::StatusOr<std::string> MakeStone(const std::string& out_dir, const std::string& name,
                                      const std::string& version, uint64_t release,
                                      const std::vector<TestFile>& files);

// The bytes of the static fake trigger tool (runfiles path tests/testing/fake_trigger_tool).
absl::StatusOr<std::string> FakeTriggerTool();

}  // namespace onix::testing

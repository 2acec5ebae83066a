// Test fixtures for boulder: upstream archives the tests make themselves (a C library and a
// program using it) and recipe text around them. Never touches the network or /usr.
#pragma once

#include <string>

namespace onix::boulder::testing {

struct HelloUpstreams {
  std::string lib_archive;  // <dir>/libhello-1.0.tar.gz
  std::string lib_sha256;
  std::string app_archive;  // <dir>/hello-app-1.0.tar.gz
  std::string app_sha256;
};

// Writes the two source trees below `dir` and packs them reproducibly (sorted, mtime 0,
// root-owned) with the host's tar. Aborts the test binary on failure (a broken fixture).
HelloUpstreams MakeHelloUpstreams(const std::string& dir);

// A complete recipe for the pair; `extra` is appended verbatim (more top-level fields).
std::string HelloRecipe(const HelloUpstreams& up, const std::string& extra = "");

// Writes `text` to `path` (aborts on failure).
void WriteTextFile(const std::string& path, const std::string& text);

}  // namespace onix::boulder::testing

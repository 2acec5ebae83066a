// `bazel run //site:build`: generates the site from the checkout into <workspace>/dist.
#include <cstdlib>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "site/generator.h"

namespace onix::site {
namespace {

absl::Status BuildMain(int argc, char** argv) {
  // bazel run starts us in the runfiles tree; the checkout is where the user ran bazel.
  const char* ws_env = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  std::string workspace = ws_env != nullptr ? ws_env : ".";
  std::string out;
  CLI::App app{"Generates the ONIX website into dist/."};
  app.add_option("--workspace", workspace,
                 "the ONIX checkout (default: $BUILD_WORKSPACE_DIRECTORY)");
  app.add_option("--out", out, "output directory (default: <workspace>/dist)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return absl::OkStatus();
  } catch (const CLI::ParseError& e) {
    return InvalidArgument(e.what());
  }
  if (out.empty()) out = StrCat(workspace, "/dist");
  ONIX_RETURN_IF_ERROR(BuildDist(WorkspaceInputs(workspace), out));
  std::cout << "wrote " << out << "\n";
  return absl::OkStatus();
}

}  // namespace
}  // namespace onix::site

int main(int argc, char** argv) {
  return onix::ReportStatus("site-build", onix::site::BuildMain(argc, argv));
}

// `bazel run //site:serve`: builds <workspace>/dist (unless --dir is given) and serves it on
// 127.0.0.1 for a local preview. Prints "serving http://127.0.0.1:PORT/" once listening and
// one access-log line per request on stderr ("GET /cli.html 200").
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "site/generator.h"
#include "site/http_server.h"

namespace onix::site {
namespace {

absl::Status ServeMain(int argc, char** argv) {
  const char* ws_env = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  std::string workspace = ws_env != nullptr ? ws_env : ".";
  std::string dir;
  uint16_t port = 8000;
  CLI::App app{"Builds the ONIX website and serves it on 127.0.0.1."};
  app.add_option("--workspace", workspace,
                 "the ONIX checkout (default: $BUILD_WORKSPACE_DIRECTORY)");
  app.add_option("--dir", dir, "serve this directory as it is instead of building dist/");
  app.add_option("--port", port, "TCP port on 127.0.0.1; 0 picks a free one");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return absl::OkStatus();
  } catch (const CLI::ParseError& e) {
    return InvalidArgument(e.what());
  }
  if (dir.empty()) {
    dir = StrCat(workspace, "/dist");
    ONIX_RETURN_IF_ERROR(BuildDist(WorkspaceInputs(workspace), dir));
  }
  ONIX_ASSIGN_OR_RETURN(
      auto server,
      HttpServer::Listen(dir, port,
                         [](std::string_view method, std::string_view target, unsigned status) {
                           std::cerr << method << " " << target << " " << status << std::endl;
                         }));
  std::cout << "serving http://127.0.0.1:" << server->port() << "/ from " << dir << std::endl;
  server->Run();
  return absl::OkStatus();
}

}  // namespace
}  // namespace onix::site

int main(int argc, char** argv) {
  return onix::ReportStatus("site-serve", onix::site::ServeMain(argc, argv));
}

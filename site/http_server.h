// A small static HTTP/1.1 server for previewing the site on 127.0.0.1 (Boost.Beast): GET and
// HEAD only, content types by extension, the site's 404.html for missing files, and no way
// out of the served directory (".." is refused, symlinks are not followed).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace onix::site {

// What the server answers to one request, before it is put on the wire.
struct Reply {
  unsigned status = 200;
  std::string content_type;
  std::string body;  // for HEAD: the body a GET would get; only its length is sent
  std::vector<std::pair<std::string, std::string>> headers;
};

// The Content-Type for a file name, by extension ("style.css" -> "text/css; charset=utf-8").
std::string ContentTypeFor(std::string_view name);

// Maps a request target ("/cli.html?x#y", "/", "/docs/") to a clean path relative to the
// served directory ("cli.html", "index.html", "docs/index.html"), percent-decoding it.
// PermissionDenied when any component is ".." (before or after decoding), InvalidArgument
// for other malformed targets (not starting with '/', bad escapes, NUL, "//", ".").
absl::StatusOr<std::string> ResolveTarget(std::string_view target);

// The whole answer for one request against the directory `root_fd`, with no network: 405 for
// methods other than GET/HEAD, 403 for traversal, 400 for malformed targets, 404 (with
// 404.html as the body when the site has one) for missing files. "/name" also finds
// "name.html".
Reply Respond(int root_fd, std::string_view method, std::string_view target);

class HttpServer {
 public:
  // Called once per answered request with method, target and status (for access logs).
  using LogFn = std::function<void(std::string_view, std::string_view, unsigned)>;

  // Opens `root_dir` and listens on 127.0.0.1:`port` (0 picks a free port). Nothing is
  // served until Run().
  static absl::StatusOr<std::unique_ptr<HttpServer>> Listen(const std::string& root_dir,
                                                            uint16_t port, LogFn log = nullptr);
  ~HttpServer();

  // The port actually bound.
  uint16_t port() const;
  // Serves on the calling thread until Stop().
  void Run();
  // Makes Run() return soon; safe from any thread.
  void Stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace onix::site

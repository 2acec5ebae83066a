#include "site/http_server.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "moss/base/fd.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::site {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Reply TextReply(unsigned status, std::string_view text) {
  return Reply{status, "text/plain; charset=utf-8", StrCat(text, "\n"), {}};
}

Reply NotFoundReply(int root_fd) {
  auto page = fs::ReadFileAt(root_fd, "404.html");
  if (!page.ok()) return TextReply(404, "404 not found");
  return Reply{404, ContentTypeFor("404.html"), *std::move(page), {}};
}

// Opens a regular file below root without following symlinks; NotFound also for
// directories so the caller can try "<name>/index.html".
absl::StatusOr<std::string> ReadServedFile(int root_fd, const std::string& path) {
  ONIX_ASSIGN_OR_RETURN(UniqueFd fd, fs::OpenAt(root_fd, path, O_RDONLY));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("fstat(", path, ")"));
  }
  if (S_ISDIR(st.st_mode)) return NotFound(StrCat(path, " is a directory"));
  if (!S_ISREG(st.st_mode)) return absl::PermissionDeniedError(StrCat(path, " is not a file"));
  return fs::ReadFileAt(root_fd, path);
}

}  // namespace

std::string ContentTypeFor(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".ico", "image/x-icon"},
      {".xml", "application/xml"},
      {".json", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".woff2", "font/woff2"},
  };
  for (const auto& [ext, type] : kTypes) {
    if (name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext) {
      return std::string(type);
    }
  }
  return "application/octet-stream";
}

absl::StatusOr<std::string> ResolveTarget(std::string_view target) {
  target = target.substr(0, target.find_first_of("?#"));
  if (target.empty() || target[0] != '/') {
    return InvalidArgument(StrCat("request target \"", target, "\" does not start with '/'"));
  }
  std::string decoded;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] != '%') {
      decoded.push_back(target[i]);
      continue;
    }
    const int hi = i + 2 < target.size() ? HexValue(target[i + 1]) : -1;
    const int lo = i + 2 < target.size() ? HexValue(target[i + 2]) : -1;
    if (hi < 0 || lo < 0) return InvalidArgument(StrCat("bad escape in \"", target, "\""));
    decoded.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  std::string path = decoded.substr(1);
  if (path.empty() || path.back() == '/') path += "index.html";
  // Backslashes are not separators for us, but a ".." component is refused in any spelling.
  for (const std::string& part : fs::SplitPath(path)) {
    if (part == "..") {
      return absl::PermissionDeniedError(StrCat("refusing path traversal in \"", target, "\""));
    }
  }
  ONIX_RETURN_IF_ERROR(fs::ValidateRelativePath(path));
  return path;
}

Reply Respond(int root_fd, std::string_view method, std::string_view target) {
  if (method != "GET" && method != "HEAD") {
    Reply r = TextReply(405, "405 method not allowed");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  auto path = ResolveTarget(target);
  if (absl::IsPermissionDenied(path.status())) return TextReply(403, "403 forbidden");
  if (!path.ok()) return TextReply(400, "400 bad request");

  std::vector<std::string> candidates = {*path};
  const std::string last = path->substr(path->rfind('/') + 1);
  if (last.find('.') == std::string::npos) {
    candidates.push_back(StrCat(*path, ".html"));
    candidates.push_back(StrCat(*path, "/index.html"));
  }
  for (const std::string& candidate : candidates) {
    auto body = ReadServedFile(root_fd, candidate);
    if (body.ok()) return Reply{200, ContentTypeFor(candidate), *std::move(body), {}};
    if (absl::IsNotFound(body.status())) continue;
    // A symlink or anything else we refuse to follow: the client gets no hint what it is.
    return TextReply(403, "403 forbidden");
  }
  return NotFoundReply(root_fd);
}

struct HttpServer::Impl {
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  UniqueFd root_fd;
  LogFn log;

  void Accept();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, int root_fd, const HttpServer::LogFn& log)
      : stream_(std::move(socket)), root_fd_(root_fd), log_(log) {}

  void Read() {
    req_ = {};
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(
        stream_, buffer_, req_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec) {
      // end_of_stream is the client closing a keep-alive connection; anything else is a
      // malformed request or a timeout, and the only answer is closing.
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    const std::string method(req_.method_string());
    const std::string target(req_.target());
    Reply reply = Respond(root_fd_, method, target);
    if (log_) log_(method, target, reply.status);
    const bool keep_alive = req_.keep_alive();
    if (method == "HEAD") {
      auto res = std::make_shared<http::response<http::empty_body>>(
          static_cast<http::status>(reply.status), req_.version());
      res->content_length(reply.body.size());
      Send(res, reply, keep_alive);
    } else {
      auto res = std::make_shared<http::response<http::string_body>>(
          static_cast<http::status>(reply.status), req_.version());
      res->body() = std::move(reply.body);
      res->prepare_payload();
      Send(res, reply, keep_alive);
    }
  }

  template <class Response>
  void Send(std::shared_ptr<Response> res, const Reply& reply, bool keep_alive) {
    res->set(http::field::server, "onix-site");
    res->set(http::field::content_type, reply.content_type);
    res->set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : reply.headers) res->set(name, value);
    res->keep_alive(keep_alive);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
                        if (ec) return;
                        if (keep_alive) {
                          self->Read();
                        } else {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                        }
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  int root_fd_;
  const HttpServer::LogFn& log_;
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted) return;  // Stop() closed the acceptor
    } else {
      std::make_shared<Session>(std::move(socket), root_fd.get(), log)->Read();
    }
    Accept();
  });
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Listen(const std::string& root_dir,
                                                               uint16_t port, LogFn log) {
  auto impl = std::make_unique<Impl>();
  auto root = fs::OpenDir(root_dir);
  if (!root.ok()) return Annotate(root.status(), "opening the directory to serve");
  impl->root_fd = *std::move(root);
  impl->log = std::move(log);
  const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
  beast::error_code ec;
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(StrCat("listening on 127.0.0.1:", port, ": ", ec.message()));
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() = default;

uint16_t HttpServer::port() const {
  beast::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void HttpServer::Run() {
  impl_->Accept();
  impl_->ioc.run();
}

void HttpServer::Stop() { impl_->ioc.stop(); }

}  // namespace onix::site

#include "moss/repo/test_server.h"

#include <fcntl.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "moss/base/fs_at.h"
#include "moss/base/str_cat.h"
#include "moss/repo/files.h"

namespace onix::moss::repo::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

struct TestHttpServer::Impl {
  std::string dir;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
};

namespace {

void Serve(TestHttpServer::Impl& impl, tcp::socket& sock, std::atomic<int>& range_requests) {
  beast::flat_buffer buf;
  http::request<http::string_body> req;
  beast::error_code ec;
  http::read(sock, buf, req, ec);
  if (ec) return;
  std::string target(req.target());
  http::response<http::string_body> res;
  res.version(11);
  res.keep_alive(false);
  if (target.rfind("/redirect/", 0) == 0) {
    res.result(http::status::found);
    res.set(http::field::location, target.substr(9));
  } else if (target.find("..") != std::string::npos) {
    res.result(http::status::forbidden);
  } else {
    auto body = ReadPath(impl.dir + target, 1u << 30);
    if (!body.ok()) {
      res.result(http::status::not_found);
    } else {
      const std::string range(req[http::field::range]);
      res.result(http::status::ok);
      if (range.rfind("bytes=", 0) == 0) {
        ++range_requests;
        const size_t from = std::stoull(range.substr(6));
        if (from >= body->size()) {
          res.result(http::status::range_not_satisfiable);
          body->clear();
        } else {
          res.result(http::status::partial_content);
          res.set(http::field::content_range,
                  StrCat("bytes ", from, "-", body->size() - 1, "/", body->size()));
          *body = body->substr(from);
        }
      }
      res.body() = std::move(*body);
    }
  }
  res.prepare_payload();
  http::write(sock, res, ec);
  sock.shutdown(tcp::socket::shutdown_both, ec);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TestHttpServer>> TestHttpServer::Start(std::string dir) {
  std::unique_ptr<TestHttpServer> s(new TestHttpServer());
  s->impl_ = std::make_unique<Impl>();
  s->impl_->dir = std::move(dir);
  beast::error_code ec;
  tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
  s->impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) s->impl_->acceptor.bind(ep, ec);
  if (!ec) s->impl_->acceptor.listen(16, ec);
  if (ec) return absl::UnavailableError(StrCat("starting test http server: ", ec.message()));
  s->port_ = s->impl_->acceptor.local_endpoint().port();
  TestHttpServer* raw = s.get();
  s->thread_ = std::thread([raw] {
    while (!raw->stop_.load()) {
      tcp::socket sock(raw->impl_->ioc);
      beast::error_code aec;
      raw->impl_->acceptor.accept(sock, aec);
      if (aec || raw->stop_.load()) continue;
      ++raw->requests_;
      Serve(*raw->impl_, sock, raw->range_requests_);
    }
  });
  return s;
}

TestHttpServer::~TestHttpServer() {
  stop_ = true;
  // Wake the blocking accept with one last connection.
  net::io_context ioc;
  tcp::socket poke(ioc);
  beast::error_code ec;
  poke.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);
  if (thread_.joinable()) thread_.join();
}

std::string TestHttpServer::url() const { return StrCat("http://127.0.0.1:", port_); }

}  // namespace onix::moss::repo::testing

#include "site/http_server.h"

#include <string>
#include <thread>

#include "boost/asio.hpp"
#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"

namespace onix::site {
namespace {

namespace asio = boost::asio;

// Serves <tmp>/root; <tmp>/secret.txt sits beside it, where a traversal would land.
class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::MkdirAt(tmp_.fd(), "root", 0755).ok());
    Write("secret.txt", "TOP SECRET");
    Write("root/index.html", "<!DOCTYPE html><title>home</title>");
    Write("root/cli.html", "<!DOCTYPE html><title>cli</title>");
    Write("root/style.css", "body{}");
    Write("root/404.html", "<!DOCTYPE html><title>lost</title>");
    ASSERT_TRUE(fs::SymlinkAt("../secret.txt", tmp_.fd(), "root/link.txt").ok());
    auto server = HttpServer::Listen(StrCat(tmp_.path(), "/root"), 0);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    thread_ = std::thread([this] { server_->Run(); });
  }
  void TearDown() override {
    if (server_) server_->Stop();
    if (thread_.joinable()) thread_.join();
  }

  void Write(const std::string& name, const std::string& text) {
    const size_t slash = name.find('/');
    auto dir = fs::OpenDirAt(tmp_.fd(), slash == std::string::npos ? "." : name.substr(0, slash));
    ASSERT_TRUE(dir.ok()) << dir.status();
    ASSERT_TRUE(
        fs::WriteFileAtomicAt(dir->get(), name.substr(slash + 1), text, 0644, fs::Durability::kNone)
            .ok());
  }

  // Sends `request` as raw bytes (so nothing normalises "..") and returns the whole answer.
  std::string Raw(const std::string& request) {
    asio::io_context ioc;
    asio::ip::tcp::socket socket(ioc);
    boost::system::error_code ec;
    socket.connect({asio::ip::address_v4::loopback(), server_->port()}, ec);
    EXPECT_FALSE(ec) << ec.message();
    asio::write(socket, asio::buffer(request), ec);
    EXPECT_FALSE(ec) << ec.message();
    std::string answer;
    char buf[4096];
    while (true) {
      const size_t n = socket.read_some(asio::buffer(buf), ec);
      answer.append(buf, n);
      if (ec) break;
    }
    return answer;
  }

  std::string Get(const std::string& method, const std::string& target) {
    return Raw(StrCat(method, " ", target, " HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                      "Connection: close\r\n\r\n"));
  }

  TempDir tmp_ = *TempDir::Make("site-http-");
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
};

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

TEST_F(HttpServerTest, ServesFilesWithTheirContentType) {
  const std::string page = Get("GET", "/cli.html");
  EXPECT_TRUE(StartsWith(page, "HTTP/1.1 200 OK\r\n")) << page;
  EXPECT_NE(page.find("Content-Type: text/html; charset=utf-8\r\n"), std::string::npos);
  EXPECT_NE(page.find("<title>cli</title>"), std::string::npos);
  const std::string css = Get("GET", "/style.css");
  EXPECT_NE(css.find("Content-Type: text/css; charset=utf-8\r\n"), std::string::npos);
  EXPECT_NE(Get("GET", "/").find("<title>home</title>"), std::string::npos);
  EXPECT_NE(Get("GET", "/cli").find("<title>cli</title>"), std::string::npos);
}

TEST_F(HttpServerTest, HeadSendsLengthButNoBody) {
  const std::string head = Get("HEAD", "/style.css");
  EXPECT_TRUE(StartsWith(head, "HTTP/1.1 200 OK\r\n")) << head;
  EXPECT_NE(head.find("Content-Length: 6\r\n"), std::string::npos) << head;
  EXPECT_EQ(head.find("body{}"), std::string::npos);
}

TEST_F(HttpServerTest, MissingFileGetsThe404Page) {
  const std::string page = Get("GET", "/nope.html");
  EXPECT_TRUE(StartsWith(page, "HTTP/1.1 404 Not Found\r\n")) << page;
  EXPECT_NE(page.find("<title>lost</title>"), std::string::npos);
}

TEST_F(HttpServerTest, RefusesDotDotTraversalInAnySpelling) {
  for (const char* target : {"/../secret.txt", "/a/../../secret.txt", "/%2e%2e/secret.txt",
                             "/%2E%2E%2Fsecret.txt", "/..%2fsecret.txt"}) {
    const std::string answer = Get("GET", target);
    EXPECT_TRUE(StartsWith(answer, "HTTP/1.1 403 Forbidden\r\n")) << target << "\n" << answer;
    EXPECT_EQ(answer.find("TOP SECRET"), std::string::npos) << target;
  }
}

TEST_F(HttpServerTest, DoesNotFollowSymlinksOutOfTheRoot) {
  const std::string answer = Get("GET", "/link.txt");
  EXPECT_TRUE(StartsWith(answer, "HTTP/1.1 403 Forbidden\r\n")) << answer;
  EXPECT_EQ(answer.find("TOP SECRET"), std::string::npos);
}

TEST_F(HttpServerTest, RejectsOtherMethodsAndMalformedTargets) {
  const std::string post = Get("POST", "/index.html");
  EXPECT_TRUE(StartsWith(post, "HTTP/1.1 405 Method Not Allowed\r\n")) << post;
  EXPECT_NE(post.find("Allow: GET, HEAD\r\n"), std::string::npos);
  EXPECT_TRUE(StartsWith(Get("GET", "//etc/passwd"), "HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_TRUE(StartsWith(Get("GET", "/%zz"), "HTTP/1.1 400 Bad Request\r\n"));
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  const std::string answer =
      Raw("GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /cli.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(answer.find("body{}"), std::string::npos);
  EXPECT_NE(answer.find("<title>cli</title>"), std::string::npos);
}

TEST(ResolveTarget, MapsTargetsToCleanRelativePaths) {
  EXPECT_EQ(*ResolveTarget("/"), "index.html");
  EXPECT_EQ(*ResolveTarget("/cli.html?x=1#top"), "cli.html");
  EXPECT_EQ(*ResolveTarget("/docs/"), "docs/index.html");
  EXPECT_EQ(*ResolveTarget("/a%20b.html"), "a b.html");
  EXPECT_EQ(ResolveTarget("/../x").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ResolveTarget("x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveTarget("/./x").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ContentTypeFor, KnowsTheSiteFileTypes) {
  EXPECT_EQ(ContentTypeFor("a.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeFor("sitemap.xml"), "application/xml");
  EXPECT_EQ(ContentTypeFor("a.png"), "image/png");
  EXPECT_EQ(ContentTypeFor("CNAME"), "application/octet-stream");
}

}  // namespace
}  // namespace onix::site

#include "moss/repo/fetch.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <limits>
#include <thread>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/repo/files.h"

namespace onix::moss::repo {
namespace {

// A download whose size nobody declared (an index, a signature) is still bounded: more than
// any index the reader accepts (256 MiB of plain metadata) is a hostile or broken source.
constexpr uint64_t kMaxUnsizedFetch = 512ull << 20;

// The one cap every transport applies after each chunk: the expected size when known, else
// kMaxUnsizedFetch.
absl::Status CheckReceived(const FetchJob& job, std::string_view url, uint64_t done) {
  if (job.size > 0 && done > job.size) {
    return DataLoss(StrCat("fetching ", url, ": more than the expected ", job.size, " bytes"));
  }
  if (job.size == 0 && done > kMaxUnsizedFetch) {
    return DataLoss(StrCat("fetching ", url, ": more than ", kMaxUnsizedFetch,
                           " bytes, the limit for a file of undeclared size"));
  }
  return absl::OkStatus();
}

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

struct Url {
  std::string scheme, host, port, target;
};

absl::StatusOr<Url> ParseUrl(std::string_view url) {
  Url u;
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return InvalidArgument(StrCat("'", url, "' is not a url"));
  u.scheme = std::string(url.substr(0, sep));
  std::string_view rest = url.substr(sep + 3);
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (u.scheme == "file") {
    u.target = std::string(rest.substr(slash == std::string_view::npos ? rest.size() : slash));
    if (!authority.empty() && authority != "localhost") {
      return InvalidArgument(StrCat("'", url, "': file urls must be file:///path"));
    }
    return u;
  }
  if (u.scheme != "http" && u.scheme != "https") {
    return InvalidArgument(StrCat("'", url, "': scheme must be file, http or https"));
  }
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    u.host = std::string(authority.substr(0, colon));
    u.port = std::string(authority.substr(colon + 1));
  } else {
    u.host = std::string(authority);
    u.port = u.scheme == "https" ? "443" : "80";
  }
  if (u.host.empty()) return InvalidArgument(StrCat("'", url, "' has no host"));
  return u;
}

std::string Resolve(const Url& base, std::string_view location) {
  if (location.find("://") != std::string_view::npos) return std::string(location);
  const std::string origin = StrCat(base.scheme, "://", base.host, ":", base.port);
  if (!location.empty() && location[0] == '/') return StrCat(origin, location);
  const size_t dir = base.target.rfind('/');
  return StrCat(origin, base.target.substr(0, dir + 1), location);
}

// Starts one async operation and runs the io_context until it completes: Beast applies
// tcp_stream's expiry only to async operations, and that expiry is our timeout.
template <class Start>
beast::error_code Await(net::io_context& ioc, Start&& start) {
  beast::error_code result = net::error::would_block;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

struct Response {
  unsigned status = 0;
  std::string location;
};

absl::Status NetError(const std::string& url, std::string_view what, beast::error_code ec) {
  if (ec == beast::error::timeout) {
    return absl::UnavailableError(StrCat("fetching ", url, ": ", what, ": timed out"));
  }
  return absl::UnavailableError(StrCat("fetching ", url, ": ", what, ": ", ec.message()));
}

// Sends GET (with a Range when resuming) and streams a 200/206 body into `fd`.
template <class Stream>
absl::Status Exchange(net::io_context& ioc, Stream& stream, beast::tcp_stream& tcp,
                      const std::string& url, const Url& u, const FetchOptions& options, int fd,
                      uint64_t offset, const FetchJob& job, Progress* progress, Response* out) {
  http::request<http::empty_body> req{http::verb::get, u.target, 11};
  req.set(http::field::host, u.host);
  req.set(http::field::user_agent, "moss/0.1 (ONIX)");
  if (offset > 0) req.set(http::field::range, StrCat("bytes=", offset, "-"));
  tcp.expires_after(options.timeout);
  if (auto ec = Await(ioc, [&](auto h) { http::async_write(stream, req, h); })) {
    return NetError(url, "sending request", ec);
  }
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  tcp.expires_after(options.timeout);
  if (auto ec = Await(ioc, [&](auto h) { http::async_read_header(stream, buffer, parser, h); })) {
    return NetError(url, "reading response header", ec);
  }
  out->status = parser.get().result_int();
  if (out->status >= 300 && out->status < 400) {
    out->location = std::string(parser.get()[http::field::location]);
    return absl::OkStatus();
  }
  if (out->status == 404) return NotFound(StrCat("fetching ", url, ": http 404 not found"));
  if (out->status != 200 && out->status != 206) {
    return absl::UnavailableError(StrCat("fetching ", url, ": http ", out->status));
  }
  uint64_t done = offset;
  if (out->status == 200 && offset > 0) {
    // The server ignored our Range: start the file over.
    if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) < 0) {
      const int err = errno;
      return ErrnoError(err, StrCat("truncating partial download of ", url));
    }
    done = 0;
  }
  std::vector<char> chunk(1 << 16);
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    tcp.expires_after(options.timeout);
    beast::error_code ec = Await(ioc, [&](auto h) { http::async_read(stream, buffer, parser, h); });
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return NetError(url, "reading body", ec);
    const size_t got = chunk.size() - parser.get().body().size;
    ONIX_RETURN_IF_ERROR(fs::WriteAll(fd, std::string_view(chunk.data(), got), job.dest + ".part"));
    done += got;
    ONIX_RETURN_IF_ERROR(CheckReceived(job, url, done));
    if (progress) progress->Advance(job.label.empty() ? job.url : job.label, done);
  }
  return absl::OkStatus();
}

absl::Status FetchHttp(const FetchJob& job, const FetchOptions& options, int fd, uint64_t offset,
                       Progress* progress) {
  std::string url = job.url;
  for (int hop = 0; hop <= options.max_redirects; ++hop) {
    ONIX_ASSIGN_OR_RETURN(Url u, ParseUrl(url));
    if (u.scheme == "file")
      return InvalidArgument(StrCat("fetching ", job.url, ": redirect to file"));
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto endpoints = resolver.resolve(u.host, u.port, ec);
    if (ec) return NetError(url, StrCat("resolving ", u.host), ec);
    Response resp;
    absl::Status st;
    if (u.scheme == "http") {
      beast::tcp_stream stream(ioc);
      stream.expires_after(options.timeout);
      if (auto e = Await(ioc, [&](auto h) { stream.async_connect(endpoints, h); })) {
        return NetError(url, "connecting", e);
      }
      st = Exchange(ioc, stream, stream, url, u, options, fd, offset, job, progress, &resp);
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    } else {
      net::ssl::context ctx(net::ssl::context::tls_client);
      ctx.set_default_verify_paths(ec);
      for (const std::string* ca : {&options.ca_file, &job.ca_file}) {
        if (ca->empty()) continue;
        ctx.load_verify_file(*ca, ec);
        if (ec) {
          return InvalidArgument(StrCat("fetching ", url, ": loading ca file ", *ca, ": ",
                                        ec.message(), " (expected a PEM certificate bundle)"));
        }
      }
      ctx.set_verify_mode(net::ssl::verify_peer);
      beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
      if (!SSL_set_tlsext_host_name(stream.native_handle(), u.host.c_str())) {
        return absl::UnavailableError(StrCat("fetching ", url, ": setting tls server name"));
      }
      // OpenSSL only says "certificate verify failed"; we keep the reason so the user learns
      // whether the CA is unknown (trust it with the repository's --ca-file) or the
      // certificate belongs to another host.
      std::string refused;
      stream.set_verify_callback([&refused, check = net::ssl::host_name_verification(u.host),
                                  host = u.host](bool preverified, net::ssl::verify_context& vctx) {
        X509_STORE_CTX* sctx = vctx.native_handle();
        if (!preverified) {
          if (refused.empty()) {
            refused = StrCat("the server's certificate is not trusted: ",
                             X509_verify_cert_error_string(X509_STORE_CTX_get_error(sctx)),
                             " (trust its CA with `moss repo add --ca-file` or SSL_CERT_FILE)");
          }
          return false;
        }
        if (!check(preverified, vctx)) {
          refused = StrCat("the server's certificate is not valid for host '", host, "'");
          return false;
        }
        return true;
      });
      beast::tcp_stream& tcp = beast::get_lowest_layer(stream);
      tcp.expires_after(options.timeout);
      if (auto e = Await(ioc, [&](auto h) { tcp.async_connect(endpoints, h); })) {
        return NetError(url, "connecting", e);
      }
      tcp.expires_after(options.timeout);
      if (auto e = Await(
              ioc, [&](auto h) { stream.async_handshake(net::ssl::stream_base::client, h); })) {
        if (!refused.empty()) {
          return absl::PermissionDeniedError(
              StrCat("fetching ", url, ": tls handshake: ", refused));
        }
        return NetError(url, "tls handshake", e);
      }
      st = Exchange(ioc, stream, tcp, url, u, options, fd, offset, job, progress, &resp);
    }
    ONIX_RETURN_IF_ERROR(st);
    if (resp.status >= 300 && resp.status < 400) {
      if (resp.location.empty()) {
        return absl::UnavailableError(StrCat("fetching ", url, ": redirect without location"));
      }
      url = Resolve(u, resp.location);
      continue;
    }
    return absl::OkStatus();
  }
  return absl::UnavailableError(
      StrCat("fetching ", job.url, ": more than ", options.max_redirects, " redirects"));
}

// The same cap as HTTP: a file:// source that is a symlink to /dev/zero, or a file that
// grows, stops one byte past the expected size instead of filling the disk.
absl::Status CopyFile(const FetchJob& job, const std::string& path, int fd, Progress* progress) {
  auto src = OpenPath(path, O_RDONLY | O_CLOEXEC);
  if (!src.ok()) return Annotate(src.status(), StrCat("fetching ", job.url));
  std::vector<char> buf(1 << 16);
  uint64_t done = 0;
  for (;;) {
    const uint64_t limit = (job.size > 0 ? job.size : kMaxUnsizedFetch) + 1 - done;
    const ssize_t n =
        ::read(src->get(), buf.data(), static_cast<size_t>(std::min<uint64_t>(buf.size(), limit)));
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return ErrnoError(err, StrCat("fetching ", job.url, ": reading ", path));
    }
    if (n == 0) break;
    done += static_cast<uint64_t>(n);
    ONIX_RETURN_IF_ERROR(CheckReceived(job, job.url, done));
    ONIX_RETURN_IF_ERROR(fs::WriteAll(fd, std::string_view(buf.data(), n), job.dest + ".part"));
    if (progress) progress->Advance(job.label.empty() ? job.url : job.label, done);
  }
  return absl::OkStatus();
}

absl::Status FetchInto(const FetchJob& job, const FetchOptions& options, Progress* progress);

// Keeps a partial http download for resuming, but never an empty or file:// leftover.
absl::Status FetchOrCleanUp(const FetchJob& job, const FetchOptions& options, Progress* progress) {
  absl::Status st = FetchInto(job, options, progress);
  if (!st.ok()) {
    const std::string part = job.dest + ".part";
    struct stat sb;
    if (job.url.rfind("file:", 0) == 0 || (::stat(part.c_str(), &sb) == 0 && sb.st_size == 0)) {
      ::unlink(part.c_str());
    }
  }
  return st;
}

absl::Status FetchInto(const FetchJob& job, const FetchOptions& options, Progress* progress) {
  ONIX_ASSIGN_OR_RETURN(Url u, ParseUrl(job.url));
  const std::string part = job.dest + ".part";
  uint64_t offset = 0;
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
  if (u.scheme == "file") {
    flags |= O_TRUNC;
  } else if (struct stat st; ::stat(part.c_str(), &st) == 0) {
    offset = static_cast<uint64_t>(st.st_size);
    if (job.size > 0 && offset >= job.size) {
      offset = 0;
      flags |= O_TRUNC;
    }
  }
  ONIX_ASSIGN_OR_RETURN(UniqueFd fd, OpenPath(part, flags, 0644));
  if (::lseek(fd.get(), 0, SEEK_END) < 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("seeking ", part));
  }
  if (u.scheme == "file") {
    ONIX_RETURN_IF_ERROR(CopyFile(job, u.target, fd.get(), progress));
  } else {
    ONIX_RETURN_IF_ERROR(FetchHttp(job, options, fd.get(), offset, progress));
  }
  ONIX_RETURN_IF_ERROR(fs::FsyncFd(fd.get(), part));
  fd.reset();

  // Verification reads the finished file back, so a resumed download is checked whole.
  uint64_t size = 0;
  ONIX_ASSIGN_OR_RETURN(Digest got, Sha256Path(part, &size));
  if ((job.digest && got != *job.digest) || (job.size > 0 && size != job.size)) {
    ::unlink(part.c_str());
    return DataLoss(StrCat("fetching ", job.url, ": sha256 mismatch: expected ",
                           job.digest ? job.digest->Hex() : "(any)", " (", job.size,
                           " bytes), got ", got.Hex(), " (", size, " bytes)"));
  }
  if (::rename(part.c_str(), job.dest.c_str()) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("renaming ", part, " to ", job.dest));
  }
  return absl::OkStatus();
}

std::string HumanSize(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  double v = static_cast<double>(bytes);
  int i = 0;
  while (v >= 1024 && i < 3) {
    v /= 1024;
    ++i;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), i == 0 ? "%.0f %s" : "%.1f %s", v, units[i]);
  return buf;
}

std::string Bar(uint64_t done, uint64_t total, int width) {
  const int fill =
      total == 0 ? 0 : static_cast<int>(std::min<uint64_t>(done, total) * width / total);
  return StrCat("[", std::string(fill, '#'), std::string(width - fill, '-'), "]");
}

}  // namespace

Progress Progress::ForStream(FILE* out) {
  return Progress(out, out != nullptr && ::isatty(fileno(out)));
}

void Progress::SetTotal(uint64_t bytes, size_t files) {
  std::lock_guard<std::mutex> lock(mu_);
  total_bytes_ = bytes;
  total_files_ = files;
}

void Progress::Begin(const std::string& label, uint64_t size) {
  if (out_ == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  active_[label] = {0, size};
  if (terminal_) {
    Redraw();
  } else {
    std::fprintf(out_, "fetching %s (%s)\n", label.c_str(), HumanSize(size).c_str());
    std::fflush(out_);
  }
}

void Progress::Advance(const std::string& label, uint64_t done) {
  if (out_ == nullptr || !terminal_) return;
  std::lock_guard<std::mutex> lock(mu_);
  active_[label].first = done;
  Redraw();
}

void Progress::End(const std::string& label, bool ok) {
  if (out_ == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = active_.find(label);
  const uint64_t size = it == active_.end() ? 0 : std::max(it->second.first, it->second.second);
  if (it != active_.end()) active_.erase(it);
  ++done_files_;
  finished_bytes_ += size;
  if (terminal_) {
    // Finished lines scroll up above the live bars.
    std::fprintf(out_, "\x1b[%dF\x1b[J", drawn_lines_);
    drawn_lines_ = 0;
    std::fprintf(out_, "%s %s (%s)\n", ok ? "fetched" : "failed", label.c_str(),
                 HumanSize(size).c_str());
    Redraw();
  } else {
    std::fprintf(out_, "%s %s\n", ok ? "fetched" : "failed", label.c_str());
    std::fflush(out_);
  }
}

void Progress::Redraw() {
  if (drawn_lines_ > 0) std::fprintf(out_, "\x1b[%dF\x1b[J", drawn_lines_);
  drawn_lines_ = 0;
  uint64_t live = 0;
  for (const auto& [label, dp] : active_) {
    live += dp.first;
    std::fprintf(out_, "%s %-40.40s %s\n", Bar(dp.first, dp.second, 20).c_str(), label.c_str(),
                 HumanSize(dp.first).c_str());
    ++drawn_lines_;
  }
  std::fprintf(out_, "%s total %zu/%zu files, %s of %s\n",
               Bar(finished_bytes_ + live, total_bytes_, 20).c_str(), done_files_, total_files_,
               HumanSize(finished_bytes_ + live).c_str(), HumanSize(total_bytes_).c_str());
  ++drawn_lines_;
  std::fflush(out_);
}

absl::Status Fetch(const FetchJob& job, const FetchOptions& options, Progress* progress) {
  const std::string label = job.label.empty() ? job.url : job.label;
  if (progress) progress->Begin(label, job.size);
  absl::Status st = FetchOrCleanUp(job, options, progress);
  if (progress) progress->End(label, st.ok());
  return st;
}

absl::Status FetchAll(const std::vector<FetchJob>& jobs, int parallel, const FetchOptions& options,
                      Progress* progress) {
  if (progress) {
    uint64_t total = 0;
    for (const auto& j : jobs) total += j.size;
    progress->SetTotal(total, jobs.size());
  }
  std::atomic<size_t> next{0};
  std::vector<absl::Status> results(jobs.size());
  auto worker = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++) {
      results[i] = Fetch(jobs[i], options, progress);
    }
  };
  std::vector<std::thread> threads;
  const int n = std::max(1, std::min<int>(parallel, static_cast<int>(jobs.size())));
  for (int i = 0; i < n; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  absl::Status first;
  size_t failed = 0;
  for (const auto& r : results) {
    if (r.ok()) continue;
    if (failed++ == 0) first = r;
  }
  if (failed > 1) {
    return absl::Status(first.code(),
                        StrCat(first.message(), " (and ", failed - 1, " more failed downloads)"));
  }
  return first;
}

}  // namespace onix::moss::repo

#include "nix-integration/daemon/health.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "boost/asio.hpp"
#include "moss/base/fd.h"
#include "moss/base/str_cat.h"

namespace onix::nixplane {
namespace {

namespace asio = boost::asio;
using Socket = asio::local::stream_protocol::socket;

constexpr uint64_t kWorkerMagic1 = 0x6e697863;
constexpr uint64_t kWorkerMagic2 = 0x6478696f;
constexpr uint64_t kClientProtocol = 0x122;  // 1.34, what Nix 2.8 speaks
constexpr uint64_t kStderrNext = 0x6f6c6d67;
constexpr uint64_t kStderrRead = 0x64617461;
constexpr uint64_t kStderrWrite = 0x64617416;
constexpr uint64_t kStderrLast = 0x616c7473;
constexpr uint64_t kStderrError = 0x63787470;
constexpr uint64_t kStderrStartActivity = 0x53545254;
constexpr uint64_t kStderrStopActivity = 0x53544f50;
constexpr uint64_t kStderrResult = 0x52534c54;
constexpr uint64_t kWopIsValidPath = 1;
constexpr uint64_t kMaxString = 1 << 20;  // a daemon's strings here are short; guards memory

// Why a conversation step stopped; kOk goes on.
enum class Outcome { kOk, kTimeout, kEof, kBad };

// One connection with a single deadline: every operation runs the io_context until it
// completes or the deadline passes (then the socket is closed and the op is a timeout).
class Conversation {
 public:
  Conversation(asio::io_context& io, std::chrono::steady_clock::time_point deadline)
      : io_(io), socket_(io), deadline_(deadline) {}

  template <typename Start>
  Outcome Run(Start start, boost::system::error_code* out_ec) {
    bool done = false;
    boost::system::error_code ec;
    start([&](const boost::system::error_code& e, auto&&...) {
      ec = e;
      done = true;
    });
    io_.restart();
    while (!done && std::chrono::steady_clock::now() < deadline_) {
      io_.run_one_until(deadline_);
    }
    if (!done) {
      boost::system::error_code ignored;
      socket_.close(ignored);
      io_.restart();
      io_.run();  // lets the cancelled handler run before the stack frame goes away
      return Outcome::kTimeout;
    }
    *out_ec = ec;
    if (ec == asio::error::eof) return Outcome::kEof;
    return ec ? Outcome::kBad : Outcome::kOk;
  }

  Outcome Connect(const std::string& path, boost::system::error_code* ec) {
    return Run([&](auto handler) { socket_.async_connect({path}, handler); }, ec);
  }
  // The uid of the process on the other end (SO_PEERCRED), or -1 when it cannot be read.
  int64_t PeerUid() {
    struct ucred cred {};
    socklen_t len = sizeof(cred);
    if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      return -1;
    }
    return cred.uid;
  }
  Outcome WriteU64(uint64_t v) {
    unsigned char buf[8];
    for (int i = 0; i < 8; ++i) buf[i] = static_cast<unsigned char>(v >> (8 * i));
    boost::system::error_code ec;
    return Run([&](auto handler) { asio::async_write(socket_, asio::buffer(buf), handler); }, &ec);
  }
  Outcome WriteString(const std::string& s) {
    std::vector<unsigned char> buf(8 + ((s.size() + 7) / 8) * 8, 0);
    for (int i = 0; i < 8; ++i) buf[i] = static_cast<unsigned char>(s.size() >> (8 * i));
    std::memcpy(buf.data() + 8, s.data(), s.size());
    boost::system::error_code ec;
    return Run([&](auto handler) { asio::async_write(socket_, asio::buffer(buf), handler); }, &ec);
  }
  Outcome ReadU64(uint64_t* v) {
    unsigned char buf[8];
    boost::system::error_code ec;
    Outcome o =
        Run([&](auto handler) { asio::async_read(socket_, asio::buffer(buf), handler); }, &ec);
    if (o != Outcome::kOk) return o;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v |= static_cast<uint64_t>(buf[i]) << (8 * i);
    return o;
  }
  Outcome ReadString(std::string* s) {
    uint64_t len = 0;
    Outcome o = ReadU64(&len);
    if (o != Outcome::kOk) return o;
    if (len > kMaxString) return Outcome::kBad;
    std::vector<char> buf(((len + 7) / 8) * 8);
    boost::system::error_code ec;
    if (!buf.empty()) {
      o = Run([&](auto handler) { asio::async_read(socket_, asio::buffer(buf), handler); }, &ec);
      if (o != Outcome::kOk) return o;
    }
    s->assign(buf.data(), len);
    return o;
  }

 private:
  asio::io_context& io_;
  Socket socket_;
  std::chrono::steady_clock::time_point deadline_;
};

DaemonHealth Make(DaemonHealth::State state, std::string detail = "") {
  DaemonHealth h;
  h.state = state;
  h.detail = std::move(detail);
  return h;
}

// Turns a failed step into the matching health state.
DaemonHealth Failed(Outcome o, std::string_view step) {
  switch (o) {
    case Outcome::kTimeout:
      return Make(DaemonHealth::State::kTimeout);
    case Outcome::kEof:
      return Make(DaemonHealth::State::kProtocolError, StrCat("connection closed while ", step));
    default:
      return Make(DaemonHealth::State::kProtocolError, StrCat("i/o error while ", step));
  }
}

// Returns the failure state from CheckDaemon when a conversation step does not complete.
#define ONIX_STEP(expr, step)                                  \
  do {                                                         \
    Outcome onix_o_ = (expr);                                  \
    if (onix_o_ != Outcome::kOk) return Failed(onix_o_, step); \
  } while (false)

// Reads the fields of an activity message (count, then typed values: 0 = int, 1 = string).
Outcome SkipFields(Conversation& c) {
  uint64_t n = 0, type = 0, v = 0;
  std::string s;
  if (Outcome o = c.ReadU64(&n); o != Outcome::kOk) return o;
  for (uint64_t i = 0; i < n; ++i) {
    if (Outcome o = c.ReadU64(&type); o != Outcome::kOk) return o;
    Outcome o = type == 0 ? c.ReadU64(&v) : type == 1 ? c.ReadString(&s) : Outcome::kBad;
    if (o != Outcome::kOk) return o;
  }
  return Outcome::kOk;
}

// Drains the daemon's stderr stream up to STDERR_LAST; a STDERR_ERROR becomes `*error`.
Outcome DrainStderr(Conversation& c, uint64_t minor, std::string* error) {
  for (;;) {
    uint64_t msg = 0, u = 0;
    std::string s;
    if (Outcome o = c.ReadU64(&msg); o != Outcome::kOk) return o;
    Outcome o = Outcome::kOk;
    switch (msg) {
      case kStderrLast:
        return Outcome::kOk;
      case kStderrNext:
        o = c.ReadString(&s);
        break;
      case kStderrRead:
      case kStderrStopActivity:
        o = c.ReadU64(&u);
        break;
      case kStderrWrite:
        o = c.ReadString(&s);
        break;
      case kStderrStartActivity:
        for (int i = 0; i < 3 && o == Outcome::kOk; ++i) o = c.ReadU64(&u);  // act, lvl, type
        if (o == Outcome::kOk) o = c.ReadString(&s);
        if (o == Outcome::kOk) o = SkipFields(c);
        if (o == Outcome::kOk) o = c.ReadU64(&u);  // parent
        break;
      case kStderrResult:
        o = c.ReadU64(&u);
        if (o == Outcome::kOk) o = c.ReadU64(&u);
        if (o == Outcome::kOk) o = SkipFields(c);
        break;
      case kStderrError: {
        if (minor >= 26) {
          std::string type, name, text;
          uint64_t level = 0, have_pos = 0;
          o = c.ReadString(&type);
          if (o == Outcome::kOk) o = c.ReadU64(&level);
          if (o == Outcome::kOk) o = c.ReadString(&name);
          if (o == Outcome::kOk) o = c.ReadString(&text);
          if (o == Outcome::kOk) o = c.ReadU64(&have_pos);
          *error = text;
        } else {
          o = c.ReadString(error);
          if (o == Outcome::kOk) o = c.ReadU64(&u);
        }
        // The rest of an error (traces) is not needed: the conversation ends here.
        return o == Outcome::kOk ? Outcome::kBad : o;
      }
      default:
        *error = StrCat("unknown stderr message 0x", absl::Hex(msg));
        return Outcome::kBad;
    }
    if (o != Outcome::kOk) return o;
  }
}

}  // namespace

std::string DaemonHealth::ToString() const {
  switch (state) {
    case State::kHealthy:
      return "healthy";
    case State::kNotRunning:
      return "not running";
    case State::kSocketMissing:
      return "socket missing";
    case State::kTimeout:
      return "not responding (timeout)";
    case State::kProtocolError:
      return StrCat("protocol error: ", detail);
  }
  return "unknown";
}

DaemonHealth CheckDaemon(const std::string& socket_path, absl::Duration timeout,
                         const std::string& probe_path) {
  struct stat st;
  if (::lstat(socket_path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return Make(DaemonHealth::State::kSocketMissing);
    return Make(DaemonHealth::State::kProtocolError,
                StrCat("stat ", socket_path, ": ", std::strerror(err)));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Make(DaemonHealth::State::kProtocolError, StrCat(socket_path, " is not a socket"));
  }
  // sun_path holds 107 bytes; a deeper socket (test roots, long $TMPDIR) is reached through
  // its directory's /proc/self/fd link, which names the same inode with a short path.
  std::string connect_path = socket_path;
  UniqueFd socket_dir;
  if (socket_path.size() >= sizeof(sockaddr_un::sun_path)) {
    const size_t slash = socket_path.rfind('/');
    socket_dir.reset(
        ::open(socket_path.substr(0, slash).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!socket_dir.valid()) {
      const int err = errno;
      return Make(DaemonHealth::State::kProtocolError,
                  StrCat("opening the directory of ", socket_path, ": ", std::strerror(err)));
    }
    connect_path = StrCat("/proc/self/fd/", socket_dir.get(), "/", socket_path.substr(slash + 1));
  }
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  asio::io_context io;
  Conversation c(io, deadline);
  boost::system::error_code ec;
  Outcome o = c.Connect(connect_path, &ec);
  if (o == Outcome::kTimeout) return Make(DaemonHealth::State::kTimeout);
  if (o != Outcome::kOk) {
    if (ec == asio::error::connection_refused) return Make(DaemonHealth::State::kNotRunning);
    if (ec == asio::error::not_found) return Make(DaemonHealth::State::kSocketMissing);
    return Make(DaemonHealth::State::kProtocolError,
                StrCat("connecting to ", socket_path, ": ", ec.message()));
  }

  // Only root runs the real daemon; anyone else listening there is not the Nix plane's daemon
  // (and must not be told which paths we ask about).
  if (const int64_t uid = c.PeerUid(); uid != 0) {
    return Make(DaemonHealth::State::kProtocolError,
                StrCat("socket is served by uid ", uid, ", not root"));
  }
  ONIX_STEP(c.WriteU64(kWorkerMagic1), "sending the client magic");
  uint64_t magic = 0, daemon_protocol = 0;
  ONIX_STEP(c.ReadU64(&magic), "reading the daemon magic");
  if (magic != kWorkerMagic2) {
    return Make(DaemonHealth::State::kProtocolError,
                StrCat("bad daemon magic 0x", absl::Hex(magic), " (expected 0x6478696f)"));
  }
  ONIX_STEP(c.ReadU64(&daemon_protocol), "reading the daemon protocol version");
  if ((daemon_protocol >> 8) != 1) {
    return Make(DaemonHealth::State::kProtocolError,
                StrCat("unsupported daemon protocol 0x", absl::Hex(daemon_protocol)));
  }
  const uint64_t minor = std::min(daemon_protocol, kClientProtocol) & 0xff;
  if (minor < 11) {
    return Make(DaemonHealth::State::kProtocolError,
                StrCat("daemon protocol 1.", minor, " is older than 1.11"));
  }
  ONIX_STEP(c.WriteU64(kClientProtocol), "sending the client protocol version");
  if (minor >= 14) ONIX_STEP(c.WriteU64(0), "sending the cpu affinity word");
  ONIX_STEP(c.WriteU64(0), "sending the reserve-space word");
  DaemonHealth h;
  h.daemon_protocol = daemon_protocol;
  if (minor >= 33) ONIX_STEP(c.ReadString(&h.nix_version), "reading the nix version");
  std::string error;
  o = DrainStderr(c, minor, &error);
  if (o == Outcome::kBad && !error.empty()) {
    return Make(DaemonHealth::State::kProtocolError, StrCat("daemon refused: ", error));
  }
  if (o != Outcome::kOk) return Failed(o, "reading the handshake log");

  if (!probe_path.empty()) {
    ONIX_STEP(c.WriteU64(kWopIsValidPath), "sending wopIsValidPath");
    ONIX_STEP(c.WriteString(probe_path), "sending wopIsValidPath");
    o = DrainStderr(c, minor, &error);
    if (o == Outcome::kBad && !error.empty()) {
      return Make(DaemonHealth::State::kProtocolError, StrCat("wopIsValidPath: ", error));
    }
    if (o != Outcome::kOk) return Failed(o, "reading the wopIsValidPath log");
    uint64_t valid = 0;
    ONIX_STEP(c.ReadU64(&valid), "reading the wopIsValidPath answer");
    h.probe_valid = valid != 0;
  }
  h.state = DaemonHealth::State::kHealthy;
  return h;
}

#undef ONIX_STEP

}  // namespace onix::nixplane

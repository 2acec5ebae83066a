// Downloads for repositories: file:// and http(s):// (Boost.Beast, TLS through OpenSSL) with
// timeouts, redirects, resumable partial files, parallel workers and SHA-256 verification
// before a file is published under its final name.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "moss/base/sha256.h"

namespace onix::moss::repo {

struct FetchJob {
  std::string url;               // file:///abs/path, http://host[:port]/path, https://...
  std::string dest;              // final path; bytes go to "<dest>.part" first
  std::optional<Digest> digest;  // when set the file is refused (DataLoss) unless it matches
  uint64_t size = 0;             // expected size when known (progress, sanity bound)
  std::string label;             // for progress output; defaults to the url
  std::string ca_file;           // extra CA bundle for this job's https server (its repository's)
};

struct FetchOptions {
  // Applies to each connect, TLS handshake, request write and every read of the response:
  // a server that stalls this long fails the download (Unavailable).
  std::chrono::milliseconds timeout{30000};
  int max_redirects = 5;
  // Extra CA bundle for https (tests, private mirrors); system paths (which honour OpenSSL's
  // SSL_CERT_FILE and SSL_CERT_DIR) are always used.
  std::string ca_file;
};

// Reports downloads. On a terminal: one bar per active download plus an overall bar, redrawn
// in place; otherwise one plain line per started and finished file. Thread-safe.
class Progress {
 public:
  Progress(FILE* out, bool terminal) : out_(out), terminal_(terminal) {}
  // Chooses the terminal form when `out` is a tty; nullptr `out` reports nothing.
  static Progress ForStream(FILE* out);

  void SetTotal(uint64_t bytes, size_t files);
  void Begin(const std::string& label, uint64_t size);
  void Advance(const std::string& label, uint64_t done);
  void End(const std::string& label, bool ok);

 private:
  void Redraw();  // requires mu_

  FILE* out_;
  bool terminal_;
  std::mutex mu_;
  uint64_t total_bytes_ = 0;
  size_t total_files_ = 0;
  size_t done_files_ = 0;
  uint64_t finished_bytes_ = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> active_;  // label -> (done, size)
  int drawn_lines_ = 0;
};

// Downloads one file. Afterwards `job.dest` holds the complete, verified file, or the call
// failed and `job.dest` is untouched. A failed http download keeps "<dest>.part" so the next
// call resumes it with a Range request; a digest mismatch deletes it. Errors name the url:
// Unavailable for network failures and timeouts, NotFound for 404/missing files, DataLoss for
// digest or size mismatches, PermissionDenied when an https server's certificate is not trusted
// or does not name the host (the message says which).
absl::Status Fetch(const FetchJob& job, const FetchOptions& options = {},
                   Progress* progress = nullptr);

// Runs `jobs` on up to `parallel` workers. Every job is attempted; the result is OK or the
// first failure (with a count of the others).
absl::Status FetchAll(const std::vector<FetchJob>& jobs, int parallel,
                      const FetchOptions& options = {}, Progress* progress = nullptr);

}  // namespace onix::moss::repo

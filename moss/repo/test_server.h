// A tiny HTTP/1.1 file server on 127.0.0.1 (ephemeral port) for repository tests: serves a
// directory, honours "Range: bytes=N-", and redirects /redirect/<path> to /<path>.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace onix::moss::repo::testing {

class TestHttpServer {
 public:
  static absl::StatusOr<std::unique_ptr<TestHttpServer>> Start(std::string dir);
  ~TestHttpServer();

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:<port>"
  std::string url() const;
  int requests() const { return requests_.load(); }
  int range_requests() const { return range_requests_.load(); }

  struct Impl;

 private:
  TestHttpServer() = default;
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::atomic<int> range_requests_{0};
};

}  // namespace onix::moss::repo::testing

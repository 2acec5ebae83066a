// ONIX_CHECK: a bug, not an error. Aborts with file and line; never caught (STYLE R3).
#pragma once

#include <sstream>
#include <string>

namespace onix::internal_check {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  [[noreturn]] ~CheckFailure();
  template <typename T>
  CheckFailure& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

// Lets `ONIX_CHECK(x) << ...` be a void expression in both branches of ?:.
struct Voidify {
  void operator&(CheckFailure&) {}
};

}  // namespace onix::internal_check

#define ONIX_CHECK(condition)                       \
  (condition) ? (void)0                             \
              : ::onix::internal_check::Voidify() & \
                    ::onix::internal_check::CheckFailure(__FILE__, __LINE__, #condition)

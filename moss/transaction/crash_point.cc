#include "moss/transaction/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace onix::moss::transaction {

void CrashPoint(std::string_view name) {
  const char* pause = std::getenv("MOSS_PAUSE_AT");
  if (pause != nullptr && name == pause) ::raise(SIGSTOP);
  const char* at = std::getenv("MOSS_CRASH_AT");
  if (at == nullptr || name != at) return;
  ::kill(::getpid(), SIGKILL);
  // SIGKILL cannot be blocked or handled; delivery is immediate for the calling thread.
  for (;;) ::pause();
}

absl::Status FailPoint(std::string_view name) {
  const char* at = std::getenv("MOSS_FAIL_AT");
  if (at == nullptr || name != at) return absl::OkStatus();
  return absl::InternalError("injected failure at " + std::string(name));
}

}  // namespace onix::moss::transaction

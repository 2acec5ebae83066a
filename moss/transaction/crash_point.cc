#include "moss/transaction/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>

namespace onix::moss::transaction {

void CrashPoint(std::string_view name) {
  const char* at = std::getenv("MOSS_CRASH_AT");
  if (at == nullptr || name != at) return;
  ::kill(::getpid(), SIGKILL);
  // SIGKILL cannot be blocked or handled; delivery is immediate for the calling thread.
  for (;;) ::pause();
}

}  // namespace onix::moss::transaction

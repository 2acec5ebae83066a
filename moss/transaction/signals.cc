#include "moss/transaction/signals.h"

#include <pthread.h>

namespace onix::moss::transaction {

DeferSignals::DeferSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, &old_);
}

DeferSignals::~DeferSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

}  // namespace onix::moss::transaction

// Deferring SIGINT/SIGTERM/SIGHUP across the critical section of a transaction: a Ctrl-C
// there is held, not fatal, and delivered (with its default effect) once the section ends.
#pragma once

#include <signal.h>

namespace onix::moss::transaction {

// Blocks SIGINT, SIGTERM and SIGHUP for the calling thread (and threads it starts) for the
// life of the object, then restores the previous mask, which delivers anything pending.
class DeferSignals {
 public:
  DeferSignals();
  ~DeferSignals();
  DeferSignals(const DeferSignals&) = delete;
  DeferSignals& operator=(const DeferSignals&) = delete;

 private:
  sigset_t old_;
};

}  // namespace onix::moss::transaction

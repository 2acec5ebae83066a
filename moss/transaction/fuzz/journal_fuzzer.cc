// libFuzzer target for the journal decoder: any bytes -> DecodeJournal; what decodes must
// encode and decode back to the same record (so recovery reads what was written), and a
// truncated or bit-flipped copy of a valid journal is never accepted as a different record.
// Aborts on a broken invariant. Replayed by //moss/transaction/fuzz:journal_fuzzer_replay_test,
// fuzzed with clang by tests/suites/stone_fuzz.sh (docs/testing.md).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "moss/transaction/journal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using onix::moss::transaction::DecodeJournal;
  using onix::moss::transaction::EncodeJournal;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = DecodeJournal(in);
  if (!r.ok()) return 0;
  const std::string again = EncodeJournal(*r);
  auto back = DecodeJournal(again);
  if (!back.ok() || !(*back == *r)) std::abort();
  // Any single flipped bit of the checksummed part is refused (or, in the header's length or
  // version, refused as well): a corrupt journal never reads as a record.
  for (size_t i = 0; i < again.size(); i += 1 + again.size() / 16) {
    std::string bad = again;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    auto b = DecodeJournal(bad);
    if (b.ok() && !(*b == *r)) std::abort();
  }
  if (DecodeJournal(std::string_view(again).substr(0, again.size() - 1)).ok()) std::abort();
  return 0;
}

// libFuzzer target for boot entries: the input's first line is an entry file name, the rest
// its content. ParseEntryFileName must never accept a name whose state id could be a path or
// carry a '+' counter, and must agree with the name it is given; ParseEntry must take any
// bytes. Aborts on a broken invariant. Replayed by //boot/bls/fuzz:entries_fuzzer_replay_test,
// fuzzed with clang by tests/suites/stone_fuzz.sh (docs/testing.md).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "boot/bls/entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  const std::string file(in.substr(0, nl));
  const std::string_view text = nl == std::string_view::npos ? "" : in.substr(nl + 1);
  if (auto name = onix::boot::ParseEntryFileName(file)) {
    const std::string& f = name->fstx;
    if (f.empty() || f == "." || f == ".." || f.size() > 64) std::abort();
    for (char c : f) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.';
      if (!ok) std::abort();
    }
    // The name is exactly onix-<fstx>[+L[-D]].conf.
    std::string again = "onix-" + f;
    if (name->tries_left >= 0) again += "+" + std::to_string(name->tries_left);
    if (name->tries_done >= 0) again += "-" + std::to_string(name->tries_done);
    again += ".conf";
    if (name->tries_done >= 0 && name->tries_left < 0) std::abort();
    // Leading zeros in a counter are the only spelling difference allowed.
    if (again.size() > file.size()) std::abort();
  }
  const onix::boot::BootEntry e = onix::boot::ParseEntry(file, text);
  if (e.file != file) std::abort();
  for (const std::string* v :
       {&e.title, &e.version, &e.sort_key, &e.linux, &e.initrd, &e.options}) {
    if (v->find('\n') != std::string::npos) std::abort();  // one line per key
  }
  return 0;
}

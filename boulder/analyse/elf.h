// A small ELF64 reader for what boulder's analysis needs: the interpreter (PT_INTERP), the
// dynamic section's DT_NEEDED and DT_SONAME, and whether debug sections are present.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace onix::boulder {

struct ElfInfo {
  enum class Type { kExecutable, kSharedObject, kRelocatable, kOther };
  Type type = Type::kOther;
  std::string machine;              // "x86_64", "aarch64", or "machine-<n>"
  std::string interpreter;          // PT_INTERP, empty when absent (static or library)
  std::string soname;               // DT_SONAME
  std::vector<std::string> needed;  // DT_NEEDED, in file order
  bool has_debug_info = false;      // a .debug_* section is present
};

// True when `bytes` start with the ELF magic.
bool LooksLikeElf(std::string_view bytes);

// Parses a 64-bit little-endian ELF image. InvalidArgument "<name>: ..." on truncated or
// inconsistent headers (offsets and sizes are bounds-checked; the input may be hostile).
absl::StatusOr<ElfInfo> ParseElf(std::string_view bytes, std::string_view name);

}  // namespace onix::boulder

#include "moss/state/fstx.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::moss::state {

Fstx Fstx::Make(uint64_t number, const Digest& manifest_digest) {
  return Fstx{number, manifest_digest.Hex().substr(0, 4)};
}

absl::StatusOr<Fstx> Fstx::Parse(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument(StrCat("bad state id '", text, "': ", why,
                                  " (expected a state number like 12 or an fstx like 12-a17c)"));
  };
  const size_t dash = text.find('-');
  const std::string_view num = text.substr(0, dash);
  Fstx out;
  if (num.empty() || num.find_first_not_of("0123456789") != std::string_view::npos ||
      !absl::SimpleAtoi(AbslView(num), &out.number)) {
    return bad("the state number is not a decimal number");
  }
  if (dash != std::string_view::npos) {
    std::string suffix = absl::AsciiStrToLower(AbslView(text.substr(dash + 1)));
    if (suffix.size() != 4 || suffix.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return bad("the suffix is not four hex digits");
    }
    out.suffix = suffix;
  }
  return out;
}

absl::StatusOr<Fstx> Fstx::ParseExact(std::string_view text) {
  // Bounded before parsing so that an over-long id is refused as such, not as a number.
  if (text.size() > 25) {
    return InvalidArgument(StrCat("bad state id '", text.substr(0, 25), "...': over-long"));
  }
  ONIX_ASSIGN_OR_RETURN(Fstx f, Parse(text));
  if (f.suffix.empty() || f.ToString() != text) {
    return InvalidArgument(StrCat("bad state id '", text, "': not of the form N-xxxx (lowercase",
                                  " hex) that moss writes"));
  }
  return f;
}

std::string Fstx::ToString() const {
  return suffix.empty() ? StrCat(number) : StrCat(number, "-", suffix);
}

bool Fstx::Names(const Fstx& full) const {
  return number == full.number && (suffix.empty() || suffix == full.suffix);
}

}  // namespace onix::moss::state

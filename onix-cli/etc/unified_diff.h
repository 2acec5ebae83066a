// Line-based unified diff (Myers' O(ND) algorithm), for `onix etc diff`. Text in, text out:
// no shelling out to diff(1), so the output is the same on every machine.
#pragma once

#include <string>
#include <string_view>

namespace onix::cli {

// Returns "" when `a` and `b` are equal, otherwise a unified diff with `context` lines of
// context, headed "--- <a_label>" / "+++ <b_label>". A missing final newline is marked the way
// GNU diff marks it ("\ No newline at end of file").
std::string UnifiedDiff(std::string_view a, std::string_view b, std::string_view a_label,
                        std::string_view b_label, int context = 3);

}  // namespace onix::cli

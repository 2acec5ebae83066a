#include "onix-cli/etc/unified_diff.h"

#include <algorithm>
#include <vector>

#include "moss/base/str_cat.h"

namespace onix::cli {
namespace {

struct Line {
  std::string_view text;  // without the newline
  bool newline = true;
};

std::vector<Line> SplitLines(std::string_view s) {
  std::vector<Line> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string_view::npos) {
      out.push_back({s.substr(start), false});
      break;
    }
    out.push_back({s.substr(start, nl - start), true});
    start = nl + 1;
  }
  return out;
}

bool SameLine(const Line& x, const Line& y) { return x.text == y.text && x.newline == y.newline; }

enum class Op { kKeep, kDelete, kInsert };

// Myers' greedy shortest edit script, with the V arrays kept per step for the backtrack.
std::vector<Op> EditScript(const std::vector<Line>& a, const std::vector<Line>& b) {
  const int n = static_cast<int>(a.size()), m = static_cast<int>(b.size());
  const int max = n + m;
  const int offset = max + 1;
  std::vector<int> v(2 * max + 3, 0);
  std::vector<std::vector<int>> trace;
  for (int d = 0; d <= max; ++d) {
    trace.push_back(v);
    bool done = false;
    for (int k = -d; k <= d; k += 2) {
      int x;
      if (k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1])) {
        x = v[offset + k + 1];
      } else {
        x = v[offset + k - 1] + 1;
      }
      int y = x - k;
      while (x < n && y < m && SameLine(a[x], b[y])) {
        ++x;
        ++y;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        done = true;
        break;
      }
    }
    if (done) break;
  }
  std::vector<Op> ops;
  int x = n, y = m;
  for (int d = static_cast<int>(trace.size()) - 1; d >= 0; --d) {
    const std::vector<int>& vd = trace[d];
    const int k = x - y;
    int prev_k;
    if (k == -d || (k != d && vd[offset + k - 1] < vd[offset + k + 1])) {
      prev_k = k + 1;
    } else {
      prev_k = k - 1;
    }
    const int prev_x = vd[offset + prev_k];
    const int prev_y = prev_x - prev_k;
    while (x > prev_x && y > prev_y) {
      ops.push_back(Op::kKeep);
      --x;
      --y;
    }
    if (d > 0) {
      ops.push_back(x == prev_x ? Op::kInsert : Op::kDelete);
    }
    x = prev_x;
    y = prev_y;
  }
  std::reverse(ops.begin(), ops.end());
  return ops;
}

void AppendLine(std::string& out, char tag, const Line& line) {
  out.push_back(tag);
  out.append(line.text);
  out.push_back('\n');
  if (!line.newline) out.append("\\ No newline at end of file\n");
}

std::string Range(int start, int count) {
  // GNU diff: an empty range is shown at the line before it.
  if (count == 0) return StrCat(start, ",0");
  if (count == 1) return StrCat(start + 1);
  return StrCat(start + 1, ",", count);
}

}  // namespace

std::string UnifiedDiff(std::string_view a_text, std::string_view b_text, std::string_view a_label,
                        std::string_view b_label, int context) {
  if (a_text == b_text) return "";
  const std::vector<Line> a = SplitLines(a_text), b = SplitLines(b_text);
  const std::vector<Op> ops = EditScript(a, b);
  std::string out = StrCat("--- ", a_label, "\n+++ ", b_label, "\n");
  // Walk the script, cutting it into hunks separated by more than 2*context kept lines.
  size_t i = 0;
  int ai = 0, bi = 0;
  while (i < ops.size()) {
    if (ops[i] == Op::kKeep) {
      ++i;
      ++ai;
      ++bi;
      continue;
    }
    // A change starts at i: back up `context` kept lines.
    size_t start = i;
    int back = 0;
    while (start > 0 && ops[start - 1] == Op::kKeep && back < context) {
      --start;
      ++back;
    }
    int hunk_a = ai - back, hunk_b = bi - back;
    size_t end = i;
    int kept_run = 0;
    int a_count = back, b_count = back;
    int ca = ai, cb = bi;
    while (end < ops.size()) {
      if (ops[end] == Op::kKeep) {
        // Look ahead: does another change follow within 2*context kept lines?
        size_t look = end;
        int run = 0;
        while (look < ops.size() && ops[look] == Op::kKeep) {
          ++look;
          ++run;
        }
        if (look == ops.size() || run > 2 * context) {
          kept_run = std::min(run, context);
          break;
        }
        a_count += run;
        b_count += run;
        ca += run;
        cb += run;
        end = look;
        continue;
      }
      if (ops[end] == Op::kDelete) {
        ++a_count;
        ++ca;
      } else {
        ++b_count;
        ++cb;
      }
      ++end;
    }
    a_count += kept_run;
    b_count += kept_run;
    out += StrCat("@@ -", Range(hunk_a, a_count), " +", Range(hunk_b, b_count), " @@\n");
    int pa = hunk_a, pb = hunk_b;
    for (size_t j = start; j < end + static_cast<size_t>(kept_run); ++j) {
      switch (ops[j]) {
        case Op::kKeep:
          AppendLine(out, ' ', a[pa]);
          ++pa;
          ++pb;
          break;
        case Op::kDelete:
          AppendLine(out, '-', a[pa]);
          ++pa;
          break;
        case Op::kInsert:
          AppendLine(out, '+', b[pb]);
          ++pb;
          break;
      }
    }
    i = end + static_cast<size_t>(kept_run);
    ai = pa;
    bi = pb;
  }
  return out;
}

}  // namespace onix::cli

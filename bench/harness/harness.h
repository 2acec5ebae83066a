// The benchmark harness: every ONIX figure is measured against a baseline in the same run,
// interleaved (A B A B ...) because file-creation cost on these machines swings 3-4x within
// minutes, and reported as the median of the pairwise ratios.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace onix::bench {

// One row of build/bench/results.json, with exactly the keys the issue fixes.
struct Figure {
  std::string name;
  double value = 0;  // median of the ONIX runs
  std::string unit;  // "s", "ms", "MiB", "x"
  std::string baseline;
  double baseline_value = 0;  // median of the baseline runs (0 when there is none)
  double ratio = 0;           // median of value_i / baseline_i (0 when there is no baseline)
  std::string target;         // e.g. "<= 1.2x", "< 10 ms"
  bool pass = false;
  int runs = 0;
  double min = 0, max = 0;  // of the ONIX runs
};

nlohmann::json ToJson(const Figure& f);
absl::StatusOr<Figure> FigureFromJson(const nlohmann::json& j);

// A timed action: returns its own measurement (seconds, or any unit) or an error. Setup work
// that must not be timed (re-reading inputs, removing the previous output) happens inside
// before the clock starts, using Stopwatch.
using Trial = std::function<absl::StatusOr<double>()>;

struct Comparison {
  std::string name, unit, baseline;
  double max_ratio = 1.0;  // pass when ratio <= max_ratio
  int runs = 5;            // measured pairs after one warm-up pair
};

// Runs one warm-up of each, then `runs` interleaved pairs, and fills a Figure.
absl::StatusOr<Figure> Compare(const Comparison& c, const Trial& onix, const Trial& baseline);

// A figure without a baseline (e.g. switch time "< 10 ms", peak RSS "< 128 MiB").
absl::StatusOr<Figure> Absolute(const std::string& name, const std::string& unit, int runs,
                                double max_value, const Trial& trial);

double Median(std::vector<double> v);

// Wall-clock seconds of `fn`.
double TimeIt(const std::function<void()>& fn);

// Runs argv (no shell) as a child, returning wall seconds and the child's peak RSS in KiB;
// an error naming the command when it fails to start or exits non-zero.
struct ChildRun {
  double seconds = 0;
  long max_rss_kib = 0;
};
absl::StatusOr<ChildRun> RunChild(const std::vector<std::string>& argv);
// `sh -c command`, for baselines that are pipelines (tar | zstd).
absl::StatusOr<ChildRun> RunShell(const std::string& command);

// Reads every file under `path` so the next timed run starts from a warm page cache (idle
// pages are evicted here after about a minute).
absl::Status WarmTree(const std::string& path);

// Appends figures to the JSON array in `path` (creating it); a figure whose name is already
// there replaces the earlier one in place.
absl::Status AppendResults(const std::string& path, const std::vector<Figure>& figures);

// A plain table for the terminal.
std::string FormatTable(const std::vector<Figure>& figures);

}  // namespace onix::bench

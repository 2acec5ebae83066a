#include "bench/harness/harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_format.h"
#include "moss/base/fd.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

extern char** environ;

namespace onix::bench {
namespace {

std::string Fmt(double v) { return absl::StrFormat("%.4g", v); }

absl::Status WarmDir(const std::string& path, std::string& buf) {
  std::vector<std::string> stack{path};
  while (!stack.empty()) {
    std::string dir = stack.back();
    stack.pop_back();
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
      const int err = errno;
      return ErrnoError(err, StrCat("opening ", dir));
    }
    DIR* d = ::fdopendir(dfd);
    if (d == nullptr) {
      ::close(dfd);
      return Internal(StrCat("fdopendir ", dir));
    }
    while (struct dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n == "." || n == "..") continue;
      const std::string p = StrCat(dir, "/", n);
      if (e->d_type == DT_DIR) {
        stack.push_back(p);
      } else if (e->d_type == DT_REG) {
        int fd = ::openat(dfd, e->d_name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        while (::read(fd, buf.data(), buf.size()) > 0) {
        }
        ::close(fd);
      }
    }
    ::closedir(d);
  }
  return absl::OkStatus();
}

}  // namespace

nlohmann::json ToJson(const Figure& f) {
  return {{"name", f.name},
          {"value", f.value},
          {"unit", f.unit},
          {"baseline", f.baseline},
          {"baseline_value", f.baseline_value},
          {"ratio", f.ratio},
          {"target", f.target},
          {"pass", f.pass},
          {"runs", f.runs},
          {"min", f.min},
          {"max", f.max}};
}

absl::StatusOr<Figure> FigureFromJson(const nlohmann::json& j) {
  try {
    Figure f;
    f.name = j.at("name").get<std::string>();
    f.value = j.at("value").get<double>();
    f.unit = j.at("unit").get<std::string>();
    f.baseline = j.at("baseline").get<std::string>();
    f.baseline_value = j.at("baseline_value").get<double>();
    f.ratio = j.at("ratio").get<double>();
    f.target = j.at("target").get<std::string>();
    f.pass = j.at("pass").get<bool>();
    f.runs = j.at("runs").get<int>();
    f.min = j.at("min").get<double>();
    f.max = j.at("max").get<double>();
    return f;
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(StrCat("bad figure record: ", e.what()));
  }
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

absl::StatusOr<Figure> Compare(const Comparison& c, const Trial& onix, const Trial& baseline) {
  ONIX_RETURN_IF_ERROR_CTX(onix().status(), StrCat("warming up ", c.name));
  ONIX_RETURN_IF_ERROR_CTX(baseline().status(), StrCat("warming up ", c.baseline));
  std::vector<double> a, b, ratios;
  for (int i = 0; i < c.runs; ++i) {
    ONIX_ASSIGN_OR_RETURN(double x, onix());
    ONIX_ASSIGN_OR_RETURN(double y, baseline());
    a.push_back(x);
    b.push_back(y);
    if (y > 0) ratios.push_back(x / y);
  }
  Figure f;
  f.name = c.name;
  f.unit = c.unit;
  f.baseline = c.baseline;
  f.value = Median(a);
  f.baseline_value = Median(b);
  f.ratio = Median(ratios);
  f.target = absl::StrFormat("<= %gx", c.max_ratio);
  f.pass = !ratios.empty() && f.ratio <= c.max_ratio;
  f.runs = c.runs;
  f.min = *std::min_element(a.begin(), a.end());
  f.max = *std::max_element(a.begin(), a.end());
  return f;
}

absl::StatusOr<Figure> Absolute(const std::string& name, const std::string& unit, int runs,
                                double max_value, const Trial& trial) {
  ONIX_RETURN_IF_ERROR_CTX(trial().status(), StrCat("warming up ", name));
  std::vector<double> a;
  for (int i = 0; i < runs; ++i) {
    ONIX_ASSIGN_OR_RETURN(double x, trial());
    a.push_back(x);
  }
  Figure f;
  f.name = name;
  f.unit = unit;
  f.baseline = "none";
  f.value = Median(a);
  f.target = absl::StrFormat("< %g %s", max_value, unit);
  f.pass = f.value < max_value;
  f.runs = runs;
  f.min = *std::min_element(a.begin(), a.end());
  f.max = *std::max_element(a.begin(), a.end());
  return f;
}

double TimeIt(const std::function<void()>& fn) {
  const auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

namespace {

// The rss_wrap helper (a data dependency of this library): beside a test in its runfiles, in a
// binary's runfiles tree, or next to it in bazel-bin (every benchmark is bench/<name>/<name>).
absl::StatusOr<std::string> RssWrapPath() {
  static const std::string found = [] {
    std::vector<std::string> candidates;
    for (const char* env : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
      if (const char* d = std::getenv(env)) {
        candidates.push_back(StrCat(d, "/onix/bench/harness/rss_wrap"));
      }
    }
    char buf[4096];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n > 0) {
      const std::string self(buf, static_cast<size_t>(n));
      candidates.push_back(StrCat(self, ".runfiles/onix/bench/harness/rss_wrap"));
      const size_t slash = self.rfind('/');
      candidates.push_back(StrCat(self.substr(0, slash), "/../harness/rss_wrap"));
    }
    for (const auto& c : candidates) {
      if (::access(c.c_str(), X_OK) == 0) return c;
    }
    return std::string();
  }();
  if (found.empty()) {
    return FailedPrecondition("no bench/harness/rss_wrap beside this binary or in its runfiles");
  }
  return found;
}

}  // namespace

absl::StatusOr<ChildRun> RunChild(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const auto& a : argv) cmd += StrCat(cmd.empty() ? "" : " ", a);
  ONIX_ASSIGN_OR_RETURN(const std::string wrap, RssWrapPath());
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    const int err = errno;
    return ErrnoError(err, "pipe2");
  }
  UniqueFd rd(p[0]), wr(p[1]);
  // Spawned through rss_wrap, whose fork starts from its own small address space: the peak
  // RSS is the command's, not ours (see rss_wrap.c).
  std::vector<std::string> full = {wrap, std::to_string(wr.get())};
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<char*> args;
  for (const auto& a : full) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  // dup2 onto itself clears FD_CLOEXEC in the child only (glibc >= 2.29).
  ::posix_spawn_file_actions_adddup2(&actions, wr.get(), wr.get());
  pid_t pid;
  const int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return ErrnoError(rc, StrCat("starting ", cmd));
  wr.reset();
  std::string report;
  char buf[128];
  for (;;) {
    const ssize_t n = ::read(rd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    report.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    const int err = errno;
    if (err != EINTR) return ErrnoError(err, StrCat("waiting for ", cmd));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Internal(StrCat("'", cmd, "' failed with status ", status));
  }
  ChildRun run;
  if (std::sscanf(report.c_str(), "%ld %lf", &run.max_rss_kib, &run.seconds) != 2) {
    return Internal(StrCat("running '", cmd, "': no report from rss_wrap"));
  }
  return run;
}

absl::StatusOr<ChildRun> RunShell(const std::string& command) {
  return RunChild({"/bin/sh", "-c", command});
}

absl::Status WarmTree(const std::string& path) {
  std::string buf(1 << 20, '\0');
  return WarmDir(path, buf);
}

absl::Status AppendResults(const std::string& path, const std::vector<Figure>& figures) {
  nlohmann::json all = nlohmann::json::array();
  {
    std::ifstream in(path);
    if (in) {
      try {
        in >> all;
      } catch (const nlohmann::json::exception& e) {
        return InvalidArgument(StrCat(path, ": not a JSON array of figures: ", e.what()));
      }
    }
  }
  // A figure measured again replaces the earlier one (tools/bench --only reruns one bench).
  for (const auto& f : figures) {
    nlohmann::json j = ToJson(f);
    bool replaced = false;
    for (auto& have : all) {
      if (have.is_object() && have.value("name", "") == f.name) {
        have = j;
        replaced = true;
        break;
      }
    }
    if (!replaced) all.push_back(std::move(j));
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << all.dump(2) << "\n";
    if (!out) return Internal(StrCat("writing ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("rename(", tmp, ", ", path, ")"));
  }
  return absl::OkStatus();
}

std::string FormatTable(const std::vector<Figure>& figures) {
  std::ostringstream out;
  out << absl::StrFormat("%-44s %12s %-28s %12s %8s %-12s %s\n", "figure", "value", "baseline",
                         "baseline", "ratio", "target", "pass");
  for (const auto& f : figures) {
    out << absl::StrFormat(
        "%-44s %12s %-28s %12s %8s %-12s %s\n", f.name, StrCat(Fmt(f.value), " ", f.unit),
        f.baseline, f.baseline_value ? StrCat(Fmt(f.baseline_value), " ", f.unit) : "-",
        f.ratio ? StrCat(Fmt(f.ratio), "x") : "-", f.target, f.pass ? "PASS" : "FAIL");
  }
  return out.str();
}

}  // namespace onix::bench

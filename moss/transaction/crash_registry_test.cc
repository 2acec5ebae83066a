// The crash matrix cannot miss a crash point: every CrashPoint("...") call site in the sources
// is in one of the lists the crash tests iterate (kCrashPoints, kRemoveCrashPoints,
// kRollbackCrashPoints, boot::kBootSyncCrashPoints), and every listed point has a call site.
//
// The test reads the checkout itself (found through its crash_point.h runfile), so it is
// tagged "external" in BUILD.bazel: a new call site in any file must re-run it, not hit a
// cached result keyed on this test's declared inputs.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "boot/bls/sync.h"
#include "gtest/gtest.h"
#include "moss/transaction/crash_point.h"

namespace onix::moss::transaction {
namespace {

namespace fs = std::filesystem;

// The checkout: crash_point.h's runfile links back to moss/transaction/crash_point.h in it.
fs::path Checkout() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr || ws == nullptr) return {};
  std::error_code ec;
  const fs::path header =
      fs::canonical(fs::path(srcdir) / ws / "moss/transaction/crash_point.h", ec);
  if (ec) return {};
  return header.parent_path().parent_path().parent_path();
}

struct CallSites {
  std::map<std::string, std::vector<std::string>> points;  // point -> "file:line"
  std::vector<std::string> non_literal;                    // "file:line" of CrashPoint(expr)
  std::set<std::string> files;                             // files holding a call site
};

CallSites Scan(const fs::path& root) {
  CallSites out;
  const std::regex literal(R"re(\bCrashPoint\(\s*"([^"]*)"\s*\))re");
  const std::regex any_call(R"re(\bCrashPoint\()re");
  const std::set<std::string> skip_dirs = {".git", "build", "third_party", "node_modules"};
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path& p = it->path();
    const std::string name = p.filename().string();
    if (it->is_directory() || it->is_symlink()) {
      if (skip_dirs.count(name) || name.rfind("bazel-", 0) == 0 || it->is_symlink()) {
        it.disable_recursion_pending();
      }
      continue;
    }
    const std::string ext = p.extension().string();
    if (ext != ".cc" && ext != ".h") continue;
    // The definition and the tests call CrashPoint with names of their own.
    if (name == "crash_point.cc" || name == "crash_point.h" ||
        name.find("_test.cc") != std::string::npos) {
      continue;
    }
    std::ifstream in(p);
    std::string line;
    int n = 0;
    const std::string rel = fs::relative(p, root).string();
    while (std::getline(in, line)) {
      ++n;
      const std::string where = rel + ":" + std::to_string(n);
      // A declaration or definition (moss's, and boot/bls/entries.h's own), not a call.
      if (line.find("void CrashPoint(") != std::string::npos) continue;
      auto begin = std::sregex_iterator(line.begin(), line.end(), any_call);
      const auto calls = std::distance(begin, std::sregex_iterator());
      long literals = 0;
      for (auto m = std::sregex_iterator(line.begin(), line.end(), literal);
           m != std::sregex_iterator(); ++m, ++literals) {
        out.points[(*m)[1].str()].push_back(where);
        out.files.insert(rel);
      }
      if (calls > literals) out.non_literal.push_back(where + ": " + line);
    }
  }
  return out;
}

std::set<std::string> Registered() {
  std::set<std::string> out;
  for (auto p : kCrashPoints) out.emplace(p);
  for (auto p : kRemoveCrashPoints) out.emplace(p);
  for (auto p : kRollbackCrashPoints) out.emplace(p);
  for (size_t i = 0; i < boot::kBootSyncCrashPointCount; ++i) {
    out.emplace(boot::kBootSyncCrashPoints[i]);
  }
  return out;
}

TEST(CrashRegistry, EveryCallSiteIsInAMatrixListAndEveryListedPointHasOne) {
  const fs::path root = Checkout();
  ASSERT_FALSE(root.empty()) << "cannot find the checkout from the crash_point.h runfile";
  const CallSites sites = Scan(root);
  // The scan saw the files that are known to hold crash points: it cannot pass by reading
  // nothing.
  for (const char* f : {"moss/transaction/ladder.cc", "moss/transaction/transaction.cc",
                        "moss/transaction/maintenance.cc", "boot/bls/sync.cc"}) {
    EXPECT_TRUE(sites.files.count(f)) << "no CrashPoint call found in " << f << " under " << root;
  }
  EXPECT_TRUE(sites.non_literal.empty())
      << "CrashPoint() takes a string literal, so this test can list it: "
      << (sites.non_literal.empty() ? "" : sites.non_literal.front());
  const std::set<std::string> registered = Registered();
  for (const auto& [point, where] : sites.points) {
    EXPECT_TRUE(registered.count(point))
        << "CrashPoint(\"" << point << "\") at " << where.front()
        << " is in no crash list (crash_point.h kCrashPoints, kRemoveCrashPoints, "
           "kRollbackCrashPoints, or boot/bls/sync.cc kBootSyncCrashPoints): the crash "
           "tests would never crash there";
  }
  for (const std::string& point : registered) {
    EXPECT_TRUE(sites.points.count(point))
        << "\"" << point << "\" is listed but no CrashPoint call site passes it";
  }
}

// The lists hold each point once: a duplicate would crash one point twice and hide that
// another is missing.
TEST(CrashRegistry, EachPointIsListedOnce) {
  std::vector<std::string> all;
  for (auto p : kCrashPoints) all.emplace_back(p);
  for (auto p : kRemoveCrashPoints) all.emplace_back(p);
  for (auto p : kRollbackCrashPoints) all.emplace_back(p);
  for (size_t i = 0; i < boot::kBootSyncCrashPointCount; ++i) {
    all.emplace_back(boot::kBootSyncCrashPoints[i]);
  }
  std::sort(all.begin(), all.end());
  const auto dup = std::adjacent_find(all.begin(), all.end());
  EXPECT_EQ(dup, all.end()) << "listed twice: " << *dup;
}

}  // namespace
}  // namespace onix::moss::transaction

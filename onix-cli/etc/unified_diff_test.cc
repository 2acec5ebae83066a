#include "onix-cli/etc/unified_diff.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace onix::cli {
namespace {

std::string WriteTemp(const std::string& name, const std::string& data) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = std::string(dir ? dir : "/tmp") + "/" + name;
  std::ofstream(path, std::ios::binary) << data;
  return path;
}

// GNU diff is the reference: our hunks must be byte-identical to `diff -u` bodies.
std::string GnuDiffBody(const std::string& a, const std::string& b) {
  std::string pa = WriteTemp("a.txt", a), pb = WriteTemp("b.txt", b);
  std::string cmd = "diff -u " + pa + " " + pb + " | tail -n +3";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

std::string OurBody(const std::string& a, const std::string& b) {
  std::string d = UnifiedDiff(a, b, "a", "b");
  return d.substr(d.find('\n', d.find('\n') + 1) + 1);
}

TEST(UnifiedDiff, EqualInputsGiveEmptyDiff) { EXPECT_EQ(UnifiedDiff("x\n", "x\n", "a", "b"), ""); }

TEST(UnifiedDiff, MatchesGnuDiffOnTypicalEtcEdits) {
  std::string base;
  for (int i = 0; i < 30; ++i) base += "line " + std::to_string(i) + "\n";
  std::string edited = base;
  edited.replace(edited.find("line 3\n"), 7, "changed 3\n");
  edited.replace(edited.find("line 25\n"), 8, "");
  edited += "appended\n";
  const std::pair<std::string, std::string> cases[] = {
      {base, edited},
      {"", "new\n"},
      {"old\n", ""},
      {"a\nb\nc\n", "a\nb\nc"},
      {"root:x:0:0\n", "root:x:0:0\nalice:x:1000:1000\n"},
  };
  for (const auto& [a, b] : cases) {
    EXPECT_EQ(OurBody(a, b), GnuDiffBody(a, b)) << "a=" << a << "\nb=" << b;
  }
}

TEST(UnifiedDiff, HeadsWithLabels) {
  std::string d = UnifiedDiff("a\n", "b\n", "/usr/share/defaults/etc/hostname", "/etc/hostname");
  EXPECT_EQ(
      d.rfind("--- /usr/share/defaults/etc/hostname\n+++ /etc/hostname\n@@ -1 +1 @@\n-a\n+b\n", 0),
      0u)
      << d;
}

}  // namespace
}  // namespace onix::cli

#include "tools/clidoc/clidoc.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace onix::clidoc {
namespace {

struct Sample {
  CLI::App app{"sample tool"};
  std::string root;
  bool json = false;
  Sample() {
    app.add_option("--root", root, "Machine root");
    app.add_flag("--json", json, "Machine-readable output");
    CLI::App* etc = app.add_subcommand("etc", "Compare /etc");
    etc->add_subcommand("diff", "Show a diff");
    etc->add_subcommand("reset", "Restore a default")
        ->footer("Examples:\n  sample etc reset /etc/hostname");
    app.add_subcommand("status", "Show status");
  }
};

std::string Shell(const std::string& cmd) {
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

TEST(ManPage, ListsEveryCommandOptionAndExample) {
  Sample s;
  std::string man = ManPage(s.app, "sample", "2026-11-24");
  EXPECT_EQ(man.rfind(".TH sample 1", 0), 0u) << man;
  EXPECT_NE(man.find(".B etc\nCompare /etc"), std::string::npos) << man;
  EXPECT_NE(man.find(".SS \"etc reset\""), std::string::npos) << man;
  EXPECT_NE(man.find("\\-\\-root"), std::string::npos) << man;
  EXPECT_NE(man.find("sample etc reset /etc/hostname"), std::string::npos) << man;
}

TEST(BashCompletion, CompletesSubcommandsAtEveryDepthInRealBash) {
  Sample s;
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir ? dir : "/tmp") + "/sample.bash";
  std::ofstream(path) << BashCompletion(s.app, "sample");
  auto complete = [&](const std::string& words, int cword) {
    return Shell("bash -c 'source " + path + "; COMP_WORDS=(" + words +
                 "); COMP_CWORD=" + std::to_string(cword) + "; _sample; echo \"${COMPREPLY[*]}\"'");
  };
  EXPECT_EQ(complete("sample st", 1), "status\n");
  EXPECT_EQ(complete("sample --json etc r", 3), "reset\n");
  EXPECT_EQ(complete("sample --r", 1), "--root\n");
}

TEST(FishAndZshCompletion, NameEverySubcommand) {
  Sample s;
  std::string fish = FishCompletion(s.app, "sample");
  EXPECT_NE(fish.find("-a reset -d 'Restore a default'"), std::string::npos) << fish;
  std::string zsh = ZshCompletion(s.app, "sample");
  EXPECT_EQ(zsh.rfind("#compdef sample\n", 0), 0u);
  EXPECT_NE(zsh.find("'diff:Show a diff'"), std::string::npos) << zsh;
}

TEST(MaybeGenerate, IgnoresNormalArgvAndRejectsUnknownKinds) {
  Sample s;
  char a0[] = "sample", a1[] = "status", a2[] = "__generate", a3[] = "pdf";
  char* normal[] = {a0, a1};
  EXPECT_EQ(MaybeGenerate(s.app, "sample", 2, normal), -1);
  char* bad[] = {a0, a2, a3};
  EXPECT_EQ(MaybeGenerate(s.app, "sample", 3, bad), 2);
}

}  // namespace
}  // namespace onix::clidoc

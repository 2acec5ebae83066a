#include "boulder/buildroot/host_toolchain.h"

#include <algorithm>
#include <string>

#include "boulder/recipe/macros.h"
#include "boulder/util/util.h"
#include "gtest/gtest.h"
#include "moss/base/temp_dir.h"

namespace onix::boulder {
namespace {

const HostEntry* Find(const HostToolchain& tc, const std::string& path) {
  for (const HostEntry& e : tc.entries) {
    if (e.path == path) return &e;
  }
  return nullptr;
}

// These read the quarry host the suite runs on (Debian with musl-tools, docs/boulder.md).
TEST(ResolveHostToolchain, ShippedMuslDeclarationResolvesWithLinksAndLibraries) {
  auto tc = ResolveHostToolchain(HostToolchainFile(DefaultMacroDir(), "musl"), {});
  ASSERT_TRUE(tc.ok()) << tc.status();
  ASSERT_EQ(tc->files.size(), 2u);  // musl.yaml and the base.yaml it includes
  EXPECT_EQ(tc->digest.size(), 64u);
  EXPECT_NE(Find(*tc, "/usr/bin/musl-gcc"), nullptr);
  const HostEntry* make = Find(*tc, "/usr/bin/make");
  ASSERT_NE(make, nullptr);
  EXPECT_EQ(make->kind, HostEntry::Kind::kFile);
  // /usr/bin/cc -> /etc/alternatives/cc -> ... : the link is kept and its target followed.
  const HostEntry* cc = Find(*tc, "/usr/bin/cc");
  ASSERT_NE(cc, nullptr);
  EXPECT_EQ(cc->kind, HostEntry::Kind::kSymlink);
  // gcc's own libraries and glibc come in as the programs' DT_NEEDED and interpreter.
  EXPECT_NE(Find(*tc, "/usr/lib/x86_64-linux-gnu/libc.so.6"), nullptr);
  bool has_mpfr = false;
  for (const HostEntry& e : tc->entries) has_mpfr |= e.path.find("libmpfr.so") != std::string::npos;
  EXPECT_TRUE(has_mpfr) << "cc1 needs libmpfr";
  // Not the whole /usr, and nothing below a bound directory.
  EXPECT_EQ(Find(*tc, "/usr"), nullptr);
  EXPECT_EQ(Find(*tc, "/usr/bin/python3"), nullptr);
  const HostEntry* musl_lib = Find(*tc, "/usr/lib/x86_64-linux-musl");
  ASSERT_NE(musl_lib, nullptr);
  EXPECT_EQ(musl_lib->kind, HostEntry::Kind::kDir);
  EXPECT_EQ(Find(*tc, "/usr/lib/x86_64-linux-musl/libc.so"), nullptr);
  EXPECT_TRUE(
      std::is_sorted(tc->entries.begin(), tc->entries.end(),
                     [](const HostEntry& a, const HostEntry& b) { return a.path < b.path; }));
}

TEST(ResolveHostToolchain, ShippedGlibcDeclarationHasGccButNotMusl) {
  auto tc = ResolveHostToolchain(HostToolchainFile(DefaultMacroDir(), "glibc"), {});
  ASSERT_TRUE(tc.ok()) << tc.status();
  EXPECT_NE(Find(*tc, "/usr/bin/gcc"), nullptr);
  EXPECT_NE(Find(*tc, "/usr/lib/x86_64-linux-gnu/crt1.o"), nullptr);
  EXPECT_EQ(Find(*tc, "/usr/bin/musl-gcc"), nullptr);
  EXPECT_EQ(Find(*tc, "/usr/lib/x86_64-linux-musl"), nullptr);
}

TEST(ResolveHostToolchain, MissingDeclaredPathIsAnErrorNamingTheFileAndLine) {
  auto tmp = TempDir::Make("host-tc-");
  ASSERT_TRUE(tmp.ok());
  const std::string file = tmp->path() + "/t.yaml";
  ASSERT_TRUE(WriteFile(file,
                        "library-dirs: [/usr/lib/x86_64-linux-gnu]\n"
                        "paths:\n  - /usr/bin/make\n  - /usr/bin/no-such-tool-{x,y}\n")
                  .ok());
  auto tc = ResolveHostToolchain(file, {});
  ASSERT_FALSE(tc.ok());
  EXPECT_NE(tc.status().message().find(
                file + ":4: declared host path /usr/bin/no-such-tool-{x,y} matches nothing"),
            std::string::npos)
      << tc.status();
}

TEST(ResolveHostToolchain, ProgramBringsItsLibrariesAndRecipeUsrBringsAlternatives) {
  auto tmp = TempDir::Make("host-tc-");
  ASSERT_TRUE(tmp.ok());
  const std::string file = tmp->path() + "/t.yaml";
  ASSERT_TRUE(
      WriteFile(file, "library-dirs: [/usr/lib/x86_64-linux-gnu]\npaths:\n  - /usr/bin/make\n")
          .ok());
  auto tc = ResolveHostToolchain(file, {});
  ASSERT_TRUE(tc.ok()) << tc.status();
  EXPECT_NE(Find(*tc, "/usr/bin/make"), nullptr);
  EXPECT_NE(Find(*tc, "/usr/lib/x86_64-linux-gnu/libc.so.6"), nullptr);
  EXPECT_EQ(Find(*tc, "/usr/bin/sed"), nullptr);

  auto whole = ResolveHostToolchain(file, {"/usr"});
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_NE(Find(*whole, "/usr"), nullptr);
  EXPECT_EQ(Find(*whole, "/usr/bin/make"), nullptr);  // inside the bound /usr
  EXPECT_NE(Find(*whole, "/etc/alternatives"), nullptr);
}

}  // namespace
}  // namespace onix::boulder

#include "boulder/recipe/macros.h"

#include <string>

#include "gtest/gtest.h"

namespace onix::boulder {
namespace {

TEST(MacroSet, ShippedDataFilesDefineTheBuildSystemsAndPaths) {
  const std::string dir = DefaultMacroDir();
  ASSERT_FALSE(dir.empty());
  auto set = MacroSet::LoadDir(dir);
  ASSERT_TRUE(set.ok()) << set.status();
  for (const char* a : {"configure", "make", "make_install", "cmake", "cmake_build",
                        "cmake_install", "meson", "meson_build", "meson_install"}) {
    EXPECT_TRUE(set->HasAction(a)) << a;
  }
  for (const char* d : {"prefix", "installroot", "libdir", "bindir"}) {
    EXPECT_TRUE(set->HasDefinition(d)) << d;
  }
  EXPECT_FALSE(set->prelude().empty());
  set->Define("jobs", "7");
  auto make = set->Expand("%make", "r", 1);
  ASSERT_TRUE(make.ok()) << make.status();
  EXPECT_EQ(*make, "make -j7 V=1");
  auto inst = set->Expand("%make_install", "r", 1);
  ASSERT_TRUE(inst.ok());
  EXPECT_EQ(*inst, "make install DESTDIR=\"/mason/install\" V=1");
  auto conf = set->Expand("%configure", "r", 1);
  ASSERT_TRUE(conf.ok());
  EXPECT_NE(conf->find("--prefix=/usr --bindir=/usr/bin"), std::string::npos) << *conf;
}

MacroSet Small() {
  MacroSet set;
  absl::Status s = set.AddFile(
      "definitions:\n  - prefix: /usr\n  - libdir: \"%(prefix)/lib\"\n"
      "actions:\n  - hi:\n      command: echo %(libdir)\n",
      "small.yaml");
  EXPECT_TRUE(s.ok()) << s;
  return set;
}

TEST(MacroSet, ExpandsNestedMacrosAndLeavesShellPercentAlone) {
  MacroSet set = Small();
  auto out = set.Expand("%hi; x=${f%.c}; echo 100%% %(prefix)", "r", 1);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "echo /usr/lib; x=${f%.c}; echo 100% /usr");
}

TEST(MacroSet, UnknownMacroNamesFileAndLine) {
  MacroSet set = Small();
  auto a = set.Expand("true\n\n%hi\n%nope\n", "pkg/stone.yaml", 20);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().message(), "pkg/stone.yaml:23: unknown macro %nope");
  auto b = set.Expand("cd %(nowhere)", "pkg/stone.yaml", 5);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().message(), "pkg/stone.yaml:5: unknown macro %(nowhere)");
}

TEST(MacroSet, RecursiveDefinitionIsAnErrorNotAHang) {
  MacroSet set;
  ASSERT_TRUE(set.AddFile("definitions:\n  - a: \"%(a)\"\n", "loop.yaml").ok());
  auto r = set.Expand("%(a)", "r", 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nest"), std::string::npos);
}

TEST(MacroSet, DuplicateDefinitionNamesBothFiles) {
  MacroSet set = Small();
  absl::Status s = set.AddFile("definitions:\n  - prefix: /opt\n", "other.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "other.yaml:2: %(prefix) is already defined in small.yaml");
}

}  // namespace
}  // namespace onix::boulder

#include "boulder/package/package.h"

#include <string>

#include "boulder/recipe/macros.h"
#include "boulder/util/util.h"
#include "gtest/gtest.h"
#include "moss/base/temp_dir.h"

namespace onix::boulder {
namespace {

// The split boulder ships (boulder/data/split.yaml).
std::vector<SplitPackage> ShippedSplit() {
  auto split = LoadSplit(SplitFile(DefaultMacroDir()));
  EXPECT_TRUE(split.ok()) << split.status();
  return split.ok() ? *split : std::vector<SplitPackage>{};
}

TEST(PathMatches, GlobsSpanDirectoriesAndDirectoriesMatchTheirContents) {
  EXPECT_TRUE(PathMatches("/usr/include", "/usr/include/a/b.h"));
  EXPECT_TRUE(PathMatches("/usr/include/", "/usr/include/a.h"));
  EXPECT_FALSE(PathMatches("/usr/include", "/usr/includes/a.h"));
  EXPECT_TRUE(PathMatches("/usr/lib/*.a", "/usr/lib/libz.a"));
  EXPECT_TRUE(PathMatches("/usr/bin/*", "/usr/bin/x"));
  EXPECT_FALSE(PathMatches("/usr/lib/*.a", "/usr/lib/libz.so"));
}

TEST(PlanPackages, DefaultSplitPutsDevelopmentDocsAndDebugFilesInTheirPackages) {
  Recipe r;
  r.name = "zlib";
  r.summary = "Compression";
  r.description = "zlib.";
  const std::vector<std::string> paths = {"/usr/include/zlib.h",
                                          "/usr/lib/debug/usr/lib/libz.so.1.debug",
                                          "/usr/lib/libz.a",
                                          "/usr/lib/libz.so",
                                          "/usr/lib/libz.so.1",
                                          "/usr/lib/pkgconfig/zlib.pc",
                                          "/usr/share/man/man3/zlib.3",
                                          "/usr/share/doc/zlib/README",
                                          "/usr/lib/libc.so"};
  // libz.so is the development symlink; libc.so (musl's) is a real library.
  auto plans = PlanPackages(r, ShippedSplit(), paths, {"/usr/lib/libz.so"});
  ASSERT_EQ(plans.size(), 4u);
  EXPECT_EQ(plans[0].spec.name, "zlib");
  EXPECT_EQ(plans[0].spec.summary, "Compression");
  EXPECT_EQ(plans[0].files, (std::vector<std::string>{"/usr/lib/libz.so.1", "/usr/lib/libc.so"}));
  EXPECT_EQ(plans[1].spec.name, "zlib-dbginfo");
  EXPECT_EQ(plans[2].spec.name, "zlib-devel");
  EXPECT_EQ(plans[2].files,
            (std::vector<std::string>{"/usr/include/zlib.h", "/usr/lib/libz.a", "/usr/lib/libz.so",
                                      "/usr/lib/pkgconfig/zlib.pc", "/usr/share/man/man3/zlib.3"}));
  EXPECT_EQ(plans[2].spec.summary, "Development files for zlib");
  EXPECT_EQ(plans[3].spec.name, "zlib-docs");
  EXPECT_EQ(plans[3].files, std::vector<std::string>{"/usr/share/doc/zlib/README"});
}

TEST(PlanPackages, RecipeGlobsWinOverDefaultsAndEmptyPackagesAreDropped) {
  Recipe r;
  r.name = "tools";
  PackageSpec extra;
  extra.name = "tools-extra";
  extra.summary = "Extra tools";
  extra.paths = {"/usr/bin/extra-*", "/usr/include/extra.h"};
  r.packages = {extra};
  auto plans = PlanPackages(r, ShippedSplit(),
                            {"/usr/bin/extra-a", "/usr/bin/main", "/usr/include/extra.h"}, {});
  ASSERT_EQ(plans.size(), 2u);
  EXPECT_EQ(plans[0].spec.name, "tools");
  EXPECT_EQ(plans[0].files, std::vector<std::string>{"/usr/bin/main"});
  EXPECT_EQ(plans[1].spec.name, "tools-extra");
  EXPECT_EQ(plans[1].spec.summary, "Extra tools");
  EXPECT_EQ(plans[1].files, (std::vector<std::string>{"/usr/bin/extra-a", "/usr/include/extra.h"}));
}

TEST(LoadSplit, TheSplitIsDataAnotherFileSplitsDifferently) {
  auto tmp = TempDir::Make("split-test-");
  ASSERT_TRUE(tmp.ok());
  const std::string file = tmp->path() + "/split.yaml";
  ASSERT_TRUE(WriteFile(file,
                        "packages:\n"
                        "  - \"%(name)-headers\":\n"
                        "      summary: Headers of %(name)\n"
                        "      paths: [/usr/include]\n")
                  .ok());
  auto split = LoadSplit(file);
  ASSERT_TRUE(split.ok()) << split.status();
  Recipe r;
  r.name = "zlib";
  auto plans = PlanPackages(r, *split, {"/usr/include/zlib.h", "/usr/lib/libz.a"}, {});
  ASSERT_EQ(plans.size(), 2u);
  EXPECT_EQ(plans[0].spec.name, "zlib");
  EXPECT_EQ(plans[0].files, std::vector<std::string>{"/usr/lib/libz.a"});
  EXPECT_EQ(plans[1].spec.name, "zlib-headers");
  EXPECT_EQ(plans[1].spec.summary, "Headers of zlib");
}

TEST(LoadSplit, BadFieldOrGlobOutsideUsrNamesTheFileAndLine) {
  auto tmp = TempDir::Make("split-test-");
  ASSERT_TRUE(tmp.ok());
  const std::string file = tmp->path() + "/split.yaml";
  ASSERT_TRUE(WriteFile(file, "packages:\n  - x:\n      paths:\n        - /etc/x\n").ok());
  auto bad = LoadSplit(file);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(file + ":4: glob /etc/x is not below /usr/"),
            std::string::npos)
      << bad.status();
  ASSERT_TRUE(WriteFile(file, "packages:\n  - x:\n      globs: [/usr/x]\n").ok());
  bad = LoadSplit(file);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(file + ":3: unknown field globs"), std::string::npos)
      << bad.status();
}

// Provenance: every stone of a recipe carries one Meta input (tag 17) per upstream, then the
// recipe's own `inputs:` lines, in order; manifest.json records the recipe's lines as "inputs".
TEST(EmitPackages, StonesCarryTheUpstreamsThenTheRecipeInputs) {
  auto tmp = TempDir::Make("emit-inputs-");
  ASSERT_TRUE(tmp.ok()) << tmp.status();
  const std::string dir = tmp->path();
  ASSERT_TRUE(RunCommandOk({"mkdir", "-p", dir + "/root/usr/bin", dir + "/scratch"}, dir).ok());
  ASSERT_TRUE(RunCommandOk({"sh", "-c", "echo hi > root/usr/bin/demo"}, dir).ok());
  auto recipe = ParseRecipe(
      "name: demo\nversion: 1.0\nrelease: 1\nlicense: MIT\nsummary: s\n"
      "inputs:\n  - debian-source demo 1:1.0-1 demo_1.0.orig.tar.xz sha256:cd\n",
      "demo/stone.yaml");
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  EmitRequest req;
  req.recipe = &*recipe;
  req.install_root = dir + "/root";
  req.sources = {{"https://example.org/demo-1.0.tar.gz", "archive", "ab", "ab"},
                 {"https://example.org/extra.git", "git", "c0ffee", "ef"}};
  req.split = ShippedSplit();
  req.output_dir = dir + "/out";
  req.scratch_dir = dir + "/scratch";
  auto res = EmitPackages(req);
  ASSERT_TRUE(res.ok()) << res.status();
  ASSERT_FALSE(res->metas.empty());
  const std::vector<std::string> want = {
      "upstream https://example.org/demo-1.0.tar.gz sha256:ab",
      "upstream https://example.org/extra.git git:c0ffee sha256:ef",
      "debian-source demo 1:1.0-1 demo_1.0.orig.tar.xz sha256:cd"};
  for (const auto& m : res->metas) EXPECT_EQ(m.inputs, want) << m.name;
  auto manifest = ReadFile(res->manifest_path);
  ASSERT_TRUE(manifest.ok());
  EXPECT_NE(manifest->find("\"inputs\": [\n    \"debian-source demo 1:1.0-1 "
                           "demo_1.0.orig.tar.xz sha256:cd\"\n  ]"),
            std::string::npos)
      << *manifest;
}

}  // namespace
}  // namespace onix::boulder

#include "boulder/package/package.h"

#include <string>

#include "gtest/gtest.h"

namespace onix::boulder {
namespace {

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
  auto plans = PlanPackages(r, paths, {"/usr/lib/libz.so"});
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
  auto plans = PlanPackages(r, {"/usr/bin/extra-a", "/usr/bin/main", "/usr/include/extra.h"}, {});
  ASSERT_EQ(plans.size(), 2u);
  EXPECT_EQ(plans[0].spec.name, "tools");
  EXPECT_EQ(plans[0].files, std::vector<std::string>{"/usr/bin/main"});
  EXPECT_EQ(plans[1].spec.name, "tools-extra");
  EXPECT_EQ(plans[1].spec.summary, "Extra tools");
  EXPECT_EQ(plans[1].files, (std::vector<std::string>{"/usr/bin/extra-a", "/usr/include/extra.h"}));
}

}  // namespace
}  // namespace onix::boulder

#include "moss/solver/solver.h"

#include <sys/stat.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "moss/base/temp_dir.h"

namespace onix::moss::solver {
namespace {

stone::Dependency Dep(const std::string& text) {
  auto d = stone::Dependency::Parse(text);
  EXPECT_TRUE(d.ok()) << d.status();
  return *d;
}

Package Pkg(const std::string& name, const std::string& version,
            std::vector<std::string> depends = {}, std::vector<std::string> provides = {},
            std::vector<std::string> conflicts = {}, uint64_t source_release = 1) {
  Package p;
  p.meta.name = name;
  p.meta.version = version;
  p.meta.source_release = source_release;
  p.meta.build_release = 1;
  p.meta.architecture = "x86_64";
  p.meta.summary = "the " + name + " package";
  for (const auto& d : depends) p.meta.depends.push_back(Dep(d));
  for (const auto& d : provides) p.meta.provides.push_back(Dep(d));
  for (const auto& d : conflicts) p.meta.conflicts.push_back(Dep(d));
  p.stone_digest = Sha256Of(name + version);
  p.stone_size = 1000;
  p.file_name = name + "-" + version + ".stone";
  return p;
}

std::vector<std::string> Names(const std::vector<StoneRef>& refs) {
  std::vector<std::string> out;
  for (const auto& r : refs) out.push_back(r.Nvr());
  return out;
}

Plan MustResolve(Universe& u, const Request& r) {
  auto plan = Resolve(u, r);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return plan.ok() ? *plan : Plan{};
}

TEST(Resolve, InstallFollowsDependencyChain) {
  Universe u;
  ASSERT_TRUE(
      u.AddRepository("main", 0,
                      {Pkg("app", "1.0", {"name(libfoo)"}), Pkg("libfoo", "2.0", {"name(libbar)"}),
                       Pkg("libbar", "3.0"), Pkg("unrelated", "1.0")})
          .ok());
  Plan plan = MustResolve(u, {.install = {"app"}});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(Names(plan.installs),
            (std::vector<std::string>{"app 1.0-1-1", "libbar 3.0-1-1", "libfoo 2.0-1-1"}));
  EXPECT_EQ(plan.download_size, 3000u);
  for (const StoneRef& r : plan.selection) EXPECT_EQ(r.is_explicit, r.name == "app") << r.name;
  EXPECT_EQ(plan.installs[0].stone_digest, Sha256Of("app1.0"));
  EXPECT_EQ(plan.installs[0].file_name, "app-1.0.stone");
  EXPECT_EQ(plan.installs[0].repository, "main");
}

TEST(Resolve, SonameDependencyPicksProvider) {
  Universe u;
  ASSERT_TRUE(u.AddRepository("main", 0,
                              {Pkg("curl", "8.0", {"soname(libz.so.1(x86_64))"}),
                               Pkg("zlib", "1.3", {}, {"soname(libz.so.1(x86_64))"})})
                  .ok());
  Plan plan = MustResolve(u, {.install = {"curl"}});
  EXPECT_EQ(Names(plan.installs), (std::vector<std::string>{"curl 8.0-1-1", "zlib 1.3-1-1"}));
  auto providers = u.WhatProvides("soname(libz.so.1(x86_64))");
  ASSERT_TRUE(providers.ok());
  EXPECT_EQ(Names(*providers), (std::vector<std::string>{"zlib 1.3-1-1"}));
}

TEST(Resolve, InstallByProviderInstallsProvider) {
  Universe u;
  ASSERT_TRUE(u.AddRepository("main", 0, {Pkg("zlib", "1.3", {}, {"pkgconfig(zlib)"})}).ok());
  Plan plan = MustResolve(u, {.install = {"pkgconfig(zlib)"}});
  EXPECT_EQ(Names(plan.installs), (std::vector<std::string>{"zlib 1.3-1-1"}));
}

TEST(Resolve, VersionConstraintSelectsMatchingVersion) {
  Universe u;
  ASSERT_TRUE(u.AddRepository(
                   "main", 0,
                   {Pkg("app", "1.0", {"name(lib) < 2.0"}), Pkg("lib", "1.5"), Pkg("lib", "2.1")})
                  .ok());
  Plan plan = MustResolve(u, {.install = {"app"}});
  EXPECT_EQ(Names(plan.installs), (std::vector<std::string>{"app 1.0-1-1", "lib 1.5-1-1"}));
  Plan newest = MustResolve(u, {.install = {"lib"}});
  EXPECT_EQ(Names(newest.installs), (std::vector<std::string>{"lib 2.1-1-1"}));
  Plan pinned = MustResolve(u, {.install = {"name(lib) >= 2.0"}});
  EXPECT_EQ(Names(pinned.installs), (std::vector<std::string>{"lib 2.1-1-1"}));
}

TEST(Resolve, UnsatisfiableVersionConstraintIsAProblem) {
  Universe u;
  ASSERT_TRUE(
      u.AddRepository("main", 0, {Pkg("app", "1.0", {"name(lib) >= 3"}), Pkg("lib", "2.0")}).ok());
  Plan plan = MustResolve(u, {.install = {"app"}});
  ASSERT_EQ(plan.problems.size(), 1u);
  EXPECT_TRUE(plan.empty());
  EXPECT_NE(plan.problems[0].description.find("app 1.0-1-1 needs lib >= 3"), std::string::npos)
      << plan.problems[0].description;
}

TEST(Resolve, ConflictingPackagesAreAProblemNamingBoth) {
  Universe u;
  ASSERT_TRUE(
      u.AddRepository("main", 0,
                      {Pkg("openssl", "3.0", {}, {}, {"name(libressl)"}), Pkg("libressl", "3.8")})
          .ok());
  Plan plan = MustResolve(u, {.install = {"openssl", "libressl"}});
  ASSERT_FALSE(plan.ok());
  EXPECT_TRUE(plan.selection.empty());
  const std::string& text = plan.problems[0].description;
  EXPECT_NE(text.find("openssl 3.0-1-1"), std::string::npos) << text;
  EXPECT_NE(text.find("libressl"), std::string::npos) << text;
  EXPECT_FALSE(plan.problems[0].solutions.empty());
}

TEST(Resolve, MissingDependencyNamesWhoNeedsWhat) {
  Universe u;
  ASSERT_TRUE(u.AddRepository("main", 0,
                              {Pkg("app", "1.0", {"name(lib)"}),
                               Pkg("lib", "1.0", {"soname(libmissing.so.2(x86_64))"})})
                  .ok());
  Plan plan = MustResolve(u, {.install = {"app"}});
  ASSERT_EQ(plan.problems.size(), 1u);
  EXPECT_EQ(plan.problems[0].description,
            "lib 1.0-1-1 needs soname(libmissing.so.2(x86_64)), which no package provides");
}

TEST(Resolve, UnknownNameIsAProblem) {
  Universe u;
  ASSERT_TRUE(u.AddRepository("main", 0, {Pkg("app", "1.0")}).ok());
  Plan plan = MustResolve(u, {.install = {"nosuch"}});
  ASSERT_EQ(plan.problems.size(), 1u);
  EXPECT_NE(plan.problems[0].description.find("nosuch"), std::string::npos);
}

TEST(Resolve, HigherPriorityRepositoryWinsOverNewerVersion) {
  Universe u;
  ASSERT_TRUE(u.AddRepository("pinned", 10, {Pkg("foo", "1.0")}).ok());
  ASSERT_TRUE(u.AddRepository("upstream", 0, {Pkg("foo", "2.0")}).ok());
  Plan plan = MustResolve(u, {.install = {"foo"}});
  ASSERT_EQ(plan.installs.size(), 1u);
  EXPECT_EQ(plan.installs[0].Nvr(), "foo 1.0-1-1");
  EXPECT_EQ(plan.installs[0].repository, "pinned");
}

TEST(Resolve, SyncDowngradesWhenRepositoryWentBack) {
  Universe u;
  ASSERT_TRUE(u.AddRepository("main", 0, {Pkg("foo", "1.0"), Pkg("bar", "2.0")}).ok());
  ASSERT_TRUE(u.SetInstalled({{Pkg("foo", "1.5"), true}, {Pkg("bar", "1.0"), true}}).ok());
  Plan plan = MustResolve(u, {.sync = true});
  ASSERT_TRUE(plan.ok()) << plan.problems[0].description;
  ASSERT_EQ(plan.downgrades.size(), 1u);
  EXPECT_EQ(plan.downgrades[0].from.Nvr(), "foo 1.5-1-1");
  EXPECT_EQ(plan.downgrades[0].to.Nvr(), "foo 1.0-1-1");
  ASSERT_EQ(plan.upgrades.size(), 1u);
  EXPECT_EQ(plan.upgrades[0].to.Nvr(), "bar 2.0-1-1");
  EXPECT_TRUE(plan.removals.empty());
  EXPECT_EQ(Names(plan.selection), (std::vector<std::string>{"bar 2.0-1-1", "foo 1.0-1-1"}));
  for (const auto& r : plan.selection) EXPECT_TRUE(r.is_explicit);
}

TEST(Resolve, SyncOfUpToDateSystemChangesNothing) {
  Universe u;
  ASSERT_TRUE(u.AddRepository("main", 0, {Pkg("foo", "1.0")}).ok());
  ASSERT_TRUE(u.SetInstalled({{Pkg("foo", "1.0"), true}}).ok());
  Plan plan = MustResolve(u, {.sync = true});
  EXPECT_TRUE(plan.ok());
  EXPECT_TRUE(plan.empty());
  EXPECT_EQ(plan.download_size, 0u);
}

TEST(Resolve, RemoveWithAutoremoveDropsOrphanedDependencies) {
  Universe u;
  ASSERT_TRUE(u.AddRepository("main", 0, {}).ok());
  ASSERT_TRUE(u.SetInstalled({{Pkg("app", "1.0", {"name(lib)"}), true},
                              {Pkg("lib", "1.0", {"name(base)"}), false},
                              {Pkg("base", "1.0"), false},
                              {Pkg("tool", "1.0", {"name(base)"}), true}})
                  .ok());
  Plan keep = MustResolve(u, {.remove = {"app"}});
  EXPECT_EQ(Names(keep.removals), (std::vector<std::string>{"app 1.0-1-1"}));
  Plan plan = MustResolve(u, {.remove = {"app"}, .autoremove = true});
  EXPECT_EQ(Names(plan.removals), (std::vector<std::string>{"app 1.0-1-1", "lib 1.0-1-1"}));
  EXPECT_EQ(Names(plan.selection), (std::vector<std::string>{"base 1.0-1-1", "tool 1.0-1-1"}));
}

TEST(Resolve, OrphansListsDependencyOnlyPackagesNothingNeeds) {
  Universe u;
  ASSERT_TRUE(u.SetInstalled({{Pkg("app", "1.0"), true}, {Pkg("stale", "1.0"), false}}).ok());
  EXPECT_EQ(Names(u.Orphans()), (std::vector<std::string>{"stale 1.0-1-1"}));
  Plan plan = MustResolve(u, {.autoremove = true});
  EXPECT_EQ(Names(plan.removals), (std::vector<std::string>{"stale 1.0-1-1"}));
}

TEST(Resolve, InstallingAnInstalledDependencyMakesItExplicit) {
  Universe u;
  ASSERT_TRUE(u.AddRepository("main", 0, {Pkg("lib", "1.0")}).ok());
  ASSERT_TRUE(
      u.SetInstalled({{Pkg("app", "1.0", {"name(lib)"}), true}, {Pkg("lib", "1.0"), false}}).ok());
  Plan plan = MustResolve(u, {.install = {"lib"}});
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan.installs.empty());
  EXPECT_EQ(Names(plan.promoted), (std::vector<std::string>{"lib 1.0-1-1"}));
  for (const auto& r : plan.selection) EXPECT_TRUE(r.is_explicit) << r.name;
  EXPECT_FALSE(plan.empty());
}

TEST(Resolve, RemovingAPackageThatIsNotInstalledIsAProblem) {
  Universe u;
  ASSERT_TRUE(u.SetInstalled({{Pkg("app", "1.0"), true}}).ok());
  Plan plan = MustResolve(u, {.remove = {"ghost"}});
  ASSERT_EQ(plan.problems.size(), 1u);
  EXPECT_EQ(plan.problems[0].description, "ghost is not installed");
}

TEST(Resolve, RemovingANeededPackageIsAProblem) {
  Universe u;
  ASSERT_TRUE(
      u.SetInstalled({{Pkg("app", "1.0", {"name(lib)"}), true}, {Pkg("lib", "1.0"), false}}).ok());
  Plan plan = MustResolve(u, {.remove = {"lib"}});
  EXPECT_FALSE(plan.ok());
  EXPECT_TRUE(plan.removals.empty());
}

TEST(Resolve, ReplacesRemovesTheReplacedPackage) {
  Universe u;
  Package neu = Pkg("newssl", "1.0");
  neu.meta.replaces.push_back(Dep("name(oldssl)"));
  ASSERT_TRUE(u.AddRepository("main", 0, {neu}).ok());
  ASSERT_TRUE(u.SetInstalled({{Pkg("oldssl", "1.0"), true}}).ok());
  Plan plan = MustResolve(u, {.install = {"newssl"}});
  EXPECT_EQ(Names(plan.installs), (std::vector<std::string>{"newssl 1.0-1-1"}));
  EXPECT_EQ(Names(plan.removals), (std::vector<std::string>{"oldssl 1.0-1-1"}));
}

TEST(Resolve, DebugDirReceivesLibsolvTestcase) {
  auto dir = TempDir::Make("solver-debug");
  ASSERT_TRUE(dir.ok());
  Universe u;
  ASSERT_TRUE(u.AddRepository("main", 0, {Pkg("foo", "1.0")}).ok());
  const std::string out = dir->path() + "/case";
  Plan plan = MustResolve(u, {.install = {"foo"}, .debug_dir = out});
  struct stat st;
  EXPECT_EQ(::stat((out + "/testcase.t").c_str(), &st), 0);
}

TEST(Universe, SolvCacheRoundTripKeepsPackagesAndPayload) {
  auto dir = TempDir::Make("solver-cache");
  ASSERT_TRUE(dir.ok());
  const std::string cache = dir->path() + "/main.solv";
  Package odd = Pkg("odd", "2.0-rc1", {"soname(libz.so.1(x86_64))"});
  {
    Universe u;
    ASSERT_TRUE(u.AddRepository("main", 3,
                                {odd, Pkg("zlib", "1.3", {}, {"soname(libz.so.1(x86_64))"})}, cache)
                    .ok());
  }
  Universe u;
  ASSERT_TRUE(u.LoadRepositoryCache("main", 3, cache).ok());
  EXPECT_EQ(u.package_count(), 2u);
  Plan plan = MustResolve(u, {.install = {"odd"}});
  ASSERT_EQ(plan.installs.size(), 2u);
  EXPECT_EQ(plan.installs[0].version, "2.0-rc1");
  EXPECT_EQ(plan.installs[0].stone_digest, odd.stone_digest);
  EXPECT_EQ(plan.installs[0].stone_size, 1000u);
  EXPECT_EQ(plan.installs[0].summary, "the odd package");
}

TEST(Universe, CorruptSolvCacheIsDataLoss) {
  auto dir = TempDir::Make("solver-cache");
  ASSERT_TRUE(dir.ok());
  const std::string cache = dir->path() + "/bad.solv";
  FILE* f = fopen(cache.c_str(), "w");
  fputs("not a solv file", f);
  fclose(f);
  Universe u;
  EXPECT_EQ(u.LoadRepositoryCache("main", 0, cache).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(u.LoadRepositoryCache("x", 0, dir->path() + "/none.solv").code(),
            absl::StatusCode::kNotFound);
}

TEST(Universe, SearchMatchesNameAndSummaryCaseInsensitively) {
  Universe u;
  Package p = Pkg("zlib", "1.3");
  p.meta.summary = "Compression Library";
  ASSERT_TRUE(u.AddRepository("main", 0, {p, Pkg("curl", "8.0")}).ok());
  EXPECT_EQ(Names(u.Search("COMPRESSION")), (std::vector<std::string>{"zlib 1.3-1-1"}));
  EXPECT_EQ(Names(u.Search("url")), (std::vector<std::string>{"curl 8.0-1-1"}));
}

std::string Fixture(const std::string& name) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  return std::string(srcdir ? srcdir : ".") + "/" + (ws ? ws : "onix") + "/tests/data/solv/" + name;
}

TEST(Fixtures, SonameChainFromTesttagsInstallsEveryProvider) {
  Universe u;
  ASSERT_TRUE(u.AddTesttagsRepository("desktop", 0, Fixture("desktop.repo")).ok());
  Plan plan = MustResolve(u, {.install = {"editor"}});
  ASSERT_TRUE(plan.ok()) << plan.problems[0].description;
  std::vector<std::string> names;
  for (const auto& r : plan.installs) names.push_back(r.name);
  ASSERT_EQ(names.size(), 4u);
  EXPECT_EQ(names[0], "editor");
  EXPECT_EQ(names[1], "glib");
  EXPECT_EQ(names[2], "gtk");
  // Either zlib provider satisfies libz.so.1; exactly one is chosen.
  EXPECT_TRUE(names[3] == "zlib" || names[3] == "zlib-ng") << names[3];
}

TEST(Fixtures, InstalledAlternativeProviderIsKept) {
  Universe u;
  ASSERT_TRUE(u.AddTesttagsRepository("desktop", 0, Fixture("desktop.repo")).ok());
  ASSERT_TRUE(u.AddTesttagsRepository("", 0, Fixture("installed.repo"), true).ok());
  Plan plan = MustResolve(u, {.install = {"editor"}});
  ASSERT_TRUE(plan.ok()) << plan.problems[0].description;
  for (const auto& r : plan.installs) EXPECT_NE(r.name, "zlib");
  EXPECT_EQ(plan.installs.size(), 3u);
}

TEST(Fixtures, MissingSonameNamesTheNeedingPackage) {
  Universe u;
  ASSERT_TRUE(u.AddTesttagsRepository("desktop", 0, Fixture("desktop.repo")).ok());
  Plan plan = MustResolve(u, {.install = {"player"}});
  ASSERT_EQ(plan.problems.size(), 1u);
  EXPECT_EQ(plan.problems[0].description,
            "player 1.0-1-1 needs soname(libavcodec.so.60(x86_64)), which no package provides");
}

TEST(CompareVersions, OrdersVersionThenSourceReleaseThenBuildRelease) {
  EXPECT_LT(CompareVersions("1.9", 5, 5, "1.10", 1, 1), 0);
  EXPECT_LT(CompareVersions("1.2", 1, 9, "1.2", 2, 1), 0);
  EXPECT_LT(CompareVersions("1.2", 2, 1, "1.2", 2, 2), 0);
  EXPECT_EQ(CompareVersions("1.2", 2, 2, "1.2", 2, 2), 0);
  EXPECT_GT(CompareVersions("2.0", 1, 1, "1.99.9", 9, 9), 0);
  EXPECT_GT(CompareVersions("1.0a", 1, 1, "1.0", 1, 1), 0);
}

}  // namespace
}  // namespace onix::moss::solver

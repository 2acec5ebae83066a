#include "boulder/build/build.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "boulder/analyse/elf.h"
#include "boulder/testing/fixtures.h"
#include "boulder/util/util.h"
#include "gtest/gtest.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"
#include "moss/repo/index.h"
#include "moss/stone/stone.h"

namespace onix::boulder {
namespace {

using testing::HelloRecipe;
using testing::HelloUpstreams;
using testing::MakeHelloUpstreams;
using testing::WriteTextFile;

std::vector<std::string> Files(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool HasStone(const std::string& dir) {
  for (const std::string& f : Files(dir)) {
    if (f.find(".stone") != std::string::npos) return true;
  }
  return false;
}

bool Contains(const std::vector<stone::Dependency>& deps, const std::string& text) {
  for (const stone::Dependency& d : deps) {
    if (d.ToString() == text) return true;
  }
  return false;
}

class BuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Make("build-test-");
    ASSERT_TRUE(t.ok()) << t.status();
    tmp_ = std::make_unique<TempDir>(std::move(*t));
    up_ = MakeHelloUpstreams(Dir("upstream"));
    ASSERT_TRUE(MakeDirs(Dir("upstream")).ok());
  }

  std::string Dir(const std::string& name) const { return StrCat(tmp_->path(), "/", name); }

  // Writes `recipe` to <tmp>/<name>/stone.yaml and builds it into <tmp>/<name>/out.
  absl::StatusOr<BuildResult> Build(const std::string& name, const std::string& recipe,
                                    const std::string& check_manifest = "", bool keep_work = false,
                                    const std::string& repo = "") {
    EXPECT_TRUE(MakeDirs(Dir(name)).ok());
    WriteTextFile(Dir(name) + "/stone.yaml", recipe);
    BuildOptions o;
    o.recipe_path = Dir(name) + "/stone.yaml";
    o.output_dir = Dir(name) + "/out";
    o.source_cache = Dir("cache");
    o.work_parent = tmp_->path();
    o.check_manifest = check_manifest;
    o.jobs = 2;
    o.keep_work = keep_work;
    o.repo = repo;
    return BuildRecipe(o);
  }

  std::unique_ptr<TempDir> tmp_;
  HelloUpstreams up_;
};

TEST_F(BuildTest, MuslLibraryAndProgramSplitIntoMainAndDevelWithSonameProviderAndDependency) {
  auto r = Build("a", HelloRecipe(up_));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(
      Files(Dir("a/out")),
      (std::vector<std::string>{"hello-1.0-1-1-x86_64.stone", "hello-dbginfo-1.0-1-1-x86_64.stone",
                                "hello-devel-1.0-1-1-x86_64.stone", "manifest.json"}));
  auto main = stone::StoneReader::Open(Dir("a/out/hello-1.0-1-1-x86_64.stone"));
  ASSERT_TRUE(main.ok()) << main.status();
  EXPECT_TRUE(Contains(main->meta().provides, "soname(libhello.so.1(x86_64))"));
  EXPECT_TRUE(Contains(main->meta().provides, "binary(hello)"));
  EXPECT_TRUE(Contains(main->meta().depends, "soname(libc.so(x86_64))"));
  // Provided by the same package, so not a dependency of it.
  EXPECT_FALSE(Contains(main->meta().depends, "soname(libhello.so.1(x86_64))"));
  std::vector<std::string> main_paths;
  for (const auto& e : main->layout()) main_paths.push_back(e.path);
  EXPECT_NE(std::find(main_paths.begin(), main_paths.end(), "lib/libhello.so.1"), main_paths.end());
  EXPECT_NE(std::find(main_paths.begin(), main_paths.end(), "bin/hello"), main_paths.end());
  EXPECT_EQ(std::find(main_paths.begin(), main_paths.end(), "include/hello.h"), main_paths.end());

  auto devel = stone::StoneReader::Open(Dir("a/out/hello-devel-1.0-1-1-x86_64.stone"));
  ASSERT_TRUE(devel.ok()) << devel.status();
  EXPECT_TRUE(Contains(devel->meta().provides, "pkgconfig(hello)"));
  EXPECT_TRUE(Contains(devel->meta().depends, "name(hello)"));
  std::vector<std::string> devel_paths;
  for (const auto& e : devel->layout()) devel_paths.push_back(e.path);
  for (const char* p :
       {"include/hello.h", "lib/libhello.a", "lib/libhello.so", "lib/pkgconfig/hello.pc"}) {
    EXPECT_NE(std::find(devel_paths.begin(), devel_paths.end(), p), devel_paths.end()) << p;
  }

  // The program runs against the library from the stone, with musl's loader.
  ASSERT_TRUE(MakeDirs(Dir("root/usr")).ok());
  {
    auto fd = ::open(Dir("root/usr").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    absl::Status s = main->ExtractTo(fd);
    ::close(fd);
    ASSERT_TRUE(s.ok()) << s;
  }
  auto bin = ReadFile(Dir("root/usr/bin/hello"));
  ASSERT_TRUE(bin.ok()) << bin.status();
  auto elf = ParseElf(*bin, "hello");
  ASSERT_TRUE(elf.ok()) << elf.status();
  EXPECT_EQ(elf->interpreter, "/lib/ld-musl-x86_64.so.1");
  EXPECT_EQ(elf->needed, (std::vector<std::string>{"libhello.so.1", "libc.so"}));
  EXPECT_FALSE(elf->has_debug_info);  // split into -dbginfo
  auto run = RunCommand({"/lib/ld-musl-x86_64.so.1", "--library-path", Dir("root/usr/lib"),
                         Dir("root/usr/bin/hello"), "onix"});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 0) << run->output;
  EXPECT_EQ(run->output, "hello, onix\n");

  auto dbg = stone::StoneReader::Open(Dir("a/out/hello-dbginfo-1.0-1-1-x86_64.stone"));
  ASSERT_TRUE(dbg.ok()) << dbg.status();
  std::vector<std::string> dbg_paths;
  for (const auto& e : dbg->layout()) dbg_paths.push_back(e.path);
  EXPECT_NE(std::find(dbg_paths.begin(), dbg_paths.end(), "lib/debug/usr/bin/hello.debug"),
            dbg_paths.end());
}

TEST_F(BuildTest, BuildingTwiceGivesByteIdenticalStonesAndManifest) {
  auto a = Build("a", HelloRecipe(up_));
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = Build("b", HelloRecipe(up_));
  ASSERT_TRUE(b.ok()) << b.status();
  const std::vector<std::string> names = Files(Dir("a/out"));
  ASSERT_EQ(names, Files(Dir("b/out")));
  ASSERT_EQ(names.size(), 4u);
  for (const std::string& n : names) {
    auto x = ReadFile(Dir("a/out/" + n));
    auto y = ReadFile(Dir("b/out/" + n));
    ASSERT_TRUE(x.ok() && y.ok());
    EXPECT_TRUE(*x == *y) << n << " differs between two builds";
  }
}

TEST_F(BuildTest, CheckManifestPassesForTheSameBuildAndRefusesADifferentOne) {
  auto a = Build("a", HelloRecipe(up_));
  ASSERT_TRUE(a.ok()) << a.status();
  auto same = Build("b", HelloRecipe(up_), Dir("a/out/manifest.json"));
  EXPECT_TRUE(same.ok()) << same.status();
  // A different recipe (another description) changes the recipe digest and the stones.
  std::string other = HelloRecipe(up_);
  other.replace(other.find("A library"), 9, "One library");
  auto differs = Build("c", other, Dir("a/out/manifest.json"));
  ASSERT_FALSE(differs.ok());
  EXPECT_EQ(differs.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(differs.status().message().find("differs from the manifest"), std::string::npos)
      << differs.status();
  EXPECT_NE(differs.status().message().find(".recipe.sha256"), std::string::npos)
      << differs.status();
  EXPECT_FALSE(HasStone(Dir("c/out")));
}

TEST_F(BuildTest, MissingFieldNamesTheRecipeAndLeavesNoStones) {
  std::string recipe = HelloRecipe(up_);
  recipe.erase(recipe.find("license: MIT\n"), 13);
  auto r = Build("a", recipe);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("stone.yaml:1: missing required field 'license'"),
            std::string::npos)
      << r.status();
  EXPECT_FALSE(HasStone(Dir("a/out")));
}

TEST_F(BuildTest, UnknownMacroNamesTheRecipeLineAndRunsNothing) {
  std::string recipe = HelloRecipe(up_);
  recipe.replace(recipe.find("%make_install"), 13, "%make_instal");
  auto r = Build("a", recipe);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("stone.yaml:16: unknown macro %make_instal"),
            std::string::npos)
      << r.status();
  EXPECT_FALSE(HasStone(Dir("a/out")));
}

TEST_F(BuildTest, WrongHashNamesTheUrlBothHashesAndTheRecipeLine) {
  std::string recipe = HelloRecipe(up_);
  const std::string wrong(64, 'a');
  recipe.replace(recipe.find(up_.app_sha256), 64, wrong);
  auto r = Build("a", recipe);
  ASSERT_FALSE(r.ok());
  const std::string msg(r.status().message());
  EXPECT_NE(msg.find("stone.yaml:12"), std::string::npos) << msg;
  EXPECT_NE(msg.find(up_.app_archive), std::string::npos) << msg;
  EXPECT_NE(msg.find(wrong), std::string::npos) << msg;
  EXPECT_NE(msg.find(up_.app_sha256), std::string::npos) << msg;
  EXPECT_FALSE(HasStone(Dir("a/out")));
  // Nothing unverified stays in the cache.
  for (const std::string& f : Files(Dir("cache/sha256"))) EXPECT_NE(f, wrong);
}

TEST_F(BuildTest, FailingStepNamesTheStepAndItsRecipeLine) {
  std::string recipe = HelloRecipe(up_);
  recipe.replace(recipe.find("  %make\n"), 8, "  %make\n  false\n");
  auto r = Build("a", recipe);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("stone.yaml:14: step build of hello failed: exit status 1"),
            std::string::npos)
      << r.status();
  EXPECT_FALSE(HasStone(Dir("a/out")));
}

TEST_F(BuildTest, FilesOutsideUsrAreRefusedWithAList) {
  std::string recipe = HelloRecipe(up_);
  recipe +=
      "  mkdir -p %(installroot)/etc %(installroot)/var/lib\n"
      "  touch %(installroot)/etc/hello.conf %(installroot)/var/lib/state\n";
  auto bad = Build("b", recipe);
  ASSERT_FALSE(bad.ok());
  const std::string msg(bad.status().message());
  EXPECT_NE(msg.find("stone.yaml:16: the install step put files outside /usr:\n  /etc\n  /var"),
            std::string::npos)
      << msg;
  EXPECT_FALSE(HasStone(Dir("b/out")));
}

TEST_F(BuildTest, GlibcInterpreterInAMuslBuildIsAnError) {
  std::string recipe = HelloRecipe(up_);
  recipe +=
      "  printf 'int main(void){return 0;}\\n' > g.c\n"
      "  gcc -o %(installroot)/usr/bin/glibc-tool g.c\n";
  auto r = Build("a", recipe);
  ASSERT_FALSE(r.ok());
  const std::string msg(r.status().message());
  EXPECT_NE(msg.find("glibc"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/usr/bin/glibc-tool (interpreter /lib64/ld-linux-x86-64.so.2)"),
            std::string::npos)
      << msg;
  EXPECT_FALSE(HasStone(Dir("a/out")));
}

TEST_F(BuildTest, StepsCannotReachTheNetworkOrWriteOutsideTheBuildRoot) {
  ASSERT_TRUE(MakeDirs(Dir("outside")).ok());
  std::string recipe = HelloRecipe(up_);
  recipe += StrCat(
      "  mkdir -p %(installroot)/usr/share/probe\n"
      "  P=%(installroot)/usr/share/probe\n"
      // 192.0.2.1 is TEST-NET-1: never routable; inside the sandbox there is no route at all.
      "  if bash -c 'echo > /dev/tcp/192.0.2.1/80' 2> $P/net; then echo connected > $P/net; fi\n"
      "  if echo x > ",
      Dir("outside"),
      "/escaped 2> /dev/null; then echo yes > $P/outside;"
      " else echo no > $P/outside; fi\n"
      "  if touch /etc/escaped 2> /dev/null; then echo yes > $P/etc; else echo no > $P/etc; fi\n"
      "  hostname > $P/hostname\n"
      // Debian's awk is a link through /etc/alternatives: the host toolchain must be whole.
      "  awk 'BEGIN { print \"awk works\" }' > $P/awk\n"
      "  if touch /etc/alternatives/escaped 2> /dev/null; then echo yes > $P/alt; else echo no > "
      "$P/alt; fi\n");
  auto r = Build("a", recipe, "", /*keep_work=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string probe = r->work_dir + "/mason/install/usr/share/probe";
  auto net = ReadFile(probe + "/net");
  ASSERT_TRUE(net.ok());
  EXPECT_NE(net->find("Network is unreachable"), std::string::npos) << *net;
  EXPECT_EQ(*ReadFile(probe + "/outside"), "no\n");
  EXPECT_EQ(*ReadFile(probe + "/etc"), "no\n");
  EXPECT_EQ(*ReadFile(probe + "/hostname"), "boulder\n");
  EXPECT_EQ(*ReadFile(probe + "/awk"), "awk works\n");
  EXPECT_EQ(*ReadFile(probe + "/alt"), "no\n");
  EXPECT_TRUE(Files(Dir("outside")).empty());
  (void)RemoveTree(r->work_dir);
}

// A second recipe builds against the first one's stones: the --repo directory is a moss
// repository (indexed), its build dependency (a typed provider) is resolved by moss's solver
// and installed by a moss transaction into the build root, which becomes the sandbox's /usr
// next to the declared host toolchain (and nothing else of the host's /usr). Its program
// depends on the library's soname, which it does not provide itself.
constexpr char kGreeter[] =
    "name: greeter\n"
    "version: \"2\"\n"
    "release: 1\n"
    "license: MIT\n"
    "summary: Greets through libhello\n"
    "builddeps:\n"
    "  - pkgconfig(hello)\n"
    "install: |\n"
    "  printf '#include <hello.h>\\nint main(void) { return hello_greet(\"greeter\"); }\\n' > g.c\n"
    "  $CC $CFLAGS -o g g.c $LDFLAGS -lhello\n"
    "  install -Dm755 g %(installroot)/usr/bin/greeter\n"
    "  P=%(installroot)/usr/share/probe\n"
    "  mkdir -p $P\n"
    // moss installed the build root: the dependency's files are in /usr, its closure too
    // (hello-devel needs hello), and moss's state marker says so.
    "  test -f /usr/include/hello.h && test -f /usr/lib/libhello.so.1 && test -f /usr/.fstx\n"
    "  test -f %(depsroot)/usr/lib/pkgconfig/hello.pc\n"
    // The declared toolchain is there; the rest of the host's /usr is not.
    "  for t in musl-gcc make sed; do command -v $t; done > $P/tools\n"
    "  if test -e /usr/bin/python3 || test -e /usr/share/perl5; then echo yes > $P/host;"
    " else echo no > $P/host; fi\n"
    // The build root is read-only, both at /usr and at %(depsroot).
    "  if touch /usr/lib/x %(depsroot)/usr/lib/x 2> /dev/null; then echo yes > $P/rw;"
    " else echo no > $P/rw; fi\n";

// The C library the hello stones need (soname(libc.so(x86_64))): the quarry host's musl,
// borrowed (stones/musl builds the real one, too slowly for a unit test).
constexpr char kMuslHost[] =
    "name: musl-host\n"
    "version: \"1.2.3\"\n"
    "release: 1\n"
    "license: MIT\n"
    "summary: The host's musl\n"
    "install: |\n"
    "  install -Dm755 /usr/lib/x86_64-linux-musl/libc.so %(installroot)/usr/lib/libc.so\n"
    "packages:\n"
    "  - musl-host:\n"
    "      paths: [/usr/lib]\n"
    "      provides: [soname(libc.so(x86_64))]\n";

TEST_F(BuildTest, BuildDependenciesAreInstalledByMossFromTheRepoIntoTheSandboxUsr) {
  auto lib = Build("a", HelloRecipe(up_));
  ASSERT_TRUE(lib.ok()) << lib.status();
  auto libc = Build("c", kMuslHost);
  ASSERT_TRUE(libc.ok()) << libc.status();
  ASSERT_TRUE(::link(Dir("c/out/musl-host-1.2.3-1-1-x86_64.stone").c_str(),
                     Dir("a/out/musl-host-1.2.3-1-1-x86_64.stone").c_str()) == 0);
  // An unindexed directory is not a repository.
  auto unindexed = Build("g", kGreeter, "", false, Dir("a/out"));
  ASSERT_FALSE(unindexed.ok());
  EXPECT_NE(unindexed.status().message().find("is not a moss repository (no stone.index)"),
            std::string::npos)
      << unindexed.status();
  ASSERT_TRUE(moss::repo::BuildIndex(Dir("a/out")).ok());
  auto r = Build("g", kGreeter, "", /*keep_work=*/true, Dir("a/out"));
  ASSERT_TRUE(r.ok()) << r.status();
  auto greeter = stone::StoneReader::Open(Dir("g/out/greeter-2-1-1-x86_64.stone"));
  ASSERT_TRUE(greeter.ok()) << greeter.status();
  EXPECT_TRUE(Contains(greeter->meta().depends, "soname(libhello.so.1(x86_64))"));
  EXPECT_TRUE(Contains(greeter->meta().provides, "binary(greeter)"));
  const std::string probe = r->work_dir + "/mason/install/usr/share/probe";
  EXPECT_EQ(*ReadFile(probe + "/tools"), "/usr/bin/musl-gcc\n/usr/bin/make\n/usr/bin/sed\n");
  EXPECT_EQ(*ReadFile(probe + "/host"), "no\n");
  EXPECT_EQ(*ReadFile(probe + "/rw"), "no\n");
  (void)RemoveTree(r->work_dir);
  // The manifest names every package moss installed, with its stone's SHA-256.
  auto manifest = ReadFile(Dir("g/out/manifest.json"));
  ASSERT_TRUE(manifest.ok());
  EXPECT_NE(manifest->find("hello-devel-1.0-1-1-x86_64.stone"), std::string::npos) << *manifest;
  EXPECT_NE(manifest->find("hello-1.0-1-1-x86_64.stone"), std::string::npos) << *manifest;
  EXPECT_NE(manifest->find("musl-host-1.2.3-1-1-x86_64.stone"), std::string::npos) << *manifest;

  // A repository without the provider: the solver's problem, naming the recipe line.
  ASSERT_TRUE(moss::repo::BuildIndex(Dir("g/out")).ok());
  auto missing = Build("m", kGreeter, "", false, Dir("g/out"));
  ASSERT_FALSE(missing.ok());
  const std::string msg(missing.status().message());
  EXPECT_NE(msg.find(Dir("m/stone.yaml") + ":7: installing build dependencies pkgconfig(hello)"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("pkgconfig(hello)"), std::string::npos) << msg;
  EXPECT_FALSE(HasStone(Dir("m/out")));
}

// A build dependency that ships a program the declared host toolchain also has (busybox's
// applet links do): inside the sandbox /usr/bin/sed is the host's (the toolchain wins), the
// dependency's other files are there, and %(depsroot) still shows the dependency as moss
// installed it.
TEST_F(BuildTest, DeclaredHostToolchainWinsOverABuildDependencyAtTheSamePath) {
  constexpr char kFakeTools[] =
      "name: faketools\n"
      "version: \"1\"\n"
      "release: 1\n"
      "license: MIT\n"
      "summary: A sed that is not GNU sed\n"
      "install: |\n"
      "  mkdir -p %(installroot)/usr/bin\n"
      "  printf '#!/bin/sh\\necho fake\\n' > %(installroot)/usr/bin/fake-sed\n"
      "  chmod 755 %(installroot)/usr/bin/fake-sed\n"
      "  ln -s fake-sed %(installroot)/usr/bin/sed\n";
  auto tools = Build("t", kFakeTools);
  ASSERT_TRUE(tools.ok()) << tools.status();
  ASSERT_TRUE(moss::repo::BuildIndex(Dir("t/out")).ok());
  constexpr char kUser[] =
      "name: user\n"
      "version: \"1\"\n"
      "release: 1\n"
      "license: MIT\n"
      "summary: Uses sed\n"
      "builddeps: [faketools]\n"
      "install: |\n"
      "  P=%(installroot)/usr/share/probe\n"
      "  mkdir -p $P\n"
      "  sed --version | head -1 > $P/sed\n"
      "  /usr/bin/fake-sed > $P/fake\n"
      "  readlink %(depsroot)/usr/bin/sed > $P/depsroot\n";
  auto r = Build("u", kUser, "", /*keep_work=*/true, Dir("t/out"));
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string probe = r->work_dir + "/mason/install/usr/share/probe";
  EXPECT_EQ(ReadFile(probe + "/sed")->rfind("sed (GNU sed)", 0), 0u) << *ReadFile(probe + "/sed");
  EXPECT_EQ(*ReadFile(probe + "/fake"), "fake\n");
  EXPECT_EQ(*ReadFile(probe + "/depsroot"), "fake-sed\n");
  (void)RemoveTree(r->work_dir);
}

}  // namespace
}  // namespace onix::boulder

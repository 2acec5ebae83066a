#include "boulder/recipe/recipe.h"

#include <string>

#include "gtest/gtest.h"
#include "moss/base/str_cat.h"

namespace onix::boulder {
namespace {

const char kFull[] = R"(name: zlib
version: 1.3.1
release: 2
homepage: https://zlib.net
license:
  - Zlib
summary: Compression library
description: |
  The zlib library.
source-date-epoch: 1706000000
upstreams:
  - https://zlib.net/zlib-1.3.1.tar.gz : 9a93b2b7dfdac77ceba5a558a580e74667dd6fede4585b91eefb60f03b72df23
  - git|https://example.org/extra.git :
      ref: 0123456789abcdef0123456789abcdef01234567
      clonedir: extra
  - file:///srv/patches.tar.xz :
      hash: 1111111111111111111111111111111111111111111111111111111111111111
      stripdirs: 0
builddeps:
  - binary(make)
  - pkgconfig(zstd)
environment:
  ZFLAGS: -O2
setup: |
  %configure
build: |
  %make
install: |
  %make_install
packages:
  - "%(name)-tools":
      summary: zlib tools
      paths:
        - /usr/bin/*
      rundeps:
        - name(zlib)
      provides:
        - binary(minigzip)
)";

TEST(ParseRecipe, FullRecipeParsesEveryField) {
  auto r = ParseRecipe(kFull, "zlib/stone.yaml");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->name, "zlib");
  EXPECT_EQ(r->version, "1.3.1");
  EXPECT_EQ(r->release, 2u);
  EXPECT_EQ(r->licenses, std::vector<std::string>{"Zlib"});
  EXPECT_EQ(r->description, "The zlib library.");
  EXPECT_EQ(r->source_date_epoch, 1706000000u);
  ASSERT_EQ(r->upstreams.size(), 3u);
  EXPECT_EQ(r->upstreams[0].kind, Upstream::Kind::kArchive);
  EXPECT_EQ(r->upstreams[0].unpack_dir, "zlib-1.3.1");
  EXPECT_EQ(r->upstreams[0].strip_components, 1);
  EXPECT_EQ(r->upstreams[0].line, 12);
  EXPECT_EQ(r->upstreams[1].kind, Upstream::Kind::kGit);
  EXPECT_EQ(r->upstreams[1].url, "https://example.org/extra.git");
  EXPECT_EQ(r->upstreams[1].unpack_dir, "extra");
  EXPECT_EQ(r->upstreams[2].strip_components, 0);
  EXPECT_EQ(r->upstreams[2].unpack_dir, "patches");
  EXPECT_EQ(r->builddeps, (std::vector<std::string>{"binary(make)", "pkgconfig(zstd)"}));
  ASSERT_EQ(r->environment.size(), 1u);
  EXPECT_EQ(r->environment[0].first, "ZFLAGS");
  EXPECT_EQ(r->setup.script, "%configure\n");
  EXPECT_EQ(r->setup.line, 25);
  EXPECT_EQ(r->build.line, 27);
  EXPECT_EQ(r->install.line, 29);
  EXPECT_TRUE(r->check.script.empty());
  ASSERT_EQ(r->packages.size(), 1u);
  EXPECT_EQ(r->packages[0].name, "zlib-tools");
  EXPECT_EQ(r->packages[0].paths, std::vector<std::string>{"/usr/bin/*"});
  EXPECT_EQ(r->packages[0].rundeps, std::vector<std::string>{"name(zlib)"});
  EXPECT_EQ(r->packages[0].provides, std::vector<std::string>{"binary(minigzip)"});
  // No host-paths: the declared host toolchain alone (boulder/data/host/musl.yaml).
  EXPECT_TRUE(r->host_paths.empty());
  EXPECT_EQ(r->builddeps_line, 20);  // the first builddeps item
  EXPECT_EQ(r->toolchain, "musl");
}

TEST(ParseRecipe, SameTextGivesSameDigestAndOtherTextAnother) {
  auto a = ParseRecipe(kFull, "a");
  auto b = ParseRecipe(kFull, "b");
  std::string other = kFull;
  other[other.find("release: 2")] = 'R';
  other.replace(other.find("Release: 2"), 10, "release: 3");
  auto c = ParseRecipe(other, "c");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->digest, b->digest);
  EXPECT_NE(a->digest, c->digest);
}

std::string ErrorOf(const std::string& text) {
  auto r = ParseRecipe(text, "pkg/stone.yaml");
  return r.ok() ? "OK" : std::string(r.status().message());
}

TEST(ParseRecipe, ErrorsNameTheFileAndLine) {
  const std::string head = "name: x\nversion: 1\nrelease: 1\nlicense: MIT\nsummary: s\n";
  EXPECT_EQ(ErrorOf("name: x\nversion: 1\nrelease: 1\nsummary: s\n"),
            "pkg/stone.yaml:1: missing required field 'license'");
  EXPECT_EQ(ErrorOf(head + "colour: red\n"), "pkg/stone.yaml:6: unknown field 'colour'");
  EXPECT_EQ(ErrorOf(head + "upstreams:\n  - https://x/y.tar.gz : abc\n"),
            "pkg/stone.yaml:7: upstream https://x/y.tar.gz: 'abc' is not a 64-hex sha256");
  EXPECT_EQ(ErrorOf("name: x\nversion: 1\nrelease: zero\nlicense: MIT\nsummary: s\n"),
            "pkg/stone.yaml:3: release must be a positive number, not 'zero'");
  EXPECT_EQ(ErrorOf(head + "name: y\n"), "pkg/stone.yaml:6: duplicate field 'name'");
  EXPECT_EQ(ErrorOf(head + "packages:\n  - x-docs:\n      paths: [/etc/x]\n"),
            "pkg/stone.yaml:8: package x-docs: path '/etc/x' is not below /usr/");
  // A malformed build dependency: the error names the line, the dependency and what is wrong.
  const std::string dep_error = ErrorOf(head + "builddeps:\n  - soname(\n");
  EXPECT_EQ(dep_error.rfind("pkg/stone.yaml:7: ", 0), 0u) << dep_error;
  EXPECT_NE(dep_error.find("soname("), std::string::npos) << dep_error;
  EXPECT_NE(dep_error.find("missing closing ')'"), std::string::npos) << dep_error;
}

TEST(ParseRecipe, YamlSyntaxErrorIsCaughtAndNamesTheLine) {
  const std::string msg = ErrorOf("name: x\nversion: [1\nrelease: 1\n");
  EXPECT_EQ(msg.rfind("pkg/stone.yaml:", 0), 0u) << msg;
  EXPECT_NE(msg.find("parsing YAML"), std::string::npos) << msg;
}

TEST(LoadRecipe, MissingFileIsNotFoundNamingThePath) {
  auto r = LoadRecipe("/nonexistent/boulder/stone.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/boulder/stone.yaml"), std::string::npos);
}

// The stone spec's name and version rule (moss/stone ValidatePackageName/ValidateVersion),
// so boulder never builds a stone moss refuses.
TEST(ParseRecipe, NamesAndVersionsFollowTheStoneRule) {
  const std::string tail = "release: 1\nlicense: MIT\nsummary: s\n";
  for (const char* name : {"..", ".git", "../..", "/", "a/b", "\"a\\x1bb\"", "\"-x\""}) {
    const std::string msg = ErrorOf(StrCat("name: ", name, "\nversion: 1\n", tail));
    EXPECT_EQ(msg.rfind("pkg/stone.yaml:1: bad package name", 0), 0u) << name << ": " << msg;
  }
  EXPECT_EQ(ErrorOf(StrCat("name: ", std::string(129, 'a'), "\nversion: 1\n", tail))
                .rfind("pkg/stone.yaml:1: bad package name", 0),
            0u);
  for (const char* version : {"..", "1/2", "\"1\\n2\"", "\".1\""}) {
    const std::string msg = ErrorOf(StrCat("name: x\nversion: ", version, "\n", tail));
    EXPECT_EQ(msg.rfind("pkg/stone.yaml:2: bad version", 0), 0u) << version << ": " << msg;
  }
  // Sub-package names too, after %(name) expansion.
  const std::string msg =
      ErrorOf(StrCat("name: x\nversion: 1\n", tail, "packages:\n  - \".git\":\n      paths: []\n"));
  EXPECT_EQ(msg.rfind("pkg/stone.yaml:7: bad package name '.git'", 0), 0u) << msg;
}

TEST(ParseRecipe, InputsAreAListOfPrintableLinesInOrder) {
  const std::string head = "name: x\nversion: 1\nrelease: 1\nlicense: MIT\nsummary: s\n";
  auto r = ParseRecipe(head +
                           "inputs:\n  - debian-source busybox 1:1.35.0-4+deb12u1 "
                           "busybox_1.35.0.orig.tar.bz2 sha256:ab\n  - second line\n",
                       "pkg/stone.yaml");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->inputs, (std::vector<std::string>{
                           "debian-source busybox 1:1.35.0-4+deb12u1 busybox_1.35.0.orig.tar.bz2 "
                           "sha256:ab",
                           "second line"}));
  EXPECT_NE(ErrorOf(head + "inputs:\n  - \"a\\x1bb\"\n").find("pkg/stone.yaml:7: inputs:"),
            std::string::npos);
  EXPECT_NE(ErrorOf(head + "inputs:\n  - bad \xff\n").find("pkg/stone.yaml:7: inputs:"),
            std::string::npos);
  EXPECT_NE(ErrorOf(head + "inputs:\n  - " + std::string(4097, 'i') + "\n")
                .find("more than the limit of 4096"),
            std::string::npos);
}

}  // namespace
}  // namespace onix::boulder

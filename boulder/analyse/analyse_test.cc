#include "boulder/analyse/analyse.h"

#include <cstdio>
#include <string>

#include "boulder/analyse/elf.h"
#include "boulder/util/util.h"
#include "gtest/gtest.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"

namespace onix::boulder {
namespace {

bool Has(const std::vector<stone::Dependency>& deps, const std::string& text) {
  for (const auto& d : deps) {
    if (d.ToString() == text) return true;
  }
  return false;
}

class AnalyseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Make("analyse-test-");
    ASSERT_TRUE(t.ok());
    tmp_ = std::make_unique<TempDir>(std::move(*t));
    root_ = tmp_->path() + "/root";
    for (const char* d : {"/usr/bin", "/usr/sbin", "/usr/lib/pkgconfig", "/src"}) {
      ASSERT_TRUE(MakeDirs(root_ + d).ok());
    }
    ASSERT_TRUE(WriteFile(root_ + "/src/lib.c", "int answer(void) { return 42; }\n").ok());
    ASSERT_TRUE(WriteFile(root_ + "/src/main.c",
                          "int answer(void);\nint main(void) { return answer() - 42; }\n")
                    .ok());
  }

  // Compiles the library and program with `cc` (musl-gcc or gcc) into the root.
  void Compile(const std::string& cc) {
    auto lib = RunCommandOk({cc, "-g", "-O1", "-fPIC", "-shared", "-Wl,-soname,libanswer.so.2",
                             "-o", root_ + "/usr/lib/libanswer.so.2", root_ + "/src/lib.c"});
    ASSERT_TRUE(lib.ok()) << lib.status();
    auto exe = RunCommandOk({cc, "-g", "-O1", "-o", root_ + "/usr/bin/answer",
                             root_ + "/src/main.c", root_ + "/usr/lib/libanswer.so.2"});
    ASSERT_TRUE(exe.ok()) << exe.status();
    ASSERT_TRUE(RemoveTree(root_ + "/src").ok());
  }

  std::unique_ptr<TempDir> tmp_;
  std::string root_;
};

TEST_F(AnalyseTest, MuslElfFilesGiveSonameProvidersDependenciesAndSplitDebugInfo) {
  Compile("musl-gcc");
  ASSERT_TRUE(WriteFile(root_ + "/usr/lib/pkgconfig/answer.pc",
                        "Name: answer\nVersion: 2\nRequires: zlib >= 1.2, libzstd\n"
                        "Requires.private: notme\nLibs: -lanswer\n")
                  .ok());
  ASSERT_TRUE(WriteFile(root_ + "/usr/sbin/answerd", "#!/bin/sh\n", 0755).ok());
  auto facts = AnalyseInstallRoot(root_, {});
  ASSERT_TRUE(facts.ok()) << facts.status();
  const FileFacts& lib = (*facts)["/usr/lib/libanswer.so.2"];
  EXPECT_TRUE(Has(lib.provides, "soname(libanswer.so.2(x86_64))"));
  EXPECT_TRUE(Has(lib.depends, "soname(libc.so(x86_64))"));
  const FileFacts& exe = (*facts)["/usr/bin/answer"];
  EXPECT_TRUE(Has(exe.provides, "binary(answer)"));
  EXPECT_TRUE(Has(exe.depends, "soname(libanswer.so.2(x86_64))"));
  const FileFacts& pc = (*facts)["/usr/lib/pkgconfig/answer.pc"];
  EXPECT_TRUE(Has(pc.provides, "pkgconfig(answer)"));
  EXPECT_TRUE(Has(pc.depends, "pkgconfig(zlib)"));
  EXPECT_TRUE(Has(pc.depends, "pkgconfig(libzstd)"));
  EXPECT_FALSE(Has(pc.depends, "pkgconfig(notme)"));
  EXPECT_TRUE(Has((*facts)["/usr/sbin/answerd"].provides, "sysbinary(answerd)"));

  // Debug info moved to /usr/lib/debug, the binaries are stripped and still run.
  auto stripped = ReadFile(root_ + "/usr/bin/answer");
  ASSERT_TRUE(stripped.ok());
  auto elf = ParseElf(*stripped, "answer");
  ASSERT_TRUE(elf.ok());
  EXPECT_FALSE(elf->has_debug_info);
  auto debug = ReadFile(root_ + "/usr/lib/debug/usr/bin/answer.debug");
  ASSERT_TRUE(debug.ok()) << debug.status();
  auto debug_elf = ParseElf(*debug, "answer.debug");
  ASSERT_TRUE(debug_elf.ok());
  EXPECT_TRUE(debug_elf->has_debug_info);
  auto run = RunCommand(
      {kMuslInterpreter, "--library-path", root_ + "/usr/lib", root_ + "/usr/bin/answer"});
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->exit_code, 0) << run->output;
}

TEST_F(AnalyseTest, GlibcBinaryInAMuslBuildIsRefusedWithItsInterpreter) {
  Compile("gcc");
  auto facts = AnalyseInstallRoot(root_, {});
  ASSERT_FALSE(facts.ok());
  EXPECT_EQ(facts.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string msg(facts.status().message());
  EXPECT_NE(msg.find("/usr/bin/answer (interpreter /lib64/ld-linux-x86-64.so.2)"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("/usr/bin/answer (needs glibc's libc.so.6)"), std::string::npos) << msg;
}

TEST_F(AnalyseTest, GlibcToolchainAcceptsGlibcBinaries) {
  Compile("gcc");
  AnalyseOptions o;
  o.toolchain = "glibc";
  auto facts = AnalyseInstallRoot(root_, o);
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_TRUE(Has((*facts)["/usr/bin/answer"].depends, "soname(libc.so.6(x86_64))"));
}

TEST_F(AnalyseTest, LibraryOutsideTheLibDirsProvidesItsSonameOnlyPrivately) {
  Compile("gcc");
  ASSERT_TRUE(MakeDirs(root_ + "/usr/lib/onix/runtime").ok());
  ASSERT_EQ(::rename((root_ + "/usr/lib/libanswer.so.2").c_str(),
                     (root_ + "/usr/lib/onix/runtime/libanswer.so.2").c_str()),
            0);
  AnalyseOptions o;
  o.toolchain = "glibc";
  auto facts = AnalyseInstallRoot(root_, o);
  ASSERT_TRUE(facts.ok()) << facts.status();
  const FileFacts& lib = (*facts)["/usr/lib/onix/runtime/libanswer.so.2"];
  EXPECT_FALSE(Has(lib.provides, "soname(libanswer.so.2(x86_64))"));
  EXPECT_TRUE(Has(lib.private_provides, "soname(libanswer.so.2(x86_64))"));
  EXPECT_TRUE(Has((*facts)["/usr/bin/answer"].depends, "soname(libanswer.so.2(x86_64))"));
}

TEST(ParseElf, TruncatedOrForeignInputIsAnErrorNotACrash) {
  EXPECT_FALSE(ParseElf("not an elf", "x").ok());
  std::string header =
      "\x7f"
      "ELF";
  header.resize(20, '\0');
  EXPECT_FALSE(ParseElf(header, "short").ok());
  std::string elf32 =
      "\x7f"
      "ELF\x01\x01";
  elf32.resize(64, '\0');
  auto r = ParseElf(elf32, "elf32");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("64-bit"), std::string::npos);
}

TEST(PkgconfigRequires, DropsVersionsAndOperators) {
  EXPECT_EQ(PkgconfigRequires("Name: x\nRequires: a >= 1.0, b,c = 2 d\nRequires.private: e\n"),
            (std::vector<std::string>{"a", "b", "c", "d"}));
}

}  // namespace
}  // namespace onix::boulder

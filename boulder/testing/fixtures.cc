#include "boulder/testing/fixtures.h"

#include <cstdio>
#include <cstdlib>

#include "boulder/util/util.h"
#include "moss/base/sha256.h"
#include "moss/base/str_cat.h"

namespace onix::boulder::testing {

namespace {

template <typename T>
T Must(absl::StatusOr<T> v) {
  if (!v.ok()) {
    std::fprintf(stderr, "fixture: %s\n", std::string(v.status().message()).c_str());
    std::abort();
  }
  return *std::move(v);
}

void Must(const absl::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "fixture: %s\n", std::string(s.message()).c_str());
    std::abort();
  }
}

std::string Pack(const std::string& dir, const std::string& name) {
  Must(RunCommandOk({"tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0",
                     "--numeric-owner", "-czf", StrCat(name, ".tar.gz"), name},
                    dir));
  return StrCat(dir, "/", name, ".tar.gz");
}

}  // namespace

void WriteTextFile(const std::string& path, const std::string& text) {
  Must(WriteFile(path, text));
}

HelloUpstreams MakeHelloUpstreams(const std::string& dir) {
  const std::string lib = dir + "/libhello-1.0";
  const std::string app = dir + "/hello-app-1.0";
  Must(MakeDirs(lib));
  Must(MakeDirs(app));
  WriteTextFile(lib + "/hello.h", "int hello_greet(const char *who);\n");
  WriteTextFile(lib + "/hello.c",
                "#include \"hello.h\"\n#include <stdio.h>\n"
                "int hello_greet(const char *who) {\n"
                "  return printf(\"hello, %s\\n\", who) < 0 ? 1 : 0;\n}\n");
  WriteTextFile(lib + "/hello.pc",
                "prefix=/usr\nlibdir=${prefix}/lib\nincludedir=${prefix}/include\n"
                "Name: hello\nDescription: greets\nVersion: 1.0\n"
                "Libs: -L${libdir} -lhello\nCflags: -I${includedir}\n");
  WriteTextFile(lib + "/Makefile",
                "all: libhello.so.1 libhello.a\n"
                "libhello.so.1: hello.c\n"
                "\t$(CC) $(CFLAGS) -shared -Wl,-soname,libhello.so.1 $(LDFLAGS) -o $@ hello.c\n"
                "libhello.a: hello.c\n"
                "\t$(CC) $(CFLAGS) -c -o hello.o hello.c\n"
                "\t$(AR) rcD $@ hello.o\n"
                "install:\n"
                "\tinstall -Dm755 libhello.so.1 $(DESTDIR)/usr/lib/libhello.so.1\n"
                "\tln -sf libhello.so.1 $(DESTDIR)/usr/lib/libhello.so\n"
                "\tinstall -Dm644 libhello.a $(DESTDIR)/usr/lib/libhello.a\n"
                "\tinstall -Dm644 hello.h $(DESTDIR)/usr/include/hello.h\n"
                "\tinstall -Dm644 hello.pc $(DESTDIR)/usr/lib/pkgconfig/hello.pc\n");
  WriteTextFile(app + "/main.c",
                "#include \"hello.h\"\n"
                "int main(int argc, char **argv) {\n"
                "  return hello_greet(argc > 1 ? argv[1] : \"world\");\n}\n");
  WriteTextFile(app + "/Makefile",
                "hello: main.c\n"
                "\t$(CC) $(CFLAGS) -I$(HELLO)/usr/include $(LDFLAGS) -o $@ main.c "
                "-L$(HELLO)/usr/lib -lhello\n"
                "install:\n"
                "\tinstall -Dm755 hello $(DESTDIR)/usr/bin/hello\n");
  HelloUpstreams up;
  up.lib_archive = Pack(dir, "libhello-1.0");
  up.app_archive = Pack(dir, "hello-app-1.0");
  up.lib_sha256 = Sha256Of(Must(ReadFile(up.lib_archive))).Hex();
  up.app_sha256 = Sha256Of(Must(ReadFile(up.app_archive))).Hex();
  return up;
}

std::string HelloRecipe(const HelloUpstreams& up, const std::string& extra) {
  return StrCat(
      "name: hello\n"                                      // 1
      "version: \"1.0\"\n"                                 // 2
      "release: 1\n"                                       // 3
      "homepage: https://example.org/hello\n"              // 4
      "license: MIT\n"                                     // 5
      "summary: Greets\n"                                  // 6
      "description: |\n"                                   // 7
      "  A library that greets and a program using it.\n"  // 8
      "source-date-epoch: 1700000000\n"                    // 9
      "upstreams:\n"                                       // 10
      "  - file://",
      up.lib_archive, " : ", up.lib_sha256,
      "\n"  // 11
      "  - file://",
      up.app_archive, " : ", up.app_sha256,
      "\n"                                        // 12
      "build: |\n"                                // 13
      "  %make\n"                                 // 14
      "install: |\n"                              // 15
      "  %make_install\n"                         // 16
      "  cd ../hello-app-1.0\n"                   // 17
      "  make HELLO=%(installroot)\n"             // 18
      "  make install DESTDIR=%(installroot)\n",  // 19
      extra);
}

}  // namespace onix::boulder::testing

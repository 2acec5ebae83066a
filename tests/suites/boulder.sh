#!/usr/bin/env bash
# boulder's CLI end to end: builds a musl library + program from archives this suite makes,
# checks the split, the soname provider/dependency, that the program runs with musl's
# loader, reproducibility, --check-manifest, the source cache and mirror, `boulder new`,
# `boulder chroot`, and bad-recipe errors (file:line, exit status 2, no partial stones).
# Never touches the network or the host's /usr. Ends with "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
bazel build //boulder:boulder >/dev/null 2>&1 || { echo "not ok 1 - bazel build //boulder"; echo "0 passed, 1 failed"; exit 1; }
B=$repo/bazel-bin/boulder/boulder
S=$(mktemp -d /tmp/boulder-suite.XXXXXX)
trap 'rm -rf "$S"' EXIT
passed=0 failed=0 n=0
t() {  # t "description" command...
  n=$((n + 1))
  if "${@:2}" >>"$S/log" 2>&1; then
    echo "ok $n - $1"; passed=$((passed + 1))
  else
    echo "not ok $n - $1"; failed=$((failed + 1)); tail -5 "$S/log" | sed 's/^/# /'
  fi
}

# ---- upstream archives ---------------------------------------------------------------------
mkdir -p "$S/up/libhello-1.0" "$S/up/hello-app-1.0" "$S/mirror"
cat >"$S/up/libhello-1.0/hello.c" <<'C'
#include <stdio.h>
int hello_greet(const char *who) { return printf("hello, %s\n", who) < 0; }
C
echo 'int hello_greet(const char *who);' >"$S/up/libhello-1.0/hello.h"
printf 'Name: hello\nVersion: 1.0\nDescription: greets\nLibs: -lhello\n' >"$S/up/libhello-1.0/hello.pc"
printf '#!/bin/sh\necho configured > config.status\n' >"$S/up/libhello-1.0/configure"
chmod +x "$S/up/libhello-1.0/configure"
cat >"$S/up/libhello-1.0/Makefile" <<'MK'
all: libhello.so.1
libhello.so.1: hello.c
	$(CC) $(CFLAGS) -shared -Wl,-soname,libhello.so.1 $(LDFLAGS) -o $@ hello.c
install:
	install -Dm755 libhello.so.1 $(DESTDIR)/usr/lib/libhello.so.1
	ln -sf libhello.so.1 $(DESTDIR)/usr/lib/libhello.so
	install -Dm644 hello.h $(DESTDIR)/usr/include/hello.h
	install -Dm644 hello.pc $(DESTDIR)/usr/lib/pkgconfig/hello.pc
MK
cat >"$S/up/hello-app-1.0/main.c" <<'C'
int hello_greet(const char *who);
int main(int argc, char **argv) { return hello_greet(argc > 1 ? argv[1] : "world"); }
C
echo 'project(app C)' >"$S/up/hello-app-1.0/CMakeLists.txt"
(cd "$S/up" && tar --sort=name --mtime=@0 --owner=0 --group=0 -czf libhello-1.0.tar.gz libhello-1.0 &&
  tar --sort=name --mtime=@0 --owner=0 --group=0 -czf hello-app-1.0.tar.gz hello-app-1.0)
L=$(sha256sum "$S/up/libhello-1.0.tar.gz" | cut -d' ' -f1)
A=$(sha256sum "$S/up/hello-app-1.0.tar.gz" | cut -d' ' -f1)
cp "$S/up/hello-app-1.0.tar.gz" "$S/mirror/"

# The app comes from an https URL that only the mirror can serve.
recipe() {
  cat <<Y
name: hello
version: "1.0"
release: 1
license: MIT
summary: Greets
source-date-epoch: 1700000000
upstreams:
  - file://$S/up/libhello-1.0.tar.gz : $L
  - https://example.invalid/dl/hello-app-1.0.tar.gz : $A
setup: |
  %configure
build: |
  %make
install: |
  %make_install
  cd ../hello-app-1.0
  \$CC \$CFLAGS -o hello main.c \$LDFLAGS -L%(installroot)/usr/lib -lhello
  install -Dm755 hello %(installroot)/usr/bin/hello
Y
}
mkdir -p "$S/r"
recipe >"$S/r/stone.yaml"
build() { "$B" build "$S/r/stone.yaml" --source-cache "$S/cache" --mirror "$S/mirror" "$@"; }

t "boulder build writes main, devel and dbginfo stones and manifest.json" \
  bash -c "'$B' build '$S/r/stone.yaml' --source-cache '$S/cache' --mirror '$S/mirror' --output '$S/out1' &&
    test -f '$S/out1/hello-1.0-1-1-x86_64.stone' && test -f '$S/out1/hello-devel-1.0-1-1-x86_64.stone' &&
    test -f '$S/out1/hello-dbginfo-1.0-1-1-x86_64.stone' && test -f '$S/out1/manifest.json'"
t "main provides soname(libhello.so.1(x86_64)) and binary(hello), devel provides pkgconfig(hello)" \
  python3 - "$S/out1/manifest.json" <<'PY'
import json, sys
m = {p["name"]: p for p in json.load(open(sys.argv[1]))["packages"]}
assert "soname(libhello.so.1(x86_64))" in m["hello"]["provides"], m["hello"]
assert "binary(hello)" in m["hello"]["provides"]
assert "soname(libc.so(x86_64))" in m["hello"]["depends"]
assert "pkgconfig(hello)" in m["hello-devel"]["provides"]
assert "name(hello)" in m["hello-devel"]["depends"]
assert any(f["path"] == "/usr/include/hello.h" for f in m["hello-devel"]["files"])
PY
# moss installs the stones into a throwaway root, where the program runs on musl. The C
# library stone borrows the host's musl libc.so (which has no DT_SONAME, hence the explicit
# provider); stones/musl builds the real one, too slowly for this suite.
mkdir -p "$S/mh"
cat >"$S/mh/stone.yaml" <<'Y'
name: musl-host
version: "1.2.3"
release: 1
license: MIT
summary: The quarry host's musl C library and loader, borrowed for this suite
install: |
  install -Dm755 /usr/lib/x86_64-linux-musl/libc.so %(installroot)/usr/lib/libc.so
  ln -s libc.so %(installroot)/usr/lib/ld-musl-x86_64.so.1
packages:
  - musl-host:
      paths: [/usr/lib]
      provides: [soname(libc.so(x86_64))]
Y
moss=$repo/bazel-bin/moss/moss
t "moss installs the stones into a fresh root where the program runs (chroot, musl loader)" bash -c "
  '$B' build '$S/mh/stone.yaml' --source-cache '$S/cache' --output '$S/mhout' >/dev/null &&
  bazel build //moss:moss >/dev/null 2>&1 && mkdir -p '$S/mroot' &&
  '$moss' -D '$S/mroot' -y install '$S/mhout/musl-host-1.2.3-1-1-x86_64.stone' '$S/out1/hello-1.0-1-1-x86_64.stone' &&
  ln -s usr/lib '$S/mroot/lib' &&
  test \"\$(chroot '$S/mroot' /usr/bin/hello suite)\" = 'hello, suite'"
t "a second build is byte-identical" bash -c "
  '$B' build '$S/r/stone.yaml' --source-cache '$S/cache' --mirror '$S/mirror' --output '$S/out2' >/dev/null &&
  diff -r '$S/out1' '$S/out2'"
t "--check-manifest accepts the same build" bash -c "
  '$B' build '$S/r/stone.yaml' --source-cache '$S/cache' --mirror '$S/mirror' --output '$S/out3' --check-manifest '$S/out1/manifest.json'"
sed 's/summary: Greets/summary: Greets loudly/; s/release: 1/release: 2/' "$S/r/stone.yaml" >"$S/r/changed.yaml"
t "--check-manifest refuses a different build and writes no stones" bash -c "
  ! '$B' build '$S/r/changed.yaml' --source-cache '$S/cache' --mirror '$S/mirror' --output '$S/out4' --check-manifest '$S/out1/manifest.json' 2>'$S/err4' &&
  grep -q 'differs from the manifest' '$S/err4' && ! ls '$S/out4'/*.stone 2>/dev/null"
t "boulder fetch fills an empty cache from the mirror and file:// URLs" bash -c "
  '$B' fetch '$S/r/stone.yaml' --source-cache '$S/cache2' --mirror '$S/mirror' &&
  test -f '$S/cache2/sha256/$L' && test -f '$S/cache2/sha256/$A'"
t "an https upstream missing from cache and mirror is an error naming the URL" bash -c "
  ! '$B' fetch '$S/r/stone.yaml' --source-cache '$S/cache3' 2>'$S/err5' && grep -q 'https://example.invalid/dl/hello-app-1.0.tar.gz' '$S/err5'"
t "boulder new drafts a CMake recipe with the archive's sha256" bash -c "
  '$B' new 'file://$S/up/hello-app-1.0.tar.gz' >'$S/new.yaml' && grep -q '%cmake' '$S/new.yaml' &&
  grep -q '$A' '$S/new.yaml' && grep -q '^name        : hello-app' '$S/new.yaml'"
t "boulder new detects autotools" bash -c "'$B' new 'file://$S/up/libhello-1.0.tar.gz' | grep -q '%configure'"
t "boulder chroot runs a shell in the sandbox at the source directory" bash -c "
  printf 'pwd; hostname; test -f hello.c && echo has-source; exit\n' |
    '$B' chroot '$S/r/stone.yaml' --source-cache '$S/cache' --mirror '$S/mirror' >'$S/chroot.out' 2>/dev/null;
  grep -qx /mason/build/libhello-1.0 '$S/chroot.out' && grep -qx boulder '$S/chroot.out' && grep -qx has-source '$S/chroot.out'"

# ---- bad recipes: file:line, exit status, nothing written -----------------------------------
bad() {  # bad NAME SED-EXPR EXPECTED-TEXT EXPECTED-EXIT
  sed "$2" "$S/r/stone.yaml" >"$S/r/$1.yaml"
  "$B" build "$S/r/$1.yaml" --source-cache "$S/cache" --mirror "$S/mirror" --output "$S/bad-$1" 2>"$S/err-$1"
  local rc=$?
  grep -qF "$3" "$S/err-$1" && [[ $rc == "$4" ]] && ! ls "$S/bad-$1"/*.stone 2>/dev/null
}
t "missing field: file:line, exit 2" bad missing '/^license:/d' "missing.yaml:1: missing required field 'license'" 2
t "unknown macro: file:line, exit 2" bad macro 's/%make_install/%make_instal/' "macro.yaml:15: unknown macro %make_instal" 2
t "wrong hash: names the URL and both hashes" bad hash "s/$L/$(printf '0%.0s' {1..64})/" "sha256 mismatch: recipe says $(printf '0%.0s' {1..64}), got $L" 1
t "failing step: names the step line" bad step 's/^  %make$/  %make\n  exit 3/' "step.yaml:13: step build of hello failed: exit status 3" 1

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]

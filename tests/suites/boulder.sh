#!/usr/bin/env bash
# boulder's CLI end to end: builds a musl library + program from archives this suite makes,
# checks the split, the soname provider/dependency, that the program runs with musl's
# loader, reproducibility, --check-manifest, the source cache and mirror, `boulder new`,
# `boulder chroot`, bad-recipe errors (file:line, exit status 2, no partial stones), the
# manifest's coverage, build dependencies installed by moss from an indexed repository,
# `boulder fetch --from-debian-source` against Debian's real source archive (the only network
# use), and a libFuzzer run of the recipe parser. Never touches the host's /usr.
# Ends with "N passed, N failed, N skipped" (tests/lib/common.sh).
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
source tests/lib/common.sh
bazel build //boulder:boulder //moss:moss >/dev/null 2>&1 || { not_ok "bazel build //boulder //moss"; finish; }
S=$(mktemp -d /tmp/boulder-suite.XXXXXX)
trap 'rm -rf "$S"' EXIT
# Private copies: other builds in this checkout may replace bazel-bin while the suite runs.
cp "$repo/bazel-bin/boulder/boulder" "$repo/bazel-bin/moss/moss" "$S/"
B=$S/boulder moss=$S/moss
export BOULDER_MACROS_DIR=$repo/boulder/data/macros
t() {  # t "description" command...
  if "${@:2}" >>"$S/log" 2>&1; then
    ok "$1"
  else
    not_ok "$1"; tail -5 "$S/log" | sed 's/^/# /'
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
t "moss installs the stones into a fresh root where the program runs (chroot, musl loader)" bash -c "
  '$B' build '$S/mh/stone.yaml' --source-cache '$S/cache' --output '$S/mhout' >/dev/null &&
  mkdir -p '$S/mroot' &&
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

t "manifest.json: every stone and its SHA-256, every file's digest, recipe, sources, toolchain" \
  python3 - "$S/out1" "$S/r/stone.yaml" "$L" "$A" "$S/mroot" <<'PY'
import glob, hashlib, json, os, sys
out, recipe, lib_sha, app_sha, root = sys.argv[1:]
sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
m = json.load(open(os.path.join(out, "manifest.json")))
# Every stone in the output is in the manifest with its real digest and size, and back.
stones = {os.path.basename(p): p for p in glob.glob(os.path.join(out, "*.stone"))}
listed = {p["stone"]: p for p in m["packages"]}
assert set(stones) == set(listed), (sorted(stones), sorted(listed))
for name, p in listed.items():
    assert p["sha256"] == sha(stones[name]), name
    assert p["size"] == os.path.getsize(stones[name]), name
    assert p["files"], name
# File digests are the installed bytes (moss installed hello into $S/mroot above).
hello = {f["path"]: f for f in listed["hello-1.0-1-1-x86_64.stone"]["files"]}
assert hello["/usr/bin/hello"]["sha256"] == sha(root + "/usr/bin/hello")
assert hello["/usr/lib/libhello.so.1"]["sha256"] == sha(root + "/usr/lib/libhello.so.1")
assert m["recipe"]["sha256"] == sha(recipe) and m["recipe"]["name"] == "hello"
assert sorted(s["sha256"] for s in m["sources"]) == sorted([lib_sha, app_sha]), m["sources"]
assert all(s["hash"] == s["sha256"] and s["kind"] == "archive" for s in m["sources"])
tc = m["toolchain"]
for key in ("cc", "binutils", "libc", "host-toolchain", "macros", "toolchain"):
    assert tc.get(key) and "not found" not in tc[key], (key, tc)
assert tc["cc"].startswith("musl-gcc: ") and tc["host-toolchain"].startswith("musl.yaml sha256:")
PY
cp "$S/out1/manifest.json" "$S/tampered.json"
sed -i 's/"sha256": "[0-9a-f]\{8\}/"sha256": "00000000/' "$S/tampered.json"
t "--check-manifest fails on a committed manifest whose digests differ, naming the field" bash -c "
  ! '$B' build '$S/r/stone.yaml' --source-cache '$S/cache' --mirror '$S/mirror' --output '$S/out5' --check-manifest '$S/tampered.json' 2>'$S/err-tamper' &&
  grep -q 'differs from the manifest' '$S/err-tamper' && grep -q 'sha256' '$S/err-tamper' && ! ls '$S/out5'/*.stone 2>/dev/null"

# ---- build dependencies: resolved and installed by moss from a repository ------------------
mkdir -p "$S/g"
cat >"$S/g/stone.yaml" <<'Y'
name: greeter
version: "2"
release: 1
license: MIT
summary: Greets through libhello
builddeps:
  - pkgconfig(hello)
  - soname(libhello.so.1(x86_64))
  - binary(make)
install: |
  test -f /usr/include/hello.h && test -f /usr/.fstx
  printf '#include <hello.h>\nint main(void) { return hello_greet("greeter"); }\n' > g.c
  $CC $CFLAGS -o g g.c $LDFLAGS -lhello
  install -Dm755 g %(installroot)/usr/bin/greeter
Y
# The repository: the hello stones plus the C library they need (the solver insists).
cp -r "$S/out1" "$S/repo1" && cp "$S/mhout/musl-host-1.2.3-1-1-x86_64.stone" "$S/repo1/"
t "builddeps: pkgconfig() and soname() are installed by moss from an indexed repository, make is the host's" bash -c "
  '$moss' index '$S/repo1' >/dev/null &&
  '$B' build '$S/g/stone.yaml' --source-cache '$S/cache' --output '$S/gout' --repo '$S/repo1' 2>'$S/err-g' >/dev/null &&
  python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); d={b[\"dep\"]: b for b in m[\"builddeps\"]}; assert d[\"binary(make)\"][\"from\"] == \"host\"; assert d[\"hello-devel\"][\"from\"] == \"hello-devel-1.0-1-1-x86_64.stone\", d; assert \"soname(libhello.so.1(x86_64))\" in m[\"packages\"][0][\"depends\"]' '$S/gout/manifest.json'"
t "builddeps: a provider no repository has is an error naming the recipe line, no stones" bash -c "
  sed 's/pkgconfig(hello)/pkgconfig(nosuch)/' '$S/g/stone.yaml' >'$S/g/bad.yaml' &&
  ! '$B' build '$S/g/bad.yaml' --source-cache '$S/cache' --output '$S/gbad' --repo '$S/repo1' 2>'$S/err-gbad' &&
  grep -q 'bad.yaml:7: installing build dependencies pkgconfig(nosuch), soname(libhello.so.1(x86_64))' '$S/err-gbad' && ! ls '$S/gbad'/*.stone 2>/dev/null"

# Unprivileged: boulder as nobody installs the build root with moss and builds in a user
# namespace (uid 0 inside is nobody outside).
if [[ $(id -u) == 0 ]]; then
  mkdir -p "$S/nobody" && chmod 755 "$S" && chmod 1777 "$S/nobody" && chmod -R a+rX "$S/repo1" "$S/g" "$B"
  t "builddeps: an unprivileged boulder installs the build root with moss and builds" bash -c "
    setpriv --reuid=65534 --regid=65534 --clear-groups env HOME='$S/nobody' \
      '$B' build '$S/g/stone.yaml' --output '$S/nobody/out' --source-cache '$S/nobody/cache' \
      --repo '$S/repo1' --work-dir '$S/nobody' >/dev/null 2>'$S/nobody/err' &&
    test \"\$(stat -c %u '$S/nobody/out/greeter-2-1-1-x86_64.stone')\" = 65534"
else
  skip "builddeps: an unprivileged boulder installs the build root with moss and builds" \
    "needs root to run boulder as nobody (setpriv)"
fi

# ---- boulder fetch --from-debian-source: Debian's real source archive -----------------------
# GNU hello 2.10's upstream tarball, as published on ftp.gnu.org (hello-2.10.tar.gz) and kept
# unchanged by Debian as hello_2.10.orig.tar.gz.
hello_sha=31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b
t "fetch --from-debian-source caches Debian's hello_2.10.orig.tar.gz under its real SHA-256" bash -c "
  '$B' fetch --from-debian-source hello=2.10-3 --source-cache '$S/dcache' --mirror '$S/dmirror' >'$S/deb.out' 2>'$S/deb.err' &&
  head -1 '$S/deb.out' | grep -qx 'hello_2.10.orig.tar.gz $hello_sha' &&
  echo '$hello_sha  $S/dcache/sha256/$hello_sha' | sha256sum -c --quiet - &&
  test -f '$S/dmirror/hello_2.10.orig.tar.gz'"
dsrc_recipe() {  # dsrc_recipe HASH
  printf 'name: hello\nversion: "2.10"\nrelease: 1\nlicense: GPL-3.0-or-later\nsummary: GNU hello\nupstreams:\n  - https://deb.debian.org/debian/pool/main/h/hello/hello_2.10.orig.tar.gz : %s\n' "$1"
}
dsrc_recipe "$hello_sha" >"$S/dsrc-good.yaml"
dsrc_recipe "$(printf 'e%.0s' {1..64})" >"$S/dsrc-bad.yaml"
t "a recipe with Debian's upstream hash fetches it from the filled cache" bash -c "
  '$B' fetch '$S/dsrc-good.yaml' --source-cache '$S/dcache'"
t "a mismatching recipe hash is a hard error naming the URL and both hashes" bash -c "
  ! '$B' fetch '$S/dsrc-bad.yaml' --source-cache '$S/dcache-empty' --mirror '$S/dmirror' 2>'$S/err-dsrc' &&
  grep -qF 'https://deb.debian.org/debian/pool/main/h/hello/hello_2.10.orig.tar.gz: sha256 mismatch: recipe says $(printf 'e%.0s' {1..64}), got $hello_sha' '$S/err-dsrc' &&
  ! ls '$S/dcache-empty/sha256/'* 2>/dev/null"

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

# ---- the recipe parser under libFuzzer ------------------------------------------------------
# boulder/recipe/fuzz/recipe_fuzzer.cc with clang++ -fsanitize=fuzzer,address (Bazel's
# toolchain is gcc), seeded with the real recipes and macro files, for BOULDER_FUZZ_SECONDS
# (default 30). The target aborts on a crash and on any error that is not
# "<file>:<line>: ...", so "nothing found" means no crash and every bad recipe a clear error.
fuzz_seconds=${BOULDER_FUZZ_SECONDS:-30}
absl_libs=$(sed -n '/^ABSL_LIBS = \[/,/^\]/p' third_party/system.BUILD | grep -o '"absl_[a-z_]*"' |
  tr -d '"' | sed 's/^/-l/' | tr '\n' ' ')
t "recipe fuzzer builds with clang++ -fsanitize=fuzzer,address" \
  clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address -I. boulder/recipe/fuzz/recipe_fuzzer.cc \
  boulder/recipe/recipe.cc boulder/recipe/macros.cc boulder/util/util.cc moss/base/status.cc \
  moss/base/sha256.cc moss/base/fs_at.cc moss/stone/types.cc moss/base/check.cc \
  -o "$S/recipe_fuzzer" -lyaml-cpp -lcrypto -lboost_filesystem $absl_libs
mkdir -p "$S/fuzz/corpus" "$S/fuzz/artifacts"
for f in stones/*/stone.yaml; do cp "$f" "$S/fuzz/corpus/$(basename "$(dirname "$f")").yaml"; done
cp boulder/data/macros/*.yaml "$S/r/stone.yaml" "$S/g/stone.yaml" "$S/fuzz/corpus/" 2>/dev/null
cp boulder/recipe/fuzz/corpus/* "$S/fuzz/corpus/"
t "fuzzed the recipe and macro parsers for ${fuzz_seconds}s: no crash, every error names file:line" bash -c "
  cd '$S/fuzz' && ASAN_OPTIONS=detect_leaks=1 '$S/recipe_fuzzer' -max_total_time=$fuzz_seconds \
    -max_len=16384 -rss_limit_mb=2048 -artifact_prefix='$S/fuzz/artifacts/' corpus >'$S/fuzz/log' 2>&1 ||
  { tail -30 '$S/fuzz/log'; mkdir -p '$repo/build' && cp '$S/fuzz/artifacts/'* '$repo/build/' 2>/dev/null; false; }"
grep -o 'Done [0-9]* runs' "$S/fuzz/log" 2>/dev/null | sed 's/^/# /'

finish

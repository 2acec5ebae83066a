#!/usr/bin/env bash
# The Debian archive moves (point releases replace revisions, and drop the old ones), and the
# quarry moves with it without ever packing something apt did not verify. Offline: a private
# apt (APT_CONFIG) reads a local file:// repository this suite builds and signs with a
# throwaway key, holding one borrowed binary package and one source package. Two recipes in a
# private stones folder take them (QUARRY_STONES, QUARRY_BUILD, QUARRY_SOURCES: nothing of the
# checkout's build/ is touched), and boulder builds them into stones. Then the archive moves:
#   - a new Debian revision of both: the stones are rebuilt from it, the lock says so;
#   - a new upstream version of both: used, said in one line, the stones' version follows;
#   - an upstream outside what the recipe accepts: a hard error, nothing built;
#   - a revision whose orig tarball differs for the same upstream: a hard error;
#   - a .deb whose bytes are not the ones the signed index names: a hard error.
# About 40 s.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
source tests/lib/common.sh

for t in apt-ftparchive gpg dpkg-source dpkg-deb; do
  command -v $t >/dev/null || { skip "a local signed apt repository can be built" "$t missing (tools/setup installs apt-utils, gnupg, dpkg-dev)"; finish; }
done
if [[ ! -x bazel-bin/boulder/boulder || ! -x bazel-bin/moss/moss ]]; then
  bazel build //boulder //moss >/dev/null 2>&1 || { not_ok "bazel build //boulder //moss"; finish; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/onix-debian-archive.XXXXXX")
[[ -n ${KEEP_WORK:-} ]] || trap 'gpgconf --homedir "$work/gnupg" --kill all 2>/dev/null; rm -rf "$work"' EXIT
A=$work/apt
mkdir -p "$A"/etc/{sources.list.d,apt.conf.d,preferences.d} "$A"/state/lists/partial \
  "$A"/cache/archives/partial "$A"/repo/pool "$work/gnupg" "$work/src"
: >"$A/state/status"
cat >"$A/apt.conf" <<EOF
Dir::Etc "$A/etc";
Dir::State "$A/state";
Dir::State::status "$A/state/status";
Dir::Cache "$A/cache";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
Acquire::Languages "none";
EOF
export APT_CONFIG=$A/apt.conf
chmod 700 "$work/gnupg"
export GNUPGHOME=$work/gnupg
gpg --batch --quiet --passphrase '' --quick-gen-key "ONIX archive test <test@onix.invalid>" ed25519 sign never 2>/dev/null
gpg --batch --export >"$A/key.gpg"
cat >"$A/etc/sources.list" <<EOF
deb [signed-by=$A/key.gpg] file://$A/repo test main
deb-src [signed-by=$A/key.gpg] file://$A/repo test main
EOF
# apt drops privileges to _apt for downloads; the private tree must be readable to it.
chmod -R a+rX "$work"
chmod 700 "$work/gnupg"

# bin_pkg VERSION: the borrowed binary package onix-test-borrowed at VERSION (its file says it).
bin_pkg() {
  local d=$work/deb-$1
  rm -rf "$d"; mkdir -p "$d/DEBIAN" "$d/usr/share/onix-test"
  printf 'Package: onix-test-borrowed\nVersion: %s\nArchitecture: amd64\nMaintainer: ONIX <test@onix.invalid>\nDescription: test\n' "$1" >"$d/DEBIAN/control"
  echo "borrowed $1" >"$d/usr/share/onix-test/hello.txt"
  dpkg-deb --root-owner-group -Zgzip --build "$d" "$A/repo/pool/onix-test-borrowed_$1_amd64.deb" >/dev/null
}
# src_pkg UPSTREAM REVISION [CONTENT]: the source package onix-test-src, orig tarball made from
# CONTENT (default: "source UPSTREAM"), byte-stable for the same content.
src_pkg() {
  local up=$1 rev=$2 content=${3:-source $1} d=$work/src/onix-test-src-$1
  rm -rf "$d"; mkdir -p "$d"
  echo "$content" >"$d/hello.txt"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/src" -cf - "onix-test-src-$up" |
    gzip -n >"$work/src/onix-test-src_$up.orig.tar.gz"
  mkdir -p "$d/debian/source"
  echo "3.0 (quilt)" >"$d/debian/source/format"
  printf 'Source: onix-test-src\nMaintainer: ONIX <test@onix.invalid>\nStandards-Version: 4.6.2\n\nPackage: onix-test-src\nArchitecture: all\nDescription: test\n' >"$d/debian/control"
  printf 'onix-test-src (%s-%s) test; urgency=low\n\n  * test\n\n -- ONIX <test@onix.invalid>  Mon, 07 Dec 2026 00:00:00 +0000\n' "$up" "$rev" >"$d/debian/changelog"
  printf '#!/usr/bin/make -f\n%%:\n\tdh $@\n' >"$d/debian/rules"
  (cd "$work/src" && dpkg-source -q -b "onix-test-src-$up" >/dev/null 2>&1) || return 1
  mv "$work/src"/onix-test-src_"$up"* "$A/repo/pool/" 2>/dev/null
  rm -rf "$d"
}
publish() {  # indexes and signs the repository as it is now, then apt-get update
  local r=$A/repo d=$A/repo/dists/test
  rm -rf "$d"; mkdir -p "$d/main/binary-amd64" "$d/main/source"
  (cd "$r" && apt-ftparchive packages pool >"$d/main/binary-amd64/Packages" 2>/dev/null &&
    apt-ftparchive sources pool >"$d/main/source/Sources" 2>/dev/null &&
    apt-ftparchive -o APT::FTPArchive::Release::Suite=test -o APT::FTPArchive::Release::Codename=test \
      -o APT::FTPArchive::Release::Components=main -o APT::FTPArchive::Release::Architectures=amd64 \
      release dists/test >"$d/Release.tmp" && mv "$d/Release.tmp" "$d/Release")
  gpg --batch --yes --clearsign -o "$d/InRelease" "$d/Release"
  chmod -R a+rX "$r"
  apt-get update -qq >"$work/apt-update.log" 2>&1
}

# Two recipes: one borrows the binary package, one builds from the source package's tarball.
S=$work/stones
mkdir -p "$S/t-borrowed" "$S/t-source"
cat >"$S/debian-binaries" <<'EOF'
t-borrowed  1.*  onix-test-*  onix-test-borrowed
EOF
cat >"$S/debian-sources" <<'EOF'
t-source  onix-test-src
EOF
cat >"$S/t-borrowed/stone.yaml" <<'EOF'
name: t-borrowed
version: 1.0
release: 1
license: MIT
summary: borrowed test package
description: The borrowed file, repacked.
install: |
  install -Dm644 "%(buildroot)/debian/usr/share/onix-test/hello.txt" "%(installroot)%(datadir)/t-borrowed/hello.txt"
EOF
src_pkg 1.0 1 || { not_ok "dpkg-source builds the test source package"; finish; }
orig_sha=$(sha256sum "$A/repo/pool/onix-test-src_1.0.orig.tar.gz" | cut -d' ' -f1)
cat >"$S/t-source/stone.yaml" <<EOF
name: t-source
version: 1.0
release: 1
license: MIT
summary: source test package
description: The upstream file, installed.
upstreams:
  - https://example.invalid/onix-test-src-1.0.tar.gz : $orig_sha
install: |
  install -Dm644 hello.txt "%(installroot)%(datadir)/t-source/hello.txt"
EOF
bin_pkg 1.0-1
publish || { not_ok "apt-get update reads the signed local repository"; note "$(cat "$work/apt-update.log")"; finish; }

export QUARRY_STONES=$S QUARRY_BUILD=$work/build QUARRY_SOURCES=$work/sources
quarry() { "$repo/tools/quarry" "$@" 2>&1; }
lock=$work/build/quarry/debian.lock
stone_file() { ls "$work/build/stones/$1"-*.stone 2>/dev/null | head -1; }
payload() {  # STONE PATH: the file's contents from the stone, extracted
  rm -rf "$work/x"
  "$repo/bazel-bin/moss/moss" extract "$1" "$work/x" >/dev/null 2>&1 && cat "$work/x/$2"
}

out=$(quarry build-stones t-borrowed t-source); rc=$?
check "the quarry builds both recipes from the archive as it is (rc $rc)" test "$rc" = 0
[[ $rc == 0 ]] || note "$out"
check "the lock records the binary package's revision and the SHA-256 of its .deb" \
  grep -qE "^t-borrowed binary onix-test-borrowed 1\.0-1 onix-test-borrowed_1\.0-1_amd64\.deb [0-9a-f]{64}$" "$lock"
check "the lock records the source package's revision and the orig tarball used" \
  grep -qx "t-source source onix-test-src 1.0-1 onix-test-src_1.0.orig.tar.gz $orig_sha" "$lock"
got=$(payload "$(stone_file t-borrowed)" share/t-borrowed/hello.txt)
check "the borrowed stone holds the .deb's file" test "$got" = "borrowed 1.0-1"
info=$("$repo/bazel-bin/moss/moss" inspect "$(stone_file t-borrowed)" 2>&1)
check "the stone's metadata names the exact .deb it was made from" \
  grep -q "debian-binary onix-test-borrowed 1.0-1 onix-test-borrowed_1.0-1_amd64.deb sha256:" <<<"$info"

mroot=$work/root; mkdir -p "$mroot"
"$repo/bazel-bin/moss/moss" --root "$mroot" repo add local "file://$work/build/stones" >/dev/null 2>&1
"$repo/bazel-bin/moss/moss" --root "$mroot" repo update >/dev/null 2>&1
info=$("$repo/bazel-bin/moss/moss" --root "$mroot" info t-borrowed 2>&1)
check "moss info NAME shows the repository package's exact Debian input" \
  grep -q "debian-binary onix-test-borrowed 1.0-1 onix-test-borrowed_1.0-1_amd64.deb sha256:" <<<"$info"
check "the build manifest lists the Debian inputs" \
  grep -q '"debian-source onix-test-src 1.0-1 onix-test-src_1.0.orig.tar.gz sha256:'"$orig_sha"'"' \
  "$work/build/stones/manifests/t-source.json"

# A point release: new revisions of both, the old ones gone from the archive.
rm -f "$A"/repo/pool/*
bin_pkg 1.0-2
src_pkg 1.0 2
publish
out=$(quarry build-stones t-borrowed t-source); rc=$?
check "a new Debian revision is used, not refused (rc $rc)" test "$rc" = 0
[[ $rc == 0 ]] || note "$out"
check "the quarry says in one line that the archive moved, from what the lock had" \
  grep -q "the archive moved: onix-test-borrowed 1.0-1 (last lock) -> 1.0-2" <<<"$out"
check "the lock now names the new revisions" \
  bash -c "grep -q '^t-borrowed binary onix-test-borrowed 1.0-2 ' '$lock' && grep -q '^t-source source onix-test-src 1.0-2 onix-test-src_1.0.orig.tar.gz $orig_sha\$' '$lock'"
got=$(payload "$(stone_file t-borrowed)" share/t-borrowed/hello.txt)
check "the borrowed stone is rebuilt from the new .deb" test "$got" = "borrowed 1.0-2"

# The upstream versions move.
rm -f "$A"/repo/pool/*
bin_pkg 1.5-1
src_pkg 1.1 1
publish
new_sha=$(sha256sum "$A/repo/pool/onix-test-src_1.1.orig.tar.gz" | cut -d' ' -f1)
out=$(quarry build-stones t-borrowed t-source); rc=$?
check "a new upstream version is used, not refused (rc $rc)" test "$rc" = 0
[[ $rc == 0 ]] || note "$out"
check "the quarry says the source's upstream moved and what it builds instead" \
  grep -q "Debian's upstream moved: onix-test-src 1.1-1 ships 1.1, the recipe pins 1.0; building 1.1" <<<"$out"
check "the lock records the new orig tarball" \
  grep -qx "t-source source onix-test-src 1.1-1 onix-test-src_1.1.orig.tar.gz $new_sha" "$lock"
check "the stones carry the new upstream versions (t-borrowed 1.5, t-source 1.1)" \
  bash -c "ls '$work/build/stones' | grep -q '^t-borrowed-1\.5-1-' && ls '$work/build/stones' | grep -q '^t-source-1\.1-1-'"
got=$(payload "$(stone_file t-source)" share/t-source/hello.txt)
check "the source stone holds the new upstream's file" test "$got" = "source 1.1"

# What cannot be accepted stops the build, and nothing new lands in build/stones.
before=$(ls "$work/build/stones" | sort)
rm -f "$A"/repo/pool/onix-test-borrowed_*
bin_pkg 2.0-1
publish
out=$(quarry build-stones t-borrowed); rc=$?
check "an upstream outside the accepted 1.* is a hard error naming it" \
  bash -c "[[ $rc != 0 ]] && grep -qF 'Debian now serves onix-test-borrowed 2.0-1, upstream 2.0, outside the accepted 1.*' <<<\"\$1\"" _ "$out"

rm -f "$A"/repo/pool/*
bin_pkg 1.5-2
src_pkg 1.0 3 "source 1.0, other bytes"
publish
out=$(quarry build-stones t-source); rc=$?
check "an orig tarball whose bytes differ from the recipe's pin for the same upstream is refused" \
  bash -c "[[ $rc != 0 ]] && grep -q 'but the recipe pins $orig_sha for the same upstream 1.0: refusing' <<<\"\$1\"" _ "$out"

# The signed index names one .deb; the archive serves other bytes.
printf 'tampered' >>"$A/repo/pool/onix-test-borrowed_1.5-2_amd64.deb"
out=$(quarry build-stones t-borrowed); rc=$?
check "a .deb whose bytes are not the ones the signed index names is a hard error" \
  bash -c "[[ $rc != 0 ]] && grep -qiE 'hash sum mismatch|not the sha256' <<<\"\$1\"" _ "$out"
check "nothing the refused inputs made is in build/stones" \
  test "$(ls "$work/build/stones" | sort)" = "$before"
finish

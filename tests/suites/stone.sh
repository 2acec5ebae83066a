#!/usr/bin/env bash
# End-to-end checks of stones through the moss binary: pack (pack_tree), moss inspect
# [--json|--layout|--check], moss extract, determinism, and refusal of corrupt input.
# Works only below a private temporary directory. Ends with "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d /tmp/stone-suite.XXXXXX)
trap 'chmod -R u+rwx "$work" 2>/dev/null; rm -rf "$work"' EXIT
source tests/lib/common.sh

if bazel build //moss:moss //moss/stone:pack_tree >"$work/bazel.log" 2>&1; then
  ok "moss and pack_tree build"
else
  tail -20 "$work/bazel.log"; not_ok "moss and pack_tree build"
  finish
fi
bin=$(bazel info bazel-bin 2>/dev/null)
moss=$bin/moss/moss pack=$bin/moss/stone/pack_tree

t=$work/tree
mkdir -p "$t/bin" "$t/lib/deep" "$t/share/doc"
printf '#!/bin/sh\necho hello\n' >"$t/bin/hello"; chmod 755 "$t/bin/hello"
printf 'licence text\n' >"$t/share/doc/A"; cp "$t/share/doc/A" "$t/share/doc/B"
: >"$t/lib/empty"; chmod 600 "$t/lib/empty"
head -c 3000000 /dev/urandom >"$t/lib/deep/blob"
ln -s hello "$t/bin/hi"; ln -s ../../bin/hello "$t/lib/deep/up"; ln -s /usr/lib "$t/lib64"
chmod 750 "$t/share"

check_quiet "pack a tree" "$pack" "$t" "$work/a.stone" hello 1.0 --epoch 1700000000
"$pack" "$t" "$work/b.stone" hello 1.0 --epoch 1700000000
check_quiet "the same tree and meta give byte-identical stones" cmp -s "$work/a.stone" "$work/b.stone"

out=$("$moss" inspect "$work/a.stone" 2>&1)
check_quiet "inspect prints name, payloads and compression" \
  grep -q 'name: *hello' <<<"$out"
check_quiet "inspect lists the payloads and the compression ratio" \
  grep -q 'compression: .*x (' <<<"$out"
json=$("$moss" inspect --json --layout "$work/a.stone")
check_quiet "inspect --json is JSON with meta and layout" python3 -c '
import json, sys
j = json.loads(sys.argv[1])
assert j["meta"]["name"] == "hello" and j["type"] == "binary"
paths = {e["path"] for e in j["layout"]}
assert {"bin/hello", "bin/hi", "lib/deep/blob", "share/doc/A"} <= paths, paths
assert j["files"]["unique_contents"] == 4, j["files"]
' "$json"
check_quiet "inspect --layout lists symlinks with targets" \
  grep -q '/usr/bin/hi -> hello' <<<"$("$moss" inspect --layout "$work/a.stone")"
check_quiet "inspect --check passes on a good stone" "$moss" inspect --check "$work/a.stone"

check_quiet "extract materialises the tree" "$moss" extract "$work/a.stone" "$work/x"
check_quiet "extracted tree has the same bytes" diff -r --no-dereference "$t" "$work/x"
modes() { (cd "$1" && find . -printf '%y %m %p %l\n' | sort); }
check_quiet "extracted tree has the same types, modes and link targets" \
  diff <(modes "$t") <(modes "$work/x")

before=$(modes "$work/x")
"$moss" extract "$work/a.stone" "$work/x" >/dev/null 2>"$work/err"; rc=$?
check_quiet "extract into an existing directory is refused and changes nothing" \
  test $rc -ne 0 -a "$before" = "$(modes "$work/x")"

# Corrupt one byte in the middle of the content payload (payload 1: after the header, the
# meta payload and the content header).
python3 - "$work/a.stone" "$work/bad.stone" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
off = 32
_, _, _, _, meta_stored = struct.unpack_from("<BBHIQ", b, off)
off += 64 + meta_stored
content_stored = struct.unpack_from("<Q", b, off + 8)[0]
b[off + 64 + content_stored // 2] ^= 0x55
open(sys.argv[2], "wb").write(bytes(b))
PY
"$moss" inspect --check "$work/bad.stone" >/dev/null 2>"$work/err"; rc=$?
check_quiet "inspect --check exits non-zero on a corrupt content byte" \
  test $rc -ne 0 -a -n "$(grep -E 'checksum mismatch|corrupt zstd|does not match' "$work/err")"
"$moss" extract "$work/bad.stone" "$work/y" >/dev/null 2>"$work/err"; rc=$?
leftover=$(ls -A "$work" | grep -c '^\.y\.extract-' || true)
check_quiet "extract of a corrupt stone fails and leaves neither DIR nor a temporary" \
  test $rc -ne 0 -a ! -e "$work/y" -a "$leftover" = 0

head -c 1000 "$work/a.stone" >"$work/cut.stone"
"$moss" inspect "$work/cut.stone" >/dev/null 2>"$work/err"; rc=$?
check_quiet "a truncated stone is refused as bad input (exit 2) naming the file" \
  test $rc -eq 2 -a -n "$(grep -F "$work/cut.stone" "$work/err")"
printf 'hello world, this is plain text and not a stone at all\n' >"$work/text.stone"
"$moss" inspect "$work/text.stone" >/dev/null 2>"$work/err"; rc=$?
check_quiet "a non-stone is refused with 'bad magic'" \
  test $rc -eq 2 -a -n "$(grep 'bad magic' "$work/err")"

finish

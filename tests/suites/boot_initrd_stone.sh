#!/usr/bin/env bash
# The linux stone's initramfs carries boot/initrd's state selection: the recipe's copy of the
# sources matches boot/initrd, the hand-built (tools/quarry prove) initrd holds the static musl
# onix-select-fstx and its hook, and the tool taken out of that cpio switches a state on a
# temp root (and refuses an unknown one without touching /usr).
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/common.sh
work=$(mktemp -d "${TMPDIR:-/tmp}/onix-initrd-stone.XXXXXX")
trap 'rm -rf "$work"' EXIT

check "stones/linux carries boot/initrd's sources unchanged (stone_inline.sh --check)" \
  boot/initrd/stone_inline.sh --check

if ! tools/quarry prove linux >"$work/prove.log" 2>&1; then
  tail -20 "$work/prove.log" | sed 's/^/# /'
  check "tools/quarry prove linux" false
  finish
fi
initrd=$(ls $PWD/build/quarry/prove/linux/install/usr/lib/kernel/*/initrd)
mkdir "$work/cpio"
(cd "$work/cpio" && gzip -dc <"$initrd" | cpio -id --quiet)
check "the initrd has /usr/bin/onix-select-fstx" test -x "$work/cpio/usr/bin/onix-select-fstx"
check "the initrd has the hook /init runs" test -x "$work/cpio/usr/lib/onix/initrd-hooks/50-onix-select-fstx"
check "the tool is static (no PT_INTERP) and not glibc" \
  bash -c "test -x '$work/cpio/usr/bin/onix-select-fstx' && ! readelf -lW '$work/cpio/usr/bin/onix-select-fstx' | grep -q INTERP &&
           ! grep -aq 'GNU C Library' '$work/cpio/usr/bin/onix-select-fstx'"
check "the hook is boot/initrd/initrd-hook.sh" \
  cmp -s "$work/cpio/usr/lib/onix/initrd-hooks/50-onix-select-fstx" boot/initrd/initrd-hook.sh
check "/init runs the hooks with the new root and moss.fstx=" \
  grep -q '"$hook" /newroot "$fstx"' "$work/cpio/init"

r=$work/root
mkdir -p "$r/usr" "$r/.moss/root/1-aaaa/usr"
echo 2-bbbb >"$r/usr/.fstx"
echo 1-aaaa >"$r/.moss/root/1-aaaa/usr/.fstx"
out=$("$work/cpio/usr/bin/onix-select-fstx" --root "$r" 9-ffff 2>&1); rc=$?
check "an unknown state fails with a message and leaves /usr alone" \
  bash -c "[[ $rc != 0 && '$out' == *9-ffff* && \$(cat '$r/usr/.fstx') == 2-bbbb ]]"
"$work/cpio/usr/bin/onix-select-fstx" --root "$r" 1-aaaa >/dev/null 2>&1
check "the initrd's tool makes the archived state active and archives the old one" \
  bash -c "[[ \$(cat '$r/usr/.fstx') == 1-aaaa && \$(cat '$r/.moss/root/2-bbbb/usr/.fstx') == 2-bbbb && ! -e '$r/.moss/root/1-aaaa' ]]"
finish

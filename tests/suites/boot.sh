#!/usr/bin/env bash
# `moss boot` end to end on throw-away roots: install (bootctl and copy), sync, status --json,
# mark-good, XBOOTLDR detection, crash during sync, and bad input.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/common.sh

bazel build //moss:moss >/dev/null 2>&1 || { check "bazel build //moss:moss" false; finish; }
moss=$PWD/bazel-bin/moss/moss
work=$(mktemp -d "${TMPDIR:-/tmp}/onix-boot-suite.XXXXXX")
trap 'rm -rf "$work"' EXIT

mk_root() { # dir: states 1-aaaa (archived) and 2-bbbb (active), different kernels
  local r=$1
  mkdir -p "$r/boot" "$r/etc/kernel" "$r/usr/lib/kernel/6.1.0-x" "$r/.moss/root/1-aaaa/usr/lib/kernel/6.1.0-x"
  echo 2-bbbb >"$r/usr/.fstx"; echo 1-aaaa >"$r/.moss/root/1-aaaa/usr/.fstx"
  head -c 200000 /dev/urandom >"$r/usr/lib/kernel/6.1.0-x/vmlinuz"
  head -c 200000 /dev/urandom >"$r/.moss/root/1-aaaa/usr/lib/kernel/6.1.0-x/vmlinuz"
  echo "root=LABEL=onixroot rw" >"$r/etc/kernel/cmdline"
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

r=$work/r1; mk_root "$r"
check "boot install --no-bootctl copies BOOTX64.EFI" \
  bash -c "'$moss' --root '$r' boot install --no-bootctl >/dev/null && cmp -s '$r/boot/EFI/BOOT/BOOTX64.EFI' /usr/lib/systemd/boot/efi/systemd-bootx64.efi"
if command -v bootctl >/dev/null; then
  check "boot install uses the real bootctl" \
    bash -c "'$moss' --root '$r' boot install | grep -q 'bootctl install' && [[ -f '$r/boot/EFI/systemd/systemd-bootx64.efi' && ! -e '$r/boot/loader/random-seed' ]]"
else
  skip "boot install uses the real bootctl" "bootctl not installed (Debian package systemd-boot)"
fi
check "boot sync writes one counted entry per state" \
  bash -c "'$moss' --root '$r' boot sync >/dev/null && ls '$r/boot/loader/entries' | tr '\n' ' ' | grep -qx 'onix-1-aaaa+3.conf onix-2-bbbb+3.conf '"
st=$("$moss" --root "$r" boot status --json)
check "status --json: default entry is the active state's" \
  test "$(json 'd["default_entry"]' <<<"$st")" = "onix-2-bbbb+3.conf"
check "status --json: each entry names its state and has its kernel" \
  test "$(json '[(e["fstx"], e["state"], e["kernel_present"]) for e in d["entries"]]' <<<"$st")" = "[('1-aaaa', 'archived', True), ('2-bbbb', 'active', True)]"
check "mark-good renames the active entry to its plain name" \
  bash -c "'$moss' --root '$r' boot mark-good >/dev/null && [[ -f '$r/boot/loader/entries/onix-2-bbbb.conf' && ! -e '$r/boot/loader/entries/onix-2-bbbb+3.conf' ]]"
check "status text shows good and counted entries" \
  bash -c "'$moss' --root '$r' boot status | grep -q 'onix-2-bbbb.conf .*boots 2-bbbb (active), good' && '$moss' --root '$r' boot status | grep -q '3 tries left'"
mv "$r/boot/loader/entries/onix-2-bbbb.conf" "$r/boot/loader/entries/onix-2-bbbb+0-3.conf"
check "status: once the active entry is bad, the default is the archived state's" \
  bash -c "'$moss' --root '$r' boot status | grep -q 'default:   onix-\* -> onix-1-aaaa+3.conf'"
mv "$r/boot/loader/entries/onix-2-bbbb+0-3.conf" "$r/boot/loader/entries/onix-2-bbbb.conf"
check "sync --retain 0 drops the archived entry and its kernel" \
  bash -c "'$moss' --root '$r' boot sync --retain 0 >/dev/null && [[ \$(ls '$r/boot/loader/entries') == onix-2-bbbb.conf && \$(ls '$r/boot/onix' | wc -l) == 1 ]]"
check "mark-good of an unknown state exits 2 naming it" \
  bash -c "'$moss' --root '$r' boot mark-good --fstx 9-zzzz 2>&1 >/dev/null | grep -q 'state 9-zzzz'; [[ \${PIPESTATUS[0]} == 2 ]]"

# Crash in the middle of a sync (the crash-point switch), then a clean sync.
r=$work/r2; mk_root "$r"
"$moss" --root "$r" boot sync >/dev/null
mkdir -p "$r/.moss/root/2-bbbb" && mv "$r/usr" "$r/.moss/root/2-bbbb/usr"
mkdir -p "$r/usr/lib/kernel/6.2.0-x" && echo 3-cccc >"$r/usr/.fstx" && head -c 100000 /dev/urandom >"$r/usr/lib/kernel/6.2.0-x/vmlinuz"
# An inner shell waits for the killed process, so its "Killed" notice goes to /dev/null.
rc=$(bash -c 'MOSS_CRASH_AT=boot-sync-entries-written "$0" --root "$1" boot sync >/dev/null 2>&1; echo $?' "$moss" "$r" 2>/dev/null)
consistent() {
  local e l
  for e in "$r"/boot/loader/entries/onix-*.conf; do
    l=$(sed -n 's/^linux //p' "$e"); [[ -f $r/boot$l ]] || return 1
  done
  grep -qx 'default onix-\*' "$r/boot/loader/loader.conf"
}
check "MOSS_CRASH_AT=boot-sync-entries-written kills the sync there" bash -c "[[ $rc == 137 ]]"
check "after that crash every entry's kernel exists and the default is set" consistent
check "the next sync completes it" \
  bash -c "'$moss' --root '$r' boot sync >/dev/null && ls '$r/boot/loader/entries' | grep -c onix- | grep -qx 3"

# XBOOTLDR: ROOT/efi is the ESP.
r=$work/r3; mk_root "$r"; mkdir -p "$r/efi/EFI"
check "with ROOT/efi as ESP, entries go to /boot and loader.conf to /efi" \
  bash -c "'$moss' --root '$r' boot sync >/dev/null && [[ -f '$r/boot/loader/entries/onix-2-bbbb+3.conf' && -f '$r/efi/loader/loader.conf' && ! -e '$r/boot/loader/loader.conf' ]]"
check "status reports the XBOOTLDR" \
  bash -c "'$moss' --root '$r' boot status | grep -q 'XBOOTLDR:  $r/boot'"

# Bad input.
r=$work/r4; mkdir -p "$r/usr" "$r/boot"
check "sync on a root without usr/.fstx fails and writes nothing" \
  bash -c "! '$moss' --root '$r' boot sync 2>/dev/null && [[ -z \$(ls '$r/boot') ]]"
check "sync --retain -1 is rejected" bash -c "! '$moss' --root '$work/r1' boot sync --retain -1 2>/dev/null"

# Boot tries from ROOT/etc/kernel/tries, mark-good of the booted entry, automatic fallback.
r=$work/r4; mk_root "$r"; echo 2 >"$r/etc/kernel/tries"
touch -d '2026-01-01' "$r/.moss/root/1-aaaa/usr"
check "ROOT/etc/kernel/tries sets the boot tries of new entries" \
  bash -c "'$moss' --root '$r' boot sync >/dev/null && ls '$r/boot/loader/entries' | tr '\n' ' ' | grep -qx 'onix-1-aaaa+2.conf onix-2-bbbb+2.conf '"
echo many >"$work/tries-bad"; r5=$work/r5; mk_root "$r5"; cp "$work/tries-bad" "$r5/etc/kernel/tries"
check "a malformed tries file fails the sync naming it and writes nothing" \
  bash -c "! '$moss' --root '$r5' boot sync 2>'$work/tries.err' && grep -q 'etc/kernel/tries' '$work/tries.err' && [[ ! -d '$r5/boot/loader/entries' ]]"
echo "root=LABEL=onixroot rw moss.fstx=1-aaaa" >"$work/cmdline-1"
"$moss" --root "$r" boot mark-good --cmdline "$work/cmdline-1" >/dev/null 2>"$work/mg.err"; rc=$?
check "mark-good of a booted state that is not active exits 1, says why and renames nothing" \
  bash -c "[[ $rc == 1 ]] && grep -q 'active state is 2-bbbb' '$work/mg.err' && ls '$r/boot/loader/entries' | grep -qx 'onix-1-aaaa+2.conf'"
# A fallback as systemd-boot and the initrd leave it: 2-bbbb used its tries, 1-aaaa booted
# and was exchanged into /usr.
mv "$r/boot/loader/entries/onix-2-bbbb+2.conf" "$r/boot/loader/entries/onix-2-bbbb+0-2.conf"
mv "$r/usr" "$r/usr.old" && mv "$r/.moss/root/1-aaaa/usr" "$r/usr" && rmdir "$r/.moss/root/1-aaaa"
mkdir -p "$r/.moss/root/2-bbbb" && mv "$r/usr.old" "$r/.moss/root/2-bbbb/usr"
out=$("$moss" --root "$r" boot mark-good --cmdline "$work/cmdline-1" 2>&1)
check "after a fallback mark-good marks the booted entry good and reports the bad one" \
  bash -c "grep -q 'fell back to state 1-aaaa' <<<'$out' && grep -q 'bad entry (boot tries used up): onix-2-bbbb+0-2.conf' <<<'$out'"
st=$("$moss" --root "$r" boot status --json)
check "the fallback state is the default again and the bad entry is reported bad" \
  bash -c "[[ '$(json 'd["default_entry"]' <<<"$st")' == onix-1-aaaa.conf ]] && '$moss' --root '$r' boot status | grep -q 'onix-2-bbbb+0-2.conf.*bad'"
finish

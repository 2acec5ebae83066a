#!/usr/bin/env bash
# The onix-tools stone and BUILD_ID, end to end on throw-away roots: boulder builds onix-tools
# from the Bazel outputs (tools/quarry build-stones, stones/onix-tools/pack), moss installs it
# with the musl base by name, the root has no glibc but the documented private runtime, ONIX's
# tools run in a chroot of it, 20-moss-recover reports; and every state's /usr/lib/os-release
# carries that state's own fstx as BUILD_ID (branding's tx.d trigger), without touching the
# store and without upsetting `moss state verify`.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
source tests/lib/common.sh

if ! out=$(bazel build //moss //boulder //onix-cli:onix //nix-integration:onix-nix-integration 2>&1); then
  note "$out"; check "bazel build of moss, boulder, onix, onix-nix-integration" false; finish
fi
bin=$(readlink -f bazel-bin)
moss=$bin/moss/moss
work=$(mktemp -d "${TMPDIR:-/tmp}/onix-tools-suite.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- the stone ------------------------------------------------------------------------------
stones="musl busybox filesystem branding libzstd onix-tools"
if out=$(tools/quarry fetch $stones 2>&1 && tools/quarry build-stones $stones 2>&1); then
  check "boulder builds onix-tools from the packed Bazel outputs (tools/quarry build-stones)" true
else
  note "$out"; check "boulder builds onix-tools from the packed Bazel outputs (tools/quarry build-stones)" false; finish
fi
# A repository of its own (signed with a key of its own), so the suite never re-indexes
# build/stones under anyone's feet.
mkdir -p "$work/repo"
for n in $stones; do
  xargs -r -I{} cp build/stones/{} "$work/repo/" <"build/stones/manifests/$n.stones"
done
"$moss" keygen "$work/key" >/dev/null && "$moss" index "$work/repo" --sign "$work/key.key" >/dev/null ||
  { check "moss indexes and signs the suite's repository" false; finish; }
stone=$(ls "$work"/repo/onix-tools-*.stone | head -1)
info=$("$moss" inspect "$stone" 2>&1)
# Its private runtime provides nothing to others and it needs nothing (no glibc soname leaks).
check "the onix-tools stone offers no soname and depends on none (its runtime is private)" \
  bash -c "grep -q 'binary(moss)' <<<'$info' && ! grep -q 'soname(' <<<'$info'"
if out=$(tools/quarry prove onix-tools 2>&1); then
  check "onix-tools passes its hand build (tools/quarry prove onix-tools)" true
else
  note "$out"; check "onix-tools passes its hand build (tools/quarry prove onix-tools)" false
fi

# --- a machine root with it -----------------------------------------------------------------
root=$work/root
m() { "$moss" --root "$root" "$@"; }
mkdir -p "$root"
if ! out=$(m repo add local "file://$work/repo" --key "$work/key.pub" 2>&1 &&
           m repo update 2>&1 && m -y install musl busybox filesystem branding onix-tools 2>&1); then
  note "$out"; check "moss installs musl busybox filesystem branding onix-tools by name" false; finish
fi
check "moss installs musl busybox filesystem branding onix-tools by name" test -x "$root/usr/bin/moss"
s1=$(head -1 "$root/usr/.fstx")

out=$(tests/lib/check_no_glibc.sh "$root" usr/lib/onix/runtime 2>&1)
rc=$?
note "$(tail -1 <<<"$out")"
check "the root has no glibc outside /usr/lib/onix/runtime (tests/lib/check_no_glibc.sh)" \
  bash -c "[[ $rc == 0 ]] && grep -q ' 0 use glibc' <<<'$out'"
check "check_no_glibc still catches a glibc program outside the runtime" \
  bash -c "mkdir -p '$work/bad/usr/bin' && cp /bin/true '$work/bad/usr/bin/true' &&
           ! tests/lib/check_no_glibc.sh '$work/bad' usr/lib/onix/runtime >/dev/null"

out=$(chroot "$root" /usr/bin/moss --root / state active 2>&1)
check "onix-tools' moss runs in a chroot of the musl root on its private runtime" [ "$out" = "$s1" ]
out=$(chroot "$root" /usr/bin/onix --help 2>&1 | head -1)
check "onix runs in the chroot too" bash -c "[[ -n '$out' ]] && ! grep -qi 'not found\|error while loading' <<<'$out'"
out=$(chroot "$root" /usr/lib/onix/rc.d/20-moss-recover 2>&1)
check "rc.d/20-moss-recover runs moss state recover and reports it on its output" \
  [ "$out" = "moss-recover: nothing to recover; active state: $s1" ]

# --- BUILD_ID -------------------------------------------------------------------------------
check "state 1's /usr/lib/os-release says BUILD_ID=$s1 and ID=onix" \
  bash -c "[[ \$(sed -n 's/^BUILD_ID=//p' '$root/usr/lib/os-release') == '$s1' ]] && grep -qx ID=onix '$root/usr/lib/os-release'"
check "/usr/lib/os-release is a file of its own, not a store object (link count 1)" \
  [ "$(stat -c %h "$root/usr/lib/os-release")" = 1 ]
out=$(m -y install libzstd 2>&1) || note "$out"
s2=$(head -1 "$root/usr/.fstx")
check "a second state says its own BUILD_ID=$s2" \
  bash -c "[[ '$s2' != '$s1' && \$(sed -n 's/^BUILD_ID=//p' '$root/usr/lib/os-release') == '$s2' ]]"
check "state 1's archived tree still says BUILD_ID=$s1" \
  bash -c "[[ \$(sed -n 's/^BUILD_ID=//p' '$root/.moss/root/$s1/usr/lib/os-release') == '$s1' ]]"
check "no store object holds a BUILD_ID (the trigger never writes through a hardlink)" \
  bash -c "! grep -rqx 'BUILD_ID=.*' '$root/.moss/store'"
out=$(m state verify 2>&1)
rc=$?
note "$out"
check "moss state verify passes on both states" [ "$rc" = 0 ]
out=$(m -y remove libzstd 2>&1) || note "$out"
s3=$(head -1 "$root/usr/.fstx")
# Neither branding nor its os-release changed from state 2 to 3: the trigger fires on the new
# tree's .fstx alone.
check "a state that changes no branding file (libzstd removed) still gets its own BUILD_ID" \
  bash -c "[[ '$s3' != '$s2' && \$(sed -n 's/^BUILD_ID=//p' '$root/usr/lib/os-release') == '$s3' ]]"
out=$(m -y state activate "$s1" 2>&1) || note "$out"
check "activating state 1 again brings back its own BUILD_ID" \
  bash -c "[[ \$(head -1 '$root/usr/.fstx') == '$s1' && \$(sed -n 's/^BUILD_ID=//p' '$root/usr/lib/os-release') == '$s1' ]]"
finish

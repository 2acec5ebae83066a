#!/usr/bin/env bash
# Two builds from the same lock give byte-identical stones, for a real stone: busybox, from
# Debian's orig tarball as tools/quarry resolved it (build/quarry/debian.lock). The first build
# is the quarry's own (build/quarry/out/busybox, made here when absent); the second is boulder
# again, from the same generated recipe and source cache into a fresh output. Its stones,
# their metadata (which names the Debian input) and the build manifest must be the same bytes.
# About 90 s (one busybox build).
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
source tests/lib/common.sh

if ! out=$(tools/quarry build-stones busybox 2>&1); then
  not_ok "tools/quarry build-stones busybox"; note "$out"; finish
fi
first=build/quarry/out/busybox recipe=build/quarry/recipes/busybox/stone.yaml
check "the quarry built busybox from a generated recipe that names its Debian input" \
  grep -qE '^- debian-source busybox [^ ]+ busybox_[^ ]+\.orig\.tar\.[a-z0-9]+ sha256:[0-9a-f]{64}$' "$recipe"
lock_line=$(grep '^busybox source ' build/quarry/debian.lock)
check "the lock records busybox's Debian source and the tarball's SHA-256" test -n "$lock_line"

work=$(mktemp -d "$repo/build/reproducible.XXXXXX")
trap 'rm -rf "$work"' EXIT
if ! out=$(bazel-bin/boulder/boulder build "$recipe" --output "$work/out" --source-cache build/sources \
    --repo build/stones 2>&1); then
  not_ok "boulder builds busybox a second time from the same recipe and lock"; note "$out"; finish
fi
ok "boulder builds busybox a second time from the same recipe and lock"
stones=$(cd "$first" && ls -1 -- *.stone)
check "the second build makes the same stones ($(echo $stones))" \
  test "$(cd "$work/out" && ls -1 -- *.stone)" = "$stones"
for s in $stones; do
  check "$s is byte-identical across the two builds" cmp -s "$first/$s" "$work/out/$s"
done
check "the build manifests are byte-identical" cmp -s "$first/manifest.json" "$work/out/manifest.json"
sha=$(awk '{ print $6 }' <<<"$lock_line")
info=$(bazel-bin/moss/moss inspect "$first/$(head -1 <<<"$stones")" 2>&1)
check "the stone's metadata names the tarball the lock records" grep -q "sha256:$sha" <<<"$info"
finish

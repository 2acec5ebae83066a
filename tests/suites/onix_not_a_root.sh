#!/usr/bin/env bash
# `onix --root DIR status` on a directory moss never installed into is bad input (exit 2,
# naming the directory), not "active fstx: none" (issue 22); a real moss root still reports.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/common.sh

bazel build //moss:moss //onix-cli:onix //moss/stone:pack_tree >/dev/null 2>&1 ||
  { check "bazel build //moss:moss //onix-cli:onix //moss/stone:pack_tree" false; finish; }
bin=$(readlink -f bazel-bin)
moss=$bin/moss/moss onix=$bin/onix-cli/onix pack=$bin/moss/stone/pack_tree
work=$(mktemp -d "${TMPDIR:-/tmp}/onix-not-a-root.XXXXXX")
trap 'rm -rf "$work"' EXIT
plain=$work/plain; mkdir -p "$plain/usr"
"$onix" --root "$plain" status >"$work/out" 2>"$work/err"; rc=$?
check "onix --root DIR status on a non-moss directory exits 2" test "$rc" = 2
check "it says DIR is not a moss root, on stderr, with nothing on stdout" \
  bash -c "grep -q '$plain is not a moss root' '$work/err' && [[ ! -s '$work/out' ]]"
"$onix" --root "$plain" --json status >/dev/null 2>&1; rc=$?
check "the same with --json exits 2" test "$rc" = 2
"$onix" --root "$work/missing" status >/dev/null 2>&1; rc=$?
check "a missing directory exits 2" test "$rc" = 2
root=$work/root; mkdir -p "$root" "$work/t/bin"; printf x >"$work/t/bin/a"
"$pack" "$work/t" "$work/a.stone" a 1.0 >/dev/null 2>&1
"$moss" -D "$root" install "$work/a.stone" >/dev/null 2>&1
check "a moss root still reports its active state with exit 0" \
  bash -c "'$onix' --root '$root' status | grep -q \"active fstx: \$('$moss' -D '$root' state active)\""
finish

#!/usr/bin/env bash
# `--json` is one document (issue 22): moss install/remove/sync and onix update, by name from
# a file:// repository and from local stones, each write exactly one JSON document to stdout;
# the plan, download progress and the engine's log go to stderr.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/common.sh

bazel build //moss:moss //onix-cli:onix //moss/repo:make_repo_stone //moss/stone:pack_tree \
  >/dev/null 2>&1 || { check "bazel build moss, onix, make_repo_stone, pack_tree" false; finish; }
bin=$(readlink -f bazel-bin)
moss=$bin/moss/moss onix=$bin/onix-cli/onix
mk=$bin/moss/repo/make_repo_stone pack=$bin/moss/stone/pack_tree
work=$(mktemp -d "${TMPDIR:-/tmp}/onix-json-doc.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root srv=$work/srv; mkdir -p "$root" "$srv"
$mk "$srv" zlib 1.3 --provides 'soname(libz.so.1(x86_64))' >/dev/null 2>&1
$mk "$srv" curl 8.0 --depends 'soname(libz.so.1(x86_64))' >/dev/null 2>&1
"$moss" index "$srv" >/dev/null 2>&1
"$moss" -D "$root" repo add main "file://$srv" >/dev/null 2>&1
"$moss" -D "$root" repo update >/dev/null 2>&1
tree=$work/tree; mkdir -p "$tree/bin"; printf x >"$tree/bin/local"
"$pack" "$tree" "$work/local-1.stone" local 1.0 >/dev/null 2>&1

one_doc() { # NAME CMD...: exits 0 and stdout is exactly one JSON document
  local name=$1; shift
  "$@" >"$work/out" 2>"$work/err"; local rc=$?
  if [[ $rc == 0 ]] && python3 -c 'import json,sys; json.load(sys.stdin)' <"$work/out" 2>/dev/null; then
    ok "$name: stdout is one JSON document"
  else
    not_ok "$name: stdout is one JSON document"
    note "rc=$rc" "stdout:" "$(head -20 "$work/out")" "stderr:" "$(tail -5 "$work/err")"
  fi
}
one_doc "moss --json install --dry-run NAME" "$moss" -D "$root" --json install --dry-run curl
one_doc "moss --json install NAME" "$moss" -D "$root" --json install curl
check "the by-name install happened" test -d "$root/usr"
one_doc "moss --json install FILE.stone" "$moss" -D "$root" --json install "$work/local-1.stone"
one_doc "moss --json remove NAME" "$moss" -D "$root" --json remove local
$mk "$srv" zlib 1.4 --provides 'soname(libz.so.1(x86_64))' >/dev/null 2>&1
"$moss" index "$srv" >/dev/null 2>&1; "$moss" -D "$root" repo update >/dev/null 2>&1
one_doc "moss --json sync --dry-run" "$moss" -D "$root" --json sync --dry-run
one_doc "moss --json sync" "$moss" -D "$root" --json sync
check "sync upgraded zlib" bash -c "'$moss' -D '$root' list installed | grep -q 'zlib.*1.4'"
one_doc "moss --json remove --autoremove NAME" "$moss" -D "$root" --json remove --autoremove curl
$mk "$srv" curl 8.1 --depends 'soname(libz.so.1(x86_64))' >/dev/null 2>&1
"$moss" index "$srv" >/dev/null 2>&1
"$moss" -D "$root" install curl >/dev/null 2>&1
$mk "$srv" curl 8.2 --depends 'soname(libz.so.1(x86_64))' >/dev/null 2>&1
"$moss" index "$srv" >/dev/null 2>&1
one_doc "onix --json update" "$onix" --root "$root" --json update
check "onix update upgraded curl" bash -c "'$moss' -D '$root' list installed | grep -q 'curl.*8.2'"
# Text mode keeps the plan and the result on stdout.
check "moss install by name (text) prints the plan and the state on stdout" \
  bash -c "'$moss' -D '$root' remove curl >/dev/null 2>&1; '$moss' -D '$root' install curl 2>/dev/null | grep -q 'state .* is active'"
finish

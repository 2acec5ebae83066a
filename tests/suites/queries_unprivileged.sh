#!/usr/bin/env bash
# Every read-only query of moss and onix run as an unprivileged user (nobody, via setpriv) on
# a root made by root: each exits 0, prints what root sees, and leaves the root's files
# (the database and its directory included) byte for byte as they were (issue 22).
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/common.sh

if [[ $(id -u) != 0 ]] || ! command -v setpriv >/dev/null; then
  skip_host "unprivileged queries" "needs root and setpriv to switch to an unprivileged user"
  finish
fi
bazel build //moss:moss //onix-cli:onix //moss/stone:pack_tree >/dev/null 2>&1 ||
  { check "bazel build //moss:moss //onix-cli:onix //moss/stone:pack_tree" false; finish; }
bin=$(readlink -f bazel-bin)
moss=$bin/moss/moss
onix=$bin/onix-cli/onix
pack=$bin/moss/stone/pack_tree
work=$(mktemp -d "${TMPDIR:-/tmp}/onix-queries-unpriv.XXXXXX")
trap 'rm -rf "$work"' EXIT
# nobody must reach the root (mktemp makes 0700) and the binaries (bazel-bin under $HOME).
chmod 755 "$work"
tools=$work/bin; mkdir -p "$tools"; cp "$moss" "$onix" "$tools/"; chmod 755 "$tools"/*
moss=$tools/moss onix=$tools/onix
root=$work/root; mkdir -p "$root"
stone() { # name version file=content...
  local name=$1 version=$2; shift 2
  local tree=$work/tree-$name-$version; mkdir -p "$tree"
  for spec in "$@"; do mkdir -p "$tree/$(dirname "${spec%%=*}")"; printf '%s' "${spec#*=}" >"$tree/${spec%%=*}"; done
  "$pack" "$tree" "$work/$name-$version.stone" "$name" "$version" >/dev/null 2>&1
  echo "$work/$name-$version.stone"
}
a=$(stone alpha 1.0 bin/alpha=alpha1)
b=$(stone beta 2.0 bin/beta=beta2)
"$moss" --root "$root" install "$a" >/dev/null 2>&1 && "$moss" --root "$root" install "$b" >/dev/null 2>&1
check "setup: two states made as root" test -f "$root/usr/bin/beta"
chmod -R a+rX "$root"
# Everything under ROOT/.moss except content it does not hold: names, modes, sizes, mtimes
# and contents, so a created -shm/-wal, a migrated schema or a touched file all show.
roothash() { (cd "$root" && find . -printf '%P %y %m %s %T@ %l\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum; }
before=$(roothash)
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

query() { # NAME TOOL ARGS...: as nobody exits 0 and prints what root prints
  local name=$1; shift
  "$@" >"$work/root.out" 2>"$work/root.err"; local rrc=$?
  nobody "$@" >"$work/nobody.out" 2>"$work/nobody.err"; local nrc=$?
  if [[ $rrc == 0 && $nrc == 0 ]] && cmp -s "$work/root.out" "$work/nobody.out"; then
    ok "$name as nobody exits 0 and prints what root prints"
  else
    not_ok "$name as nobody exits 0 and prints what root prints"
    note "root rc=$rrc nobody rc=$nrc" "$(cat "$work/nobody.err")" "$(diff "$work/root.out" "$work/nobody.out" | head)"
  fi
}
query "moss list installed" "$moss" --root "$root" list installed
query "moss list installed --json" "$moss" --root "$root" --json list installed
query "moss info" "$moss" --root "$root" info alpha
query "moss search-file" "$moss" --root "$root" search-file /usr/bin/beta
query "moss state list" "$moss" --root "$root" state list
query "moss state active" "$moss" --root "$root" state active
query "moss state show" "$moss" --root "$root" state show 2
query "moss state diff" "$moss" --root "$root" state diff 1 2
query "onix status" "$onix" --root "$root" status
query "onix history" "$onix" --root "$root" history
query "onix diff" "$onix" --root "$root" diff 1 2
check "the root's files are unchanged by the queries" test "$(roothash)" = "$before"
check "no -wal or -shm file was left" \
  bash -c "! ls '$root/.moss/db' | grep -q -- '-wal\|-shm'"

# A database made by an older moss (no stone_layouts table) is not migrated by a query.
old=$work/old; cp -a "$root" "$old"
sqlite_py='import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("DROP TABLE stone_layouts"); c.commit(); c.execute("PRAGMA journal_mode=DELETE"); c.close()'
python3 -c "$sqlite_py" "$old/.moss/db/moss.sqlite"
nobody "$moss" --root "$old" list installed >"$work/out" 2>&1; rc=$?
check "an old schema is refused by a query naming the command that migrates it" \
  bash -c "[[ $rc != 0 ]] && grep -q 'older moss' '$work/out' && grep -q 'moss state recover' '$work/out'"
finish

#!/usr/bin/env bash
# `moss install/remove/list/info/search-file/state ...` end to end on a throw-away root:
# outputs, exit codes, the /usr switch, rollback, prune, verify --repair, and bad input.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/common.sh

bazel build //moss:moss //moss/stone:pack_tree >/dev/null 2>&1 ||
  { check "bazel build //moss:moss //moss/stone:pack_tree" false; finish; }
# Resolve bazel-bin now: another build with a different --config may repoint the symlink.
bin=$(readlink -f bazel-bin)
moss=$bin/moss/moss
pack=$bin/moss/stone/pack_tree
work=$(mktemp -d "${TMPDIR:-/tmp}/onix-moss-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root; mkdir -p "$root"
m() { "$moss" --root "$root" "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
# Hash of every path below a tree (type, mode, content or target), for byte-identity checks.
treehash() { (cd "$1" && find . -printf '%P %y %m %l\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum; }
stone() { # name version file=content...
  local name=$1 version=$2; shift 2
  local tree=$work/tree-$name-$version; mkdir -p "$tree"
  for spec in "$@"; do mkdir -p "$tree/$(dirname "${spec%%=*}")"; printf '%s' "${spec#*=}" >"$tree/${spec%%=*}"; done
  "$pack" "$tree" "$work/$name-$version.stone" "$name" "$version" >/dev/null 2>&1
  echo "$work/$name-$version.stone"
}

a=$(stone alpha 1.0 bin/alpha=alpha1 share/doc/alpha=shared-text)
b=$(stone beta 2.0 bin/beta=beta2 share/doc/beta=shared-text)
c=$(stone clash 1.0 bin/alpha=not-alpha)

check "install alpha creates state 1 and /usr" \
  bash -c "'$moss' --root '$root' install '$a' | grep -q 'state 1-[0-9a-f]\{4\} is active' && [[ -f '$root/usr/bin/alpha' ]]"
s1=$(m state active)
h1=$(treehash "$root/usr")
check "install --dry-run changes nothing" \
  bash -c "'$moss' --root '$root' install --dry-run '$b' | grep -q 'would become active' && [[ ! -e '$root/usr/bin/beta' && \$('$moss' --root '$root' state active) == '$s1' ]]"
check "install beta creates state 2" \
  bash -c "'$moss' --root '$root' install '$b' | grep -q 'state 2-.* is active (was $s1)'"
check "shared content is stored once" \
  test "$(grep -rl shared-text "$root/.moss/store" | wc -l)" = 1
check "list installed --json names both packages" \
  test "$(m list installed --json | json '[p["name"] for p in d]')" = "['alpha', 'beta']"
check "search-file finds the owner" \
  bash -c "'$moss' --root '$root' search-file /usr/bin/beta | grep -qx '/usr/bin/beta: beta'"
check "info shows the version" \
  bash -c "'$moss' --root '$root' info alpha | grep -q '^Version: *1.0-0'"
before=$(treehash "$root/usr")
m install "$c" >"$work/out" 2>&1; rc=$?
check "conflicting stone is refused with exit 2 naming both packages and the path" \
  bash -c "[[ $rc == 2 ]] && grep -q '/usr/bin/alpha is shipped by both alpha and clash' '$work/out'"
check "refused install left /usr untouched" test "$(treehash "$root/usr")" = "$before"
check "remove alpha creates state 3" \
  bash -c "'$moss' --root '$root' remove alpha | grep -q 'state 3-' && [[ ! -e '$root/usr/bin/alpha' ]]"
check "state list shows three states, 3 active" \
  test "$(m state list --json | json '[(s["number"], s["active"]) for s in d]')" = "[(1, False), (2, False), (3, True)]"
check "state diff 1 3 lists package and file changes" \
  bash -c "'$moss' --root '$root' state diff 1 3 | grep -q '+ beta' && '$moss' --root '$root' state diff 1 3 | grep -q 'D /usr/bin/alpha'"
check "state activate 1 restores /usr byte for byte" \
  bash -c "'$moss' --root '$root' state activate 1 >/dev/null && [[ \$(head -1 '$root/usr/.fstx') == '$s1' ]]"
check "activated /usr hashes as state 1 did" test "$(treehash "$root/usr")" = "$h1"
check "history has the three commits" \
  bash -c "git --git-dir '$root/.moss/history.git' log --all --format=%s | sort | tr '\n' '|' | grep -qx 'install alpha 1.0-0|install beta 2.0-0|remove alpha|'"
check "git log --stat works on the history" \
  bash -c "git --git-dir '$root/.moss/history.git' log --stat | grep -q 'packages/alpha'"
check "state prune --keep 2 keeps the active and the newest" \
  bash -c "'$moss' --root '$root' state prune --keep 2 --yes >/dev/null && [[ \$('$moss' --root '$root' state list --json | python3 -c 'import json,sys; print([s[\"number\"] for s in json.load(sys.stdin)])') == '[1, 3]' ]]"
check "state verify is clean" bash -c "'$moss' --root '$root' state verify >/dev/null"
obj=$(grep -rl alpha1 "$root/.moss/store" | head -1)
chmod u+w "$obj"; printf 'XXXXXX' >"$obj.tmp"; dd if="$obj.tmp" of="$obj" conv=notrunc status=none; rm -f "$obj.tmp"
m state verify >/dev/null 2>&1; rc=$?
check "state verify detects a corrupt store file (exit 1)" test "$rc" = 1
check "state verify --repair fixes it" \
  bash -c "'$moss' --root '$root' state verify --repair >/dev/null && '$moss' --root '$root' state verify >/dev/null && [[ \$(cat '$root/usr/bin/alpha') == alpha1 ]]"

m install "$work/missing.stone" >"$work/out" 2>&1; rc=$?
check "missing stone file: exit 2 and a clear error" \
  bash -c "[[ $rc == 2 ]] && grep -q 'missing.stone' '$work/out'"
m state activate nope >"$work/out" 2>&1; rc=$?
check "bad fstx: exit 2 naming it" bash -c "[[ $rc == 2 ]] && grep -q \"bad state id 'nope'\" '$work/out'"
m state activate 42-abcd >"$work/out" 2>&1; rc=$?
check "unknown state: exit 2" bash -c "[[ $rc == 2 ]] && grep -q 'no state 42-abcd' '$work/out'"
m remove nosuch >"$work/out" 2>&1; rc=$?
check "removing a package that is not installed: exit 2" bash -c "[[ $rc == 2 ]] && grep -q 'nosuch is not installed' '$work/out'"
m state remove "$(m state active)" --yes >"$work/out" 2>&1; rc=$?
check "removing the active state is refused" bash -c "[[ $rc == 1 ]] && grep -q 'is active' '$work/out'"

# Crash injection through the real binary: killed right after the exchange, recovered forward.
d=$(stone delta 1.0 bin/delta=delta1)
prev=$(m state active)
MOSS_CRASH_AT=usr-exchanged "$moss" --root "$root" install "$d" >/dev/null 2>&1; rc=$?
check "MOSS_CRASH_AT kills moss at the named point" test "$rc" = 137
check "after the crash /usr is already the new state" test -f "$root/usr/bin/delta"
check "state recover reports the interrupted install and rolls forward" \
  bash -c "'$moss' --root '$root' state recover | grep -q 'found an interrupted install' && [[ ! -e '$root/.moss/journal' && ! -e '$root/.moss/root/staging' ]]"
check "the previous state was archived by recovery" test -d "$root/.moss/root/$prev/usr"
check "state verify is clean after recovery" bash -c "'$moss' --root '$root' state verify >/dev/null"
check "state recover on a clean root has nothing to do" \
  bash -c "'$moss' --root '$root' state recover | grep -q 'nothing to recover'"
e=$(stone epsilon 1.0 bin/epsilon=e)
MOSS_CRASH_AT=tx-triggers-done "$moss" --root "$root" install "$e" >/dev/null 2>&1
check "a crash before the exchange is rolled back by the next command" \
  bash -c "out=\$('$moss' --root '$root' list installed) && grep -q . <<<\"\$out\" && ! grep -q epsilon <<<\"\$out\" && [[ ! -e '$root/usr/bin/epsilon' ]] && '$moss' --root '$root' install '$e' >/dev/null && [[ -e '$root/usr/bin/epsilon' ]]"
exec 9>>"$root/.moss/lock"; flock 9
timeout 2 "$moss" --root "$root" state prune --keep 1 --yes >"$work/out" 2>&1; rc=$?
flock -u 9; exec 9>&-
check "a second writer waits for the lock and says so" \
  bash -c "[[ $rc == 124 ]] && grep -q 'waiting for the lock' '$work/out'"
finish

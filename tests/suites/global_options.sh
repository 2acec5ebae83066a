#!/usr/bin/env bash
# One set of global options (issue 22): -D/--root, --json, --dry-run and -y are accepted
# before or after the subcommand by onix and moss, and mean the same in both places.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/common.sh

bazel build //moss:moss //onix-cli:onix //moss/stone:pack_tree >/dev/null 2>&1 ||
  { check "bazel build //moss:moss //onix-cli:onix //moss/stone:pack_tree" false; finish; }
bin=$(readlink -f bazel-bin)
moss=$bin/moss/moss onix=$bin/onix-cli/onix pack=$bin/moss/stone/pack_tree
work=$(mktemp -d "${TMPDIR:-/tmp}/onix-global-opts.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root; mkdir -p "$root"
for v in 1 2; do
  mkdir -p "$work/t$v/bin"; printf "$v" >"$work/t$v/bin/a"
  "$pack" "$work/t$v" "$work/a-$v.stone" a "$v.0" >/dev/null 2>&1
  "$moss" -D "$root" install "$work/a-$v.stone" >/dev/null 2>&1
done
active=$("$moss" -D "$root" state active)
isjson() { python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["active_fstx"] == sys.argv[1], d' "$active"; }

check "onix status --json --root R (after the subcommand)" bash -c "$(declare -f isjson); active='$active'; '$onix' status --json --root '$root' | isjson"
check "onix -D R --json status (before)" bash -c "$(declare -f isjson); active='$active'; '$onix' -D '$root' --json status | isjson"
check "onix status -D R --json (after)" bash -c "$(declare -f isjson); active='$active'; '$onix' status -D '$root' --json | isjson"
check "onix --root R status names the active state" bash -c "'$onix' --root '$root' status | grep -q 'active fstx: $active'"
check "onix history --root R --json parses" bash -c "'$onix' history --root '$root' --json | python3 -c 'import json,sys; json.load(sys.stdin)'"
check "moss list installed -D R (after)" bash -c "'$moss' list installed -D '$root' | grep -q '^a '"
check "moss state list -D R --json (after, nested subcommand)" \
  bash -c "'$moss' state list -D '$root' --json | python3 -c 'import json,sys; assert len(json.load(sys.stdin)) == 2'"
check "onix rollback -D R --dry-run -y (after) changes nothing" \
  bash -c "'$onix' rollback -D '$root' --dry-run -y >/dev/null 2>&1; [[ \$('$moss' -D '$root' state active) == '$active' ]]"
check "onix --dry-run -D R rollback (before) changes nothing" \
  bash -c "'$onix' --dry-run -D '$root' rollback >/dev/null 2>&1; [[ \$('$moss' -D '$root' state active) == '$active' ]]"
"$onix" -D "$root" etc drift --dry-run >"$work/out" 2>&1; rc=$?
check "onix etc ... --dry-run is refused with exit 2 before it runs" \
  bash -c "[[ $rc == 2 ]] && grep -q 'does not support --dry-run; nothing was run' '$work/out'"
"$moss" -D "$root" state remove 1 --dry-run -y >/dev/null 2>&1
check "moss state remove 1 --dry-run -y (after) keeps state 1" \
  bash -c "'$moss' -D '$root' state list --json | python3 -c 'import json,sys; assert len(json.load(sys.stdin)) == 2'"
"$onix" status --bogus >/dev/null 2>&1; rc=$?
check "an unknown option is still bad input (exit 2)" test "$rc" = 2
finish

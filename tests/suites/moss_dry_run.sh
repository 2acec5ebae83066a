#!/usr/bin/env bash
# `--dry-run` can never become a real run: every moss subcommand, run with --dry-run on a
# populated root (two states, a signed repository, a filled download cache), either honours it
# (exit 0, prints what it would do) or refuses it with exit 2 before running, and in both cases
# the root, the repository and every path the command names are byte-for-byte what they were.
# The table below must name every subcommand `moss --help` lists: a new command without a row
# fails this suite. About 10 s.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/common.sh

bazel build //moss:moss //moss/stone:pack_tree >/dev/null 2>&1 ||
  { not_ok "bazel build //moss:moss //moss/stone:pack_tree"; finish; }
bin=$(readlink -f bazel-bin)
moss=$bin/moss/moss pack=$bin/moss/stone/pack_tree
work=$(mktemp -d "${TMPDIR:-/tmp}/onix-moss-dry-run.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root srv=$work/repo
mkdir -p "$root" "$srv"
m() { "$moss" --root "$root" "$@"; }
# Every path below DIR with its type, mode, target and content hash (not times: a dry run may
# read a file).
treehash() { (cd "$1" && find . -printf '%P %y %m %l\n' | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum) | sha256sum; }
stone() { # name version file=content...
  local name=$1 version=$2 tree=$work/tree-$1-$2; shift 2
  for spec in "$@"; do mkdir -p "$tree/$(dirname "${spec%%=*}")"; printf '%s' "${spec#*=}" >"$tree/${spec%%=*}"; done
  "$pack" "$tree" "$srv/$name-$version.stone" "$name" "$version" >/dev/null 2>&1
}
stone alpha 1.0 bin/alpha=alpha1
stone beta 2.0 bin/beta=beta2
stone gamma 3.0 bin/gamma=gamma3
"$moss" keygen "$work/key" >/dev/null &&
  "$moss" index "$srv" --sign "$work/key.key" >/dev/null &&
  m repo add local "file://$srv" --key "$work/key.pub" >/dev/null &&
  m repo update >/dev/null && m -y install alpha >/dev/null 2>&1 && m -y install beta >/dev/null 2>&1 ||
  { not_ok "a populated root: a signed repository, states 1 and 2, a filled cache"; finish; }
ok "a populated root: a signed repository, states 1 and 2, a filled cache"
s1=$(m state list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["fstx"])')
a_stone=$srv/alpha-1.0.stone

# subcommand|arguments|honours or refuses
rows=(
  "version||honours"
  "install|gamma|honours"
  "remove|alpha|honours"
  "list installed||honours"
  "info|alpha|honours"
  "search-file|/usr/bin/alpha|honours"
  "search|alpha|honours"
  "sync||honours"
  "inspect|$a_stone|honours"
  "state list||honours"
  "state active||honours"
  "state show|1|honours"
  "state activate|$s1|honours"
  "state remove|1|honours"
  "state prune|--keep 1|honours"
  "state verify||honours"
  "state verify|--repair|honours"
  "state diff|1 2|honours"
  "boot status||honours"
  "boot sync||honours"
  "cache size||honours"
  "repo list||honours"
  "state recover||refuses"
  "boot install|--no-bootctl|refuses"
  "boot mark-good||refuses"
  "cache clean||refuses"
  "repo add|other file://$srv --key $work/key.pub|refuses"
  "repo remove|local|refuses"
  "repo update||refuses"
  "repo enable|local|refuses"
  "repo disable|local|refuses"
  "index|$srv|refuses"
  "keygen|$work/newkey|refuses"
  "extract|$a_stone $work/extracted|refuses"
)

# Every leaf subcommand moss lists has a row.
leaves() {  # PREFIX...: the subcommands of `moss PREFIX... --help`, recursively
  local sub subs
  subs=$("$moss" "$@" --help 2>/dev/null | sed -n '/^Subcommands:/,/^$/{/^  [a-z]/s/^  \([a-z-]*\).*/\1/p}')
  if [[ -z $subs ]]; then echo "$*"; return; fi
  for sub in $subs; do leaves "$@" "$sub"; done
}
missing=()
while read -r leaf; do
  found=
  for row in "${rows[@]}"; do [[ ${row%%|*} == "$leaf" ]] && found=1; done
  [[ -n $found ]] || missing+=("$leaf")
done < <(leaves)
check "every moss subcommand has a --dry-run row here (missing: ${missing[*]:-none})" test ${#missing[@]} = 0

before_root=$(treehash "$root") before_srv=$(treehash "$srv")
for row in "${rows[@]}"; do
  IFS='|' read -r sub args want <<<"$row"
  # shellcheck disable=SC2086  # the table's words
  out=$("$moss" --root "$root" --dry-run -y $sub $args 2>&1); rc=$?
  if [[ $want == honours ]]; then
    verdict=$([[ $rc == 0 ]] && echo yes)
  else
    verdict=$([[ $rc == 2 && $out == *"moss $sub does not support --dry-run; nothing was run"* ]] && echo yes)
  fi
  same=$([[ $(treehash "$root") == "$before_root" && $(treehash "$srv") == "$before_srv" &&
            ! -e $work/newkey.key && ! -e $work/extracted ]] && echo yes)
  label="runs and changes nothing"
  [[ $want == refuses ]] && label="is refused with exit 2 and changes nothing"
  check "moss --dry-run $sub $label (rc $rc)" \
    test "$verdict$same" = yesyes
  [[ $verdict$same == yesyes ]] || note "$out"
done

# A parse error is bad input: exit 2, not CLI11's own codes.
m list >/dev/null 2>&1; rc=$?
check "a missing subcommand exits 2 (rc $rc)" test "$rc" = 2
m install --no-such-option >/dev/null 2>&1; rc=$?
check "an unknown option exits 2 (rc $rc)" test "$rc" = 2
finish

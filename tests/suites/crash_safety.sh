#!/usr/bin/env bash
# Crash safety through the real moss binary (docs/crash-safety.md).
# 1. Two processes: a moss stopped in the middle of its transaction (MOSS_PAUSE_AT, SIGSTOP)
#    makes a second moss wait (and say so) until it is done; they never interleave.
# 2. fsync failures: the real moss binary runs an install and an activation under strace with
# fsync / fdatasync / syncfs failing (EIO) at their n-th call, for every n the operation makes;
# each injected EIO must be reported (non-zero exit with the error, or a post-commit warning)
# naming the path whose sync failed (the fs_at wrappers name it: fsync(/abs/path));
# after each, `moss state recover` leaves /usr exactly the old or the new state, `state verify`
# clean, no journal or staging, and the next transaction works.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/common.sh

command -v strace >/dev/null || { check "strace is installed" false; finish; }
bazel build //moss:moss //moss/stone:pack_tree >/dev/null 2>&1 ||
  { check "bazel build //moss:moss //moss/stone:pack_tree" false; finish; }
bin=$(readlink -f bazel-bin)
moss=$bin/moss/moss
pack=$bin/moss/stone/pack_tree
work=$(mktemp -d "${TMPDIR:-/tmp}/onix-crash-fsync.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Hash of a usr tree without its .fstx (whose token differs per build).
treehash() { (cd "$1" && find . ! -name .fstx -printf '%P %y %m %l\n' | sort &&
  find . -type f ! -name .fstx -print0 | sort -z | xargs -0 sha256sum) | sha256sum; }
stone() { # name version file=content...
  local name=$1 version=$2; shift 2
  local tree=$work/tree-$name-$version; mkdir -p "$tree"
  for spec in "$@"; do mkdir -p "$tree/$(dirname "${spec%%=*}")"; printf '%s' "${spec#*=}" >"$tree/${spec%%=*}"; done
  "$pack" "$tree" "$work/$name-$version.stone" "$name" "$version" >/dev/null 2>&1
  echo "$work/$name-$version.stone"
}
a=$(stone alpha 1.0 bin/alpha=alpha1 share/defaults/etc/alpha.conf=a=1)
b=$(stone beta 1.0 bin/beta=beta1 lib/libbeta.so=b share/defaults/etc/beta.conf=b=1)
c=$(stone gamma 1.0 bin/gamma=gamma1)

# The base root: state 1 (alpha), state 2 (alpha + beta) active. The install adds gamma to it
# (old: state 2, new: alpha + beta + gamma); the activation goes back to state 1.
base=$work/base; mkdir -p "$base"
"$moss" --root "$base" install "$a" >/dev/null 2>&1 && "$moss" --root "$base" install "$b" >/dev/null 2>&1 ||
  { check "base root with two states" false; finish; }
s1=$("$moss" --root "$base" state list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["fstx"])')
old=$(treehash "$base/usr")
ref=$work/ref; cp -a "$base" "$ref"
"$moss" --root "$ref" install "$c" >/dev/null 2>&1
new_install=$(treehash "$ref/usr")
new_activate=$(treehash "$base/.moss/root/$s1/usr")

# 1. A second moss during a transaction.
r=$work/concurrent; cp -a "$base" "$r"
MOSS_PAUSE_AT=usr-renamed "$moss" --root "$r" install "$c" >"$work/first" 2>&1 &
first=$!
for _ in $(seq 100); do [[ $(ps -o stat= -p $first 2>/dev/null) == T* ]] && break; sleep 0.1; done
check "the first moss stops right after its exchange" bash -c "[[ \$(ps -o stat= -p $first) == T* && -e '$r/.moss/journal' ]]"
mid=$(treehash "$r/usr"); journal=$(sha256sum <"$r/.moss/journal")
d=$(stone delta 1.0 bin/delta=d)
"$moss" --root "$r" install "$d" >"$work/second" 2>&1 &
second=$!
sleep 1
check "a second moss waits for the lock, naming the first's pid" \
  bash -c "kill -0 $second && grep -q 'waiting for the lock' '$work/second' && grep -q 'pid $first' '$work/second'"
"$moss" --root "$r" list installed >/dev/null 2>"$work/query"
check "a query meanwhile notes the transaction in flight" grep -q 'transaction on .* is in flight or was interrupted' "$work/query"
check "while it waits nothing changes: /usr and the journal are the first's" \
  test "$(treehash "$r/usr") $(sha256sum <"$r/.moss/journal")" = "$mid $journal"
kill -CONT $first
wait $first; rc1=$?
wait $second; rc2=$?
check "both finish, one after the other" test "$rc1:$rc2" = "0:0"
check "the second state was built on the first's (no interleaving)" bash -c "
  '$moss' --root '$r' state list --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert [x[\"parent\"] for x in s[-2:]] == [s[-3][\"fstx\"], s[-2][\"fstx\"]], s
' && [[ -e '$r/usr/bin/gamma' && -e '$r/usr/bin/delta' ]] && '$moss' --root '$r' state verify >/dev/null"

# 2. fsync failures.
run() { # op root -> the moss command line of the operation
  case $1 in
    install) echo "$moss --root $2 install $c" ;;
    activate) echo "$moss --root $2 state activate $s1 --yes" ;;
  esac
}

for op in install activate; do
  case $op in install) new=$new_install ;; activate) new=$new_activate ;; esac
  # How many of each sync call the operation makes (all threads and children).
  probe=$work/probe-$op; cp -a "$base" "$probe"
  strace -f -qq -o "$work/strace-$op" -e trace=fsync,fdatasync,syncfs $(run $op "$probe") >/dev/null 2>&1
  probe_rc=$?
  total=$(grep -cE '^[0-9]* *(fsync|fdatasync|syncfs)\(' "$work/strace-$op")
  # Without this the matrix below could run zero cases and pass.
  check "$op under strace succeeds and makes sync calls ($total seen)" \
    test "$probe_rc:$((total > 0))" = "0:1"
  for call in fsync fdatasync syncfs; do
    count=$(grep -c "^[0-9]* *$call(" "$work/strace-$op" || true)
    [[ $count -gt 0 ]] || { echo "# $op makes no $call calls"; continue; }
    failed_runs=0 back=0 forward=0 bad=0 warned=0 sqlite=0
    for ((n = 1; n <= count; n++)); do
      r=$work/r-$op-$call-$n; cp -a "$base" "$r"
      strace -f -qq -y -o "$work/inject" -e trace=$call -e inject=$call:error=EIO:when=$n \
        $(run $op "$r") >"$work/out" 2>&1
      rc=$?
      # Every injected EIO is reported: a non-zero exit with the I/O error in its message, or,
      # in the post-commit phases (where the switch has happened and the step is retried
      # later), a warning saying so; either names the path whose sync failed (absolute, or
      # relative to the root; SQLite's errors name .moss/db, the database whose -wal or
      # directory it was syncing). The one exception is SQLite's own syncs of .moss/db that
      # SQLite itself discards, which we confirmed in SQLite's source (os_unix.c, sqlite3
      # 3.x): unixSync() calls full_fsync() on the directory of a file it has just created
      # (UNIXFILE_DIRSYNC: the directory after creating the WAL) and ignores the result ("Many
      # systems (examples: AIX) are unable to fsync a directory, so ignore errors on the
      # fsync"); and sqlite3PagerClose() ignores the return of sqlite3WalClose(), so a failed
      # sync during the checkpoint at close is never seen by sqlite3_close() (the WAL stays
      # and is replayed at the next open; the WAL itself was synced at commit). They are
      # counted and printed, and recovery is still checked.
      target=$(grep -m1 'INJECTED' "$work/inject" | sed -n 's/^[0-9]* *[a-z]*([0-9]*<\([^>]*\)>.*/\1/p')
      rel=${target#"$r/"}
      msg=$(grep -m1 -E '(error|warning): .*(Input/output error|I/O error)' "$work/out")
      named=false
      if [[ -n $target && ($msg == *"$target"* || $msg == *"$rel"*) ]]; then named=true
      elif [[ $rel == .moss/db* && $msg == *".moss/db"* ]]; then named=true; fi
      if ((rc != 0)) && [[ $msg == *error:* ]] && $named; then
        failed_runs=$((failed_runs + 1))
      elif ((rc == 0)) && [[ $msg == *warning:* ]] && $named; then
        warned=$((warned + 1))
      elif [[ -n $msg ]] && ! $named; then
        bad=$((bad + 1))
        echo "# $op $call #$n: the EIO on ${rel:-?} was reported without naming it: $msg"
      elif ((rc == 0)) && [[ $target == "$r/.moss/db"* ]]; then
        sqlite=$((sqlite + 1)); echo "# $op $call #$n: EIO on ${target#"$r/"} discarded by SQLite"
      else
        bad=$((bad + 1))
        echo "# $op $call #$n (${target:-no INJECTED line}): exit $rc, the EIO was not reported: $(tail -1 "$work/out")"
      fi
      if ! "$moss" --root "$r" state recover >"$work/recover" 2>&1; then
        bad=$((bad + 1)); echo "# $op $call #$n: recover failed: $(tail -1 "$work/recover")"; continue
      fi
      h=$(treehash "$r/usr")
      if [[ $h == "$old" ]]; then back=$((back + 1))
      elif [[ $h == "$new" ]]; then forward=$((forward + 1))
      else bad=$((bad + 1)); echo "# $op $call #$n: /usr is neither old nor new"; fi
      if ! "$moss" --root "$r" state verify >/dev/null 2>&1 || [[ -e $r/.moss/journal || -e $r/.moss/root/staging ]]; then
        bad=$((bad + 1)); echo "# $op $call #$n: not consistent after recovery"
      fi
      d=$(stone delta-$op-$call-$n 1.0 bin/delta=d)
      "$moss" --root "$r" install "$d" >/dev/null 2>&1 || { bad=$((bad + 1)); echo "# $op $call #$n: next install failed"; }
      rm -rf "$r"
    done
    echo "# $op, $call failing at each of its $count calls: $failed_runs failed with the error, $warned warned, $sqlite inside SQLite; recovery: $back old, $forward new"
    check "$op with $call failing at each of its $count calls: every EIO reported naming its path, recovers to old or new ($back old, $forward new), verify clean" \
      test "$bad:$((failed_runs + warned + sqlite)):$((back + forward))" = "0:$count:$count"
  done
done
finish

#!/usr/bin/env bash
# The VM validation suite: runs each scenario in tests/vm/scenarios/ (or the ones named on
# the command line), at most two VMs at a time, prints one line per scenario with its wall
# time and ends with "N passed, N failed, N skipped". Serial logs stay in build/vm-logs/.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/vm.sh"
source "$here/lib/image.sh"

scenarios=("$@")
if ((${#scenarios[@]} == 0)); then
  for f in "$here"/scenarios/*.sh; do scenarios+=("$(basename "$f" .sh)"); done
fi

passed=0 failed=0 skipped=0 n=0
results="$VM_WORK/results"
mkdir -p "$results"
missing=$(vm_missing)
# Stones, repository and the base test image once, before scenarios run two at a time.
files=()
for name in "${scenarios[@]}"; do files+=("$here/scenarios/$name.sh"); done
if [[ -z $missing ]] && grep -lq vm_test_image "${files[@]}" 2>/dev/null; then
  t=$SECONDS
  if prep=$(vm_prepare_images 2>&1); then
    echo "vm suite: base test image ready in $((SECONDS - t)) s"
  else
    echo "vm suite: preparing the base test image failed:"; echo "$prep" | sed 's/^/    /'
  fi
  export VM_STONES_READY=1
fi
echo "vm suite: accelerator $( [[ -z $missing ]] && vm_accel || echo none), ${#scenarios[@]} scenarios"

run_one() {
  local name=$1
  local start=$SECONDS
  local out="$results/$name.out"
  ( source "$here/scenarios/$name.sh" && scenario ) >"$out" 2>&1
  local rc=$?
  echo "$rc $((SECONDS - start))" >"$results/$name.rc"
}

# Two at a time: two TCG VMs fit on two cores, three do not (measured).
pids=()
for name in "${scenarios[@]}"; do
  if [[ -n $missing ]]; then break; fi
  run_one "$name" &
  pids+=($!)
  if ((${#pids[@]} >= ${VM_PARALLEL:-2})); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
wait

for name in "${scenarios[@]}"; do
  n=$((n + 1))
  if [[ -n $missing ]]; then
    echo "ok $n - $name # SKIP $missing"; skipped=$((skipped + 1)); continue
  fi
  read -r rc secs <"$results/$name.rc"
  if [[ $rc == 0 ]]; then
    echo "ok $n - $name (${secs} s)"; passed=$((passed + 1))
  elif [[ $rc == 77 ]]; then
    echo "ok $n - $name # SKIP $(tail -1 "$results/$name.out")"; skipped=$((skipped + 1))
  else
    echo "not ok $n - $name (${secs} s)"; failed=$((failed + 1))
    sed 's/^/    /' "$results/$name.out"
  fi
done
echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed == 0 ]]

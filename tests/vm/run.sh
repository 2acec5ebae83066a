#!/usr/bin/env bash
# The VM validation suite: runs each scenario in tests/vm/scenarios/ (or the ones named on
# the command line), at most two VMs at a time, prints one line per scenario with its wall
# time and ends with "N passed, N failed, N skipped". Serial logs stay in build/vm-logs/.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/vm.sh"
source "$here/lib/image.sh"
source "$here/../lib/common.sh"

scenarios=("$@")
if ((${#scenarios[@]} == 0)); then
  for f in "$here"/scenarios/*.sh; do scenarios+=("$(basename "$f" .sh)"); done
fi

results="$VM_WORK/results"
mkdir -p "$results"
rm -f "$results"/*.rc "$results"/*.out  # an earlier run's result never stands in for this one's
missing=$(vm_missing)
# Stones, repository and the base test image once, before scenarios run two at a time.
files=()
for name in "${scenarios[@]}"; do files+=("$here/scenarios/$name.sh"); done
if [[ -z $missing ]] && grep -lq vm_test_image "${files[@]}" 2>/dev/null; then
  t=$SECONDS
  if prep=$(vm_prepare_images 2>&1); then
    echo "vm suite: base test image ready in $((SECONDS - t)) s"
  else
    not_ok "the base test image is prepared (vm_prepare_images)" "$prep"
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

# One TAP line per scenario (tests/lib/common.sh). A scenario that exits 77 could not run (its
# last output line says why): a skip, listed, and a failure under CI=true. Without QEMU or
# OVMF every scenario is such a skip, never a silent 0 of 0.
for name in "${scenarios[@]}"; do
  if [[ -n $missing ]]; then
    skip "$name" "$missing"; continue
  fi
  if ! read -r rc secs <"$results/$name.rc" 2>/dev/null; then
    not_ok "$name (no result: the scenario never finished)"; continue
  fi
  if [[ $rc == 0 ]]; then
    ok "$name (${secs} s)"
  elif [[ $rc == 77 ]]; then
    skip "$name" "$(grep -v '^[[:space:]]*$' "$results/$name.out" | tail -1)"
  else
    not_ok "$name (${secs} s, exit $rc)"
    sed 's/^/    /' "$results/$name.out"
  fi
done
finish

#!/usr/bin/env bash
# bench/vm_bench/boot_to_status.sh WORKDIR: one UEFI boot of the cached base test image
# (tests/vm/lib/image.sh) whose agent runs `onix status` and powers off. Prints
# "<seconds> <accelerator>": host wall time from QEMU's start to the line the guest prints
# right after `onix status` returned (firmware, systemd-boot's menu timeout, kernel, initrd,
# rc.d scripts and the status itself included). Exit 1 with the reason when the boot fails.
set -uo pipefail
work=${1:?usage: boot_to_status.sh WORKDIR}
repo=$(cd "$(dirname "$0")/../.." && pwd)
export VM_WORK=$work/vm-work VM_LOG_DIR=$work/vm-logs
source "$repo/tests/vm/lib/vm.sh"
source "$repo/tests/vm/lib/image.sh"
missing=$(vm_missing)
[[ -z $missing ]] || { echo "cannot boot a VM here: $missing" >&2; exit 1; }
# The stones and the base test image are built (or found current) once, before any timing.
if [[ -f $VM_IMAGES/base-test.img ]]; then export VM_STONES_READY=1; fi
vm_test_image "$work/disk.img" >&2 || { echo "no base test image" >&2; exit 1; }
cat >"$work/run.sh" <<'GUEST'
#!/bin/sh
onix status >/dev/null 2>&1
echo "ONIX-BENCH status-done rc=$?"
/usr/lib/onix/rc.shutdown
poweroff -f
GUEST
vm_agent_disk "$work/agent.tar" "$work/run.sh" || exit 1
vm_new_vars "$work/vars.fd"
log=$VM_LOG_DIR/bench-boot.log
: >"$log"
start=$(date +%s.%N)
vm_boot_agent bench-boot "$work/disk.img" "$work/vars.fd" "$work/agent.tar" 2>/dev/null &
qemu=$!
seen=
while kill -0 "$qemu" 2>/dev/null; do
  if tr -d '\r' <"$log" | grep -aq '^ONIX-BENCH status-done'; then
    seen=$(date +%s.%N)
    break
  fi
  sleep 0.05
done
wait "$qemu"
rc=$?
if [[ -z $seen ]] && tr -d '\r' <"$log" | grep -aq '^ONIX-BENCH status-done'; then seen=$(date +%s.%N); fi
[[ -n $seen ]] || { echo "the guest never reported onix status (qemu exit $rc, log $log)" >&2; exit 1; }
tr -d '\r' <"$log" | grep -aq '^ONIX-BENCH status-done rc=0' ||
  { echo "onix status failed in the guest (log $log)" >&2; exit 1; }
echo "$(echo "$seen - $start" | bc -l) $(vm_accel)"

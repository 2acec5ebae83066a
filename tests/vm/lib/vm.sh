# The VM harness: boots ONIX images in QEMU and reads what the guest reports.
# Sourced by tests/vm/run.sh and the scenarios. Facts behind the choices are in
# ../shared/notes/vm-boot-recipe.md: TCG only (this host's /dev/kvm is kvm-pvm and cannot run
# a normal guest), q35 + OVMF with a per-VM copy of the vars, -nodefaults, -smp 1, bootindex
# on the system disk, 120 s per boot before a boot counts as hung.

VM_REPO=${VM_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
VM_LOG_DIR=${VM_LOG_DIR:-$VM_REPO/build/vm-logs}
VM_WORK=${VM_WORK:-$VM_REPO/build/vm-work}
VM_BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-120}
OVMF_CODE=${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE.fd}
OVMF_VARS=${OVMF_VARS:-/usr/share/OVMF/OVMF_VARS.fd}
mkdir -p "$VM_LOG_DIR" "$VM_WORK"

# Prints why VMs cannot run here, or nothing when they can.
vm_missing() {
  command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86_64 not installed"; return; }
  [[ -r $OVMF_CODE && -r $OVMF_VARS ]] || { echo "OVMF firmware not installed"; return; }
}

# The accelerator: kvm only when a probe boot under kvm reached userspace, tcg otherwise. The
# probe result is cached per kernel in $VM_WORK so a run pays for it once.
vm_accel() {
  local cache="$VM_WORK/accel-$(uname -r)"
  if [[ -f $cache ]]; then cat "$cache"; return; fi
  local accel=tcg
  if [[ -w /dev/kvm && -n ${VM_PROBE_KERNEL:-} && -n ${VM_PROBE_INITRD:-} ]]; then
    local log="$VM_LOG_DIR/kvm-probe.log"
    timeout 30 qemu-system-x86_64 -accel kvm -cpu host,-arch-capabilities -m 256 -smp 1 \
      -kernel "$VM_PROBE_KERNEL" -initrd "$VM_PROBE_INITRD" -append "console=ttyS0 panic=-1" \
      -nodefaults -display none -serial "file:$log" -no-reboot >/dev/null 2>&1 || true
    grep -q 'ONIX-TEST' "$log" 2>/dev/null && accel=kvm
  fi
  echo "$accel" >"$cache"
  echo "$accel"
}

vm_accel_args() {
  if [[ $(vm_accel) == kvm ]]; then echo "-accel kvm -cpu host,-arch-capabilities"; else echo "-accel tcg -cpu max"; fi
}

# vm_new_vars DEST: a fresh copy of the OVMF variable store (boot entries and EFI variables
# such as LoaderEntryOneShot live there, so each VM gets its own).
vm_new_vars() { cp "$OVMF_VARS" "$1"; }

# vm_run NAME TIMEOUT QEMU_ARGS...: runs QEMU with the serial console in
# $VM_LOG_DIR/NAME.log until it exits by itself (the guest powered off: returns 0) or TIMEOUT
# seconds pass (the VM is killed: returns 124). Other QEMU failures return its status.
vm_run() {
  local name=$1 limit=$2; shift 2
  local log="$VM_LOG_DIR/$name.log"
  : >"$log"
  local start=$SECONDS rc=0
  # shellcheck disable=SC2046
  timeout --signal=KILL "$limit" qemu-system-x86_64 $(vm_accel_args) -m 512 -smp 1 \
    -nodefaults -display none -serial "file:$log" -no-reboot "$@" \
    >>"$VM_LOG_DIR/$name.qemu.log" 2>&1 || rc=$?
  [[ $rc == 137 ]] && rc=124
  echo "vm: $name ran $((SECONDS - start)) s (exit $rc, log $log)" >&2
  return $rc
}

# vm_boot_uefi NAME DISK VARS [TIMEOUT] [EXTRA_QEMU_ARGS...]: a full UEFI boot: OVMF ->
# systemd-boot -> the default (or one-shot) BLS entry -> kernel -> initrd -> ONIX.
vm_boot_uefi() {
  local name=$1 disk=$2 vars=$3 limit=${4:-$VM_BOOT_TIMEOUT}; shift 4 || shift $#
  vm_run "$name" "$limit" -machine q35 \
    -drive "if=pflash,format=raw,readonly=on,file=$OVMF_CODE" \
    -drive "if=pflash,format=raw,file=$vars" \
    -drive "file=$disk,format=raw,if=none,id=sys,cache=none" \
    -device virtio-blk-pci,drive=sys,bootindex=0 "$@"
}

# vm_boot_direct NAME KERNEL INITRD CMDLINE [TIMEOUT] [EXTRA_QEMU_ARGS...]: the fast tier
# without firmware (about 3 s under TCG), for initrd and userspace logic.
vm_boot_direct() {
  local name=$1 kernel=$2 initrd=$3 cmdline=$4 limit=${5:-$VM_BOOT_TIMEOUT}; shift 5 || shift $#
  vm_run "$name" "$limit" -kernel "$kernel" -initrd "$initrd" \
    -append "console=ttyS0 panic=-1 $cmdline" "$@"
}

# vm_markers LOG SCENARIO: the guest agent's result lines for SCENARIO:
#   ONIX-TEST <scenario> <step> PASS|FAIL <detail>
vm_markers() { tr -d '\r' <"$1" | grep -E "^ONIX-TEST $2 " || true; }

# vm_step_passed LOG SCENARIO STEP: 0 when the guest reported STEP of SCENARIO as PASS.
# (Not grep -q: under pipefail its early exit would fail the pipeline with the writer's SIGPIPE.)
vm_step_passed() { vm_markers "$1" "$2" | grep -E "^ONIX-TEST $2 $3 PASS( |$)" >/dev/null; }

# vm_excerpt LOG: the end of a serial log, for a failure message.
vm_excerpt() { tr -d '\r' <"$1" | tail -n "${2:-25}" | sed 's/^/    | /'; }

# part_offset DISK N: byte offset of partition N (from sgdisk, which every image here uses).
part_offset() {
  local sector
  sector=$(sgdisk -i "$2" "$1" | awk '/First sector:/ {print $3}')
  echo $((sector * 512))
}

# esp_cat DISK PATH / esp_put DISK LOCAL_FILE PATH / esp_rm DISK PATH: host-side ESP edits
# with mtools (the host kernel has no vfat, so nothing is ever mounted).
esp_cat() { MTOOLS_SKIP_CHECK=1 mtype -i "$1@@$(part_offset "$1" 1)" "::$2"; }
esp_put() { MTOOLS_SKIP_CHECK=1 mcopy -o -i "$1@@$(part_offset "$1" 1)" "$2" "::$3"; }
esp_rm() { MTOOLS_SKIP_CHECK=1 mdel -i "$1@@$(part_offset "$1" 1)" "::$2"; }
esp_ls() { MTOOLS_SKIP_CHECK=1 mdir -b -i "$1@@$(part_offset "$1" 1)" "::$2" 2>/dev/null; }

# root_cat DISK PATH: a file of the ext4 root (partition 2) read with debugfs. Only valid
# after the guest remounted / read-only before powering off (else journal replay undoes it).
root_cat() { debugfs -R "cat $2" "$1?offset=$(part_offset "$1" 2)" 2>/dev/null; }

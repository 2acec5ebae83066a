# Power cuts during a large update, on real boots: the guest runs `moss sync` of a large
# update (a new onix-bulk version, shipped as a signed repository on the agent disk) and the
# host kills QEMU with SIGKILL (system disk cache=none) at a random moment of it. The next
# boot goes through firmware -> systemd-boot -> initrd -> busybox init; the initrd's hook runs
# `moss state recover` when a journal is there (before it activates the entry's state) and
# onix-tools' rc.d/20-moss-recover runs it again, both printing what they decided; then the
# guest checks that `moss state verify` passes and that it runs the state the firmware's boot
# entry named, and starts the next update, which the host cuts again. One calibration boot
# first measures how long an uncut update takes (the cuts are drawn from that window) and a
# last boot verifies after the last cut.
#
# Knobs: VM_POWER_CUTS (default 10 cuts), VM_POWER_CUT_BUDGET (seconds, default 240): under
# TCG the chain stops early when the next cut would not fit the budget, and says so.

PC_NAME=power-cut-during-transaction

# pc_payload_repo OUT VERSION: a signed repository holding onix-bulk VERSION, a large update:
# PC_FILES files of PC_FILE_KB KiB each below /usr/share/onix-bulk, every file's content
# different in every version (so each update writes all of them to the store again).
pc_payload_repo() {
  local out=$1 version=$2 tree
  tree=$(mktemp -d "$VM_WORK/pc-tree.XXXXXX")
  python3 - "$tree/share/onix-bulk" "$version" "$PC_FILES" "$PC_FILE_KB" <<'PY' || return 1
import os, sys
root, version, files, kib = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for i in range(files):
    d = os.path.join(root, "d%02d" % (i % 32))
    os.makedirs(d, exist_ok=True)
    line = ("onix-bulk %s file %d " % (version, i)).ljust(63, ".") + "\n"
    with open(os.path.join(d, "f%05d" % i), "w") as f:
        f.write(line * (kib * 1024 // 64))
PY
  mkdir -p "$out"
  "$PC_WORK/bin/pack_tree" "$tree" "$out/onix-bulk-$version.stone" onix-bulk "$version" \
    >/dev/null || { rm -rf "$tree"; return 1; }
  rm -rf "$tree"
  "$PC_WORK/bin/moss" index "$out" --sign "$VM_REPO/build/quarry/repo-key.key" >/dev/null || return 1
  cp "$VM_REPO/build/quarry/repo-key.pub" "$out/repo-key.pub"
}

# The guest side, the same script every boot; /run/onix-test/plan says "K MODE" with MODE
# calibrate (update, no cut, power off), cut (checks, then the update the host cuts) or final
# (checks only). Results are ONIX-TEST markers; moss's own lines are echoed with "PC:".
pc_guest_script() {
  cat <<'GUEST'
#!/bin/sh
s=power-cut-during-transaction
mark() { echo "ONIX-TEST $s $1 $2 $3"; }
read -r k mode </run/onix-test/plan
fstx=$(head -1 /usr/.fstx)
up() { cut -d' ' -f1 /proc/uptime; }

if [ "$mode" != calibrate ]; then
  # 20-moss-recover already ran in rc.sysinit (its lines are on the console); a second run
  # must find nothing left to do.
  again=$(moss state recover 2>&1); rc=$?
  echo "$again" | sed 's/^/PC: recover again: /'
  case $again in
    "nothing to recover; active state: $fstx") mark recover-idempotent PASS "$k" ;;
    *) mark recover-idempotent FAIL "$k rc=$rc $(echo "$again" | tail -1)" ;;
  esac
  out=$(moss state verify 2>&1); rc=$?
  echo "$out" | sed 's/^/PC: verify: /'
  [ $rc = 0 ] && mark verify PASS "$k" || mark verify FAIL "$k rc=$rc $(echo "$out" | tail -1)"
fi
# Which entry the firmware's boot loader started, and which state that is.
var=/sys/firmware/efi/efivars/LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f
sel=$(tail -c +5 "$var" 2>/dev/null | tr -d '\000')
cmd_fstx=$(sed -n 's/.*moss\.fstx=\([^ ]*\).*/\1/p' /proc/cmdline)
entries=$(ls /boot/loader/entries 2>/dev/null | tr '\n' ' ')
echo "PC: booted $fstx; entry $sel; cmdline moss.fstx=$cmd_fstx; entries: $entries"
case $sel in
  onix-"$fstx".conf|onix-"$fstx"+*) mark booted-entry PASS "$k $fstx $sel" ;;
  *) mark booted-entry FAIL "$k booted=$fstx entry=$sel cmdline=$cmd_fstx entries=$entries" ;;
esac
# What the ESP says: every entry must still hold what moss wrote, and the entry systemd-boot
# picks for "default onix-*" (lowest sort-key among entries with tries left; moss gives the
# active state onix-0) must be the one it started.
bad= keys=
for f in /boot/loader/entries/*.conf; do
  [ -e "$f" ] || continue
  n=${f##*/}
  grep -q '^options .*moss\.fstx=' "$f" 2>/dev/null || { bad="$bad $n($(wc -c <"$f")B)"; continue; }
  case $n in *+0-*) continue ;; esac
  key=$(sed -n 's/^sort-key //p' "$f")
  keys="$keys${key:-~} ${n%%+*}
"
done
[ -z "$bad" ] && mark esp-entries PASS "$k" || mark esp-entries FAIL "$k entries without their content:$bad"
want=$(printf '%s' "$keys" | sort | head -1 | cut -d' ' -f2)
got=${sel%%+*}
got=${got%.conf}
[ "${want%.conf}" = "$got" ] && mark default-entry PASS "$k $got" ||
  mark default-entry FAIL "$k firmware started $sel, the entries make ${want:-nothing} the default"
bid=$(sed -n 's/^BUILD_ID=//p' /usr/lib/os-release 2>/dev/null)
[ "$bid" = "$fstx" ] && mark build-id PASS "$k" || mark build-id FAIL "$k BUILD_ID=$bid"

# `bootctl set-timeout 0` by hand (bookworm's bootctl is not in the image): the menu's 3 s
# are 3 s of every boot of the chain.
tv=/sys/firmware/efi/efivars/LoaderConfigTimeout-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f
[ -e "$tv" ] || printf '\007\000\000\000\060\000\000\000' >"$tv" 2>/dev/null ||
  echo "PC: could not set LoaderConfigTimeout"

if [ "$mode" = final ]; then
  /usr/lib/onix/rc.shutdown
  poweroff -f
fi

# Keep the disk bounded across the chain: the active state and one more.
out=$(moss -y state prune --keep 2 2>&1) || echo "$out" | sed 's/^/PC: prune: /'
if [ ! -f /var/lib/onix-test/pc-repo ]; then
  moss repo add updates file:///run/onix-test/repo --key /run/onix-test/repo/repo-key.pub >/dev/null 2>&1
  mkdir -p /var/lib/onix-test && : >/var/lib/onix-test/pc-repo
fi
moss repo update updates 2>&1 | sed 's/^/PC: /'
sync
t0=$(up)
mark install-start PASS "$k from=$fstx uptime=$t0"
# The first update installs onix-bulk, every later one brings it to the repository's newer
# version (moss install by name leaves an installed package alone; sync is the update).
if moss list installed 2>/dev/null | grep -q '^onix-bulk '; then
  moss -y sync 2>&1 | sed 's/^/PC: sync: /'
else
  moss -y install onix-bulk 2>&1 | sed 's/^/PC: install: /'
fi
now=$(head -1 /usr/.fstx)
t1=$(up)
secs=$(echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 }')
if [ "$now" != "$fstx" ]; then mark install-done PASS "$k to=$now secs=$secs"
else mark install-done FAIL "$k still $fstx after moss sync"; fi
if [ "$mode" = calibrate ]; then
  /usr/lib/onix/rc.shutdown
  poweroff -f
fi
# Cut mode: the host pulls the plug within its window; an update that finished first is a
# cut after completion.
sleep 600
GUEST
}

# pc_wait_marker LOG STEP PID TIMEOUT: waits until the guest reported STEP or QEMU (PID) ended.
pc_wait_marker() {
  local log=$1 step=$2 pid=$3 limit=$4 t0=$SECONDS
  while ((SECONDS - t0 < limit)); do
    tr -d '\r' <"$log" 2>/dev/null | grep -aq "^ONIX-TEST $PC_NAME $step " && return 0
    # A boot that stopped in the initrd's emergency shell or a panic never gets there.
    tr -d '\r' <"$log" 2>/dev/null | grep -aq "EMERGENCY\|Kernel panic" && return 1
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

# pc_boot K MODE: one boot of the chain. Leaves the serial log in $VM_LOG_DIR/$PC_NAME-K.log.
pc_boot() {
  local k=$1 mode=$2
  local name=$PC_NAME-$k log="$VM_LOG_DIR/$PC_NAME-$k.log" agent=$PC_WORK/agent-$k.tar
  rm -rf "$PC_WORK/agent" && mkdir -p "$PC_WORK/agent"
  echo "$k $mode" >"$PC_WORK/agent/plan"
  cp -a "$PC_WORK/repo-$((k + 1))" "$PC_WORK/agent/repo" 2>/dev/null || mkdir -p "$PC_WORK/agent/repo"
  vm_agent_disk "$agent" "$PC_WORK/run.sh" "$PC_WORK/agent/plan" "$PC_WORK/agent/repo" || return 1
  if [[ $mode != cut ]]; then
    vm_boot_agent "$name" "$PC_WORK/disk.img" "$PC_WORK/vars.fd" "$agent" 240
    return
  fi
  rm -f "$PC_WORK/qemu.pid"
  # (stderr aside: bash reports the SIGKILLed QEMU as "Killed")
  vm_boot_agent "$name" "$PC_WORK/disk.img" "$PC_WORK/vars.fd" "$agent" 300 \
    -pidfile "$PC_WORK/qemu.pid" 2>"$PC_WORK/boot-$k.err" &
  local bg=$! t
  t=$SECONDS
  while [[ ! -s $PC_WORK/qemu.pid ]] && ((SECONDS - t < 30)); do sleep 0.1; done
  local qpid
  qpid=$(cat "$PC_WORK/qemu.pid" 2>/dev/null)
  if [[ -z $qpid ]] || ! pc_wait_marker "$log" install-start "$qpid" 200; then
    [[ -n $qpid ]] && kill -KILL "$qpid" 2>/dev/null
    wait "$bg"
    PC_CUT_AT="never (no install-start)"
    return 1
  fi
  # A uniformly random moment of the measured update window (0.1 s resolution).
  local delay_ds=$((RANDOM % (PC_WINDOW_DS + 1)))
  sleep "$((delay_ds / 10)).$((delay_ds % 10))"
  kill -KILL "$qpid" 2>/dev/null
  wait "$bg"
  PC_CUT_AT="$((delay_ds / 10)).$((delay_ds % 10)) s"
  PC_LAST_LINE=$(tr -d '\r' <"$log" | grep -a '^PC: sync: \|^PC: install: \|^ONIX-TEST .* install-done' | tail -1)
  return 0
}

# pc_check_boot J: the checks of boot J, which followed the cut of boot J-1; prints one line.
pc_check_boot() {
  local j=$1 log="$VM_LOG_DIR/$PC_NAME-$1.log" prev="$VM_LOG_DIR/$PC_NAME-$(($1 - 1)).log"
  local ok=1 step recover
  # Recovery runs twice per boot: in the initrd (boot/initrd's hook, when a journal is there,
  # before it selects the entry's state) and in rc.d/20-moss-recover, which then finds nothing.
  recover=$(tr -d '\r' <"$log" | grep -a '^ONIX-INITRD: moss: \|^moss-recover: ' |
    sed 's/^ONIX-INITRD: moss: /initrd: /; s/^moss-recover: //' | paste -sd ';' -)
  tr -d '\r' <"$log" | grep -aq '^onix-rc: 20-moss-recover ok' ||
    { ok=0; echo "    FAIL: rc.d/20-moss-recover did not report ok at boot"; }
  for step in recover-idempotent verify booted-entry esp-entries default-entry build-id; do
    vm_step_passed "$log" "$PC_NAME" "$step" ||
      { ok=0; echo "    FAIL: $step: $(vm_markers "$log" "$PC_NAME" | grep " $step " | cut -d' ' -f5-)"; }
  done
  local outcome=other
  case $recover in
    *"rolled forward"*) outcome=forward ;;
    *"rolled back"*) outcome=back ;;
    "nothing to recover"*) outcome=none ;;
  esac
  PC_OUTCOMES[$outcome]=$((${PC_OUTCOMES[$outcome]:-0} + 1))
  [[ $outcome == other ]] &&
    { ok=0; echo "    FAIL: moss state recover said neither rolled back/forward nor nothing to do: '$recover'"; }
  # Old or new, never anything else; and an update moss had reported complete survives.
  local booted from prepared done_to
  booted=$(vm_markers "$log" "$PC_NAME" | sed -n 's/.* booted-entry [A-Z]* [0-9]* \([^ ]*\).*/\1/p' | head -1)
  from=$(vm_markers "$prev" "$PC_NAME" | sed -n 's/.* install-start PASS [0-9]* from=\([^ ]*\).*/\1/p')
  prepared=$(tr -d '\r' <"$prev" | sed -n 's/.*moss: preparing state \([^ ]*\) .*/\1/p' | tail -1)
  done_to=$(vm_markers "$prev" "$PC_NAME" | sed -n 's/.* install-done PASS [0-9]* to=\([^ ]*\).*/\1/p')
  if [[ -n $done_to ]]; then
    [[ $booted == "$done_to" ]] ||
      { ok=0; echo "    FAIL: the update to $done_to had completed before the cut, but boot $j runs ${booted:-?}"; }
  elif [[ $booted != "$from" && ( -z $prepared || $booted != "$prepared" ) ]]; then
    ok=0; echo "    FAIL: boot $j runs ${booted:-?}, neither the old state $from nor the new ${prepared:-<none>}"
  fi
  # Where the cut landed: recovery names the phase it found; the guest's last line is only a
  # hint (console output in flight is lost with the machine).
  local when phase
  phase=$(sed -n 's/.* in phase \([^ ;]*\).*/\1/p' <<<"$recover" | head -1)
  if [[ -n $phase ]]; then when="in phase $phase"
  elif [[ -n $done_to ]]; then when="after the update completed"
  else when="outside the journalled phases (fetch, or after completion)"; fi
  echo "  boot $j (cut $when): recover: ${recover:-<none>}; verify $(vm_step_passed "$log" "$PC_NAME" verify && echo ok || echo FAILED); runs ${booted:-?}, its boot entry's state: $(vm_step_passed "$log" "$PC_NAME" booted-entry && echo yes || echo NO)"
  ((ok)) || { vm_excerpt "$log" 30; return 1; }
}

scenario() {
  [[ -x $VM_REPO/bazel-bin/moss/stone/pack_tree ]] ||
    { echo "no bazel-bin/moss/stone/pack_tree (bazel build //moss/stone:pack_tree)"; return 77; }
  PC_WORK="$VM_WORK/$PC_NAME"
  PC_FILES=${VM_POWER_CUT_FILES:-600}
  PC_FILE_KB=${VM_POWER_CUT_FILE_KB:-16}
  local cuts=${VM_POWER_CUTS:-10} budget=${VM_POWER_CUT_BUDGET:-240}
  rm -rf "$PC_WORK"; mkdir -p "$PC_WORK/bin"
  # Private copies: a concurrent bazel build may replace bazel-bin's files under us.
  local bin
  bin=$(readlink -f "$VM_REPO/bazel-bin")
  cp "$bin/moss/moss" "$bin/moss/stone/pack_tree" "$PC_WORK/bin/" ||
    { echo "no moss or pack_tree in bazel-bin (bazel build //moss //moss/stone:pack_tree)"; return 77; }
  local t0=$SECONDS
  vm_test_image "$PC_WORK/disk.img" || return 1
  vm_new_vars "$PC_WORK/vars.fd"
  local v
  for ((v = 1; v <= cuts + 1; v++)); do
    pc_payload_repo "$PC_WORK/repo-$v" "$v" || { echo "FAIL: building update $v"; return 1; }
  done
  pc_guest_script >"$PC_WORK/run.sh"
  echo "update: onix-bulk, $PC_FILES files x $PC_FILE_KB KiB per version ($((PC_FILES * PC_FILE_KB / 1024)) MiB), built in $((SECONDS - t0)) s"

  # Boot 0: the first update, uncut, timed by the guest.
  local tb=$SECONDS log0="$VM_LOG_DIR/$PC_NAME-0.log"
  pc_boot 0 calibrate || { echo "FAIL: the calibration boot did not power off"; vm_excerpt "$log0" 40; return 1; }
  vm_step_passed "$log0" "$PC_NAME" install-done ||
    { echo "FAIL: the uncut update did not complete"; vm_excerpt "$log0" 40; return 1; }
  local secs
  secs=$(vm_markers "$log0" "$PC_NAME" | sed -n 's/.* install-done PASS .* secs=\([0-9.]*\).*/\1/p')
  # The window: the update's time plus a fifth, so some cuts land after it completed.
  PC_WINDOW_DS=$(awk -v s="${secs:-10}" 'BEGIN { printf "%d", s * 12 }')
  local boot_secs=$((SECONDS - tb))
  echo "calibration boot: update took ${secs} s in the guest, whole boot ${boot_secs} s; cuts drawn from 0-$((PC_WINDOW_DS / 10)) s after install-start"

  declare -gA PC_OUTCOMES=()
  local k=1 done_cuts=0 fail=0 per=$boot_secs stuck=0
  while ((done_cuts < cuts)); do
    # Every cut needs its boot plus, at the end, the verification boot; stop early rather
    # than blow the suite's time budget under TCG (and say so).
    if ((done_cuts > 0 && SECONDS - t0 + 2 * per > budget)); then
      echo "reduced under $(vm_accel): $done_cuts of $cuts cuts fit the ${budget} s budget (about $per s per cut boot)"
      break
    fi
    local tk=$SECONDS
    PC_LAST_LINE=
    if ! pc_boot "$k" cut; then
      echo "FAIL: boot $k (after cut $done_cuts) never started its update; the machine did not come up:"
      vm_excerpt "$VM_LOG_DIR/$PC_NAME-$k.log" 12
      stuck=1
      break
    fi
    done_cuts=$((done_cuts + 1))
    echo "cut $done_cuts (boot $k): SIGKILL $PC_CUT_AT after install-start; last guest line: ${PC_LAST_LINE:-none}"
    per=$(((per + SECONDS - tk + 1) / 2))
    k=$((k + 1))
  done
  # The chain: boot j checks cut j-1 (recover, verify, entry) before it starts cut j; the
  # last boot only checks.
  if ((stuck)); then
    fail=1
    k=$((k - 1))
  elif ! pc_boot "$k" final; then
    echo "FAIL: the final boot did not power off"; vm_excerpt "$VM_LOG_DIR/$PC_NAME-$k.log" 40
    fail=1
    k=$((k - 1))
  fi
  echo "after each cut:"
  local j
  for ((j = 2; j <= k; j++)); do pc_check_boot "$j" || fail=1; done
  echo "outcomes of $done_cuts cuts: rolled back ${PC_OUTCOMES[back]:-0}, rolled forward ${PC_OUTCOMES[forward]:-0}, nothing to recover ${PC_OUTCOMES[none]:-0}, other ${PC_OUTCOMES[other]:-0}; total $((SECONDS - t0)) s"
  ((done_cuts >= 1)) || { echo "FAIL: no cut fitted the budget"; return 1; }
  ((fail == 0))
}

# A power cut in the middle of a state switch, at the one phase the firmware's entry cannot
# survive on its own: after moss exchanged /usr (the commit point) and before it archived the
# previous tree (journal phase root-links). The old state's tree is then in
# /.moss/root/staging/usr, the ESP's default entry still names it, and onix-select-fstx alone
# finds it nowhere (the machine stopped in the initrd's emergency shell: docs/crash-safety.md).
# Boot 1: `MOSS_CRASH_AT=root-links moss install` (moss SIGKILLed at that phase), sync, power
# off without shutting down. Boot 2: the linux stone's initrd hook runs the root's own moss
# (`moss state recover --no-boot-sync`, chrooted), which rolls the transaction forward, then
# activates the state the entry named; the guest checks it runs that state, verify passes,
# the rolled-forward state is retained, and `moss boot sync` gives it an entry; 1 s after that
# sync the host cuts the power again (SIGKILL of QEMU, disk cache=none). On the host, the ESP
# of the disk image must then pass `fsck.vfat -n` and hold every entry the sync wrote with its
# content (the FAT lost fsynced entries to such cuts: docs/crash-safety.md).
PMS_NAME=power-cut-mid-switch-boots

scenario() {
  local n=$PMS_NAME w bin
  [[ -x $VM_REPO/bazel-bin/moss/stone/pack_tree ]] ||
    { echo "no bazel-bin/moss/stone/pack_tree (bazel build //moss/stone:pack_tree)"; return 77; }
  w=$(mktemp -d "$VM_WORK/$n.XXXXXX")
  bin=$(readlink -f "$VM_REPO/bazel-bin")
  cp "$bin/moss/moss" "$bin/moss/stone/pack_tree" "$w/" || return 1
  vm_test_image "$w/disk.img" || return 1
  vm_new_vars "$w/vars.fd"
  # The update: one small package, in a signed repository on the agent disk.
  mkdir -p "$w/tree/share/onix-midswitch" "$w/agent/repo"
  echo "onix-midswitch 1" >"$w/tree/share/onix-midswitch/version"
  "$w/pack_tree" "$w/tree" "$w/agent/repo/onix-midswitch-1.stone" onix-midswitch 1 >/dev/null &&
    "$w/moss" index "$w/agent/repo" --sign "$VM_REPO/build/quarry/repo-key.key" >/dev/null &&
    cp "$VM_REPO/build/quarry/repo-key.pub" "$w/agent/repo/" || { echo "FAIL: building the update"; return 1; }
  cat >"$w/run.sh" <<'GUEST'
#!/bin/sh
S=power-cut-mid-switch-boots
. "${ONIX_TEST_DIR:-/run/onix-test}/lib.sh"
check() { step "$@"; }
old() { cat "$STATE/old"; }
new() { cat "$STATE/new"; }
cut_mid_switch() {
  moss repo add midswitch "file://$T/repo" --key "$T/repo/repo-key.pub" && moss repo update midswitch || return 1
  MOSS_CRASH_AT=root-links moss -y install onix-midswitch; rc=$?
  echo "moss install exited $rc (SIGKILL at root-links expected)"
  head -n 1 /usr/.fstx >"$STATE/new"
  echo "usr: $(new); staging/usr: $(head -n 1 /.moss/root/staging/usr/.fstx 2>/dev/null)"
  [ $rc != 0 ] && [ -e /.moss/journal ] && [ "$(new)" != "$(old)" ] &&
    [ "$(head -n 1 /.moss/root/staging/usr/.fstx)" = "$(old)" ]
}
runs_entry_state() {
  want=$(sed -n 's/.*moss\.fstx=\([^ ]*\).*/\1/p' /proc/cmdline)
  echo "runs $(head -n 1 /usr/.fstx); the entry named $want; old $(old), new $(new)"
  [ "$(head -n 1 /usr/.fstx)" = "$want" ] && [ "$want" = "$(old)" ]
}
recovered() {
  [ ! -e /.moss/journal ] || { echo "the journal is still there"; return 1; }
  [ ! -e /.moss/root/staging/usr ] || { echo "staging/usr is still there"; return 1; }
  out=$(moss state recover 2>&1); echo "$out"
  [ "$out" = "nothing to recover; active state: $(old)" ]
}
new_retained() { moss state list && moss state list | grep -q "$(new)"; }
new_gets_entry() {
  moss boot sync && grep -q "^options .*moss.fstx=$(new)" /boot/loader/entries/onix-"$(new)"*.conf &&
    ls /boot/loader/entries | grep "^onix-$(new)"
}
case $(cat "$STATE/phase" 2>/dev/null) in
  "")
    head -n 1 /usr/.fstx >"$STATE/old"
    check cut-mid-switch cut_mid_switch
    echo cut >"$STATE/phase"
    mark boot-end "$([ $failed = 0 ] && echo PASS || echo FAIL)" "$failed failed steps"
    # The power cut: everything on disk, nothing shut down (no rc.shutdown, no unmount).
    sync; poweroff -f ;;
  cut)
    check runs-the-entry-state runs_entry_state
    check recovered-in-initrd recovered
    check verify moss state verify
    check rolled-forward-state-retained new_retained
    echo done >"$STATE/phase"
    check boot-sync-adds-its-entry new_gets_entry
    mark boot-end "$([ $failed = 0 ] && echo PASS || echo FAIL)" "$failed failed steps"
    # The host cuts the power 1 s after this line; no sync of ours may hide a missing one.
    sleep 600 ;;
  *) mark phase FAIL "unexpected phase $(cat "$STATE/phase")"; poweroff -f ;;
esac
GUEST
  vm_agent_disk "$w/agent.tar" "$w/run.sh" "$w/agent/repo" || return 1
  local fail=0 log1="$VM_LOG_DIR/$n-1.log" log2="$VM_LOG_DIR/$n-2.log" s
  vm_boot_agent "$n-1" "$w/disk.img" "$w/vars.fd" "$w/agent.tar" 300
  vm_markers "$log1" "$n"
  vm_step_passed "$log1" "$n" cut-mid-switch ||
    { echo "FAIL: boot 1 did not leave a transaction cut at root-links"; vm_excerpt "$log1" 40; return 1; }
  # Boot 2 in the background: the host cuts it 1 s after the guest's boot sync.
  rm -f "$w/qemu.pid"
  vm_boot_agent "$n-2" "$w/disk.img" "$w/vars.fd" "$w/agent.tar" 300 -pidfile "$w/qemu.pid" \
    2>"$w/boot-2.err" &
  local bg=$! t=$SECONDS qpid=
  while ((SECONDS - t < 280)); do
    [[ -z $qpid ]] && qpid=$(cat "$w/qemu.pid" 2>/dev/null)
    tr -d '\r' <"$log2" 2>/dev/null | grep -aq "^ONIX-TEST $n boot-end " && break
    [[ -n $qpid ]] && ! kill -0 "$qpid" 2>/dev/null && break
    sleep 0.2
  done
  sleep 1
  [[ -n $qpid ]] && kill -KILL "$qpid" 2>/dev/null
  wait "$bg"
  tr -d '\r' <"$log2" | grep -a '^ONIX-INITRD' | sed 's/^/  /'
  vm_markers "$log2" "$n"
  tr -d '\r' <"$log2" | grep -aq '^ONIX-INITRD: moss: rolled forward' ||
    { fail=1; echo "FAIL: the initrd did not roll the transaction forward"; }
  ! tr -d '\r' <"$log2" | grep -aq '^ONIX-INITRD: moss: .*warning' ||
    { fail=1; echo "FAIL: the initrd's recovery warned"; }
  # The ESP as the cut left it, read on the host.
  local start size
  read -r start size < <(sfdisk -J "$w/disk.img" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["partitiontable"]["partitions"]:
    if p["type"].upper() == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B":
        print(p["start"], p["size"])')
  dd if="$w/disk.img" of="$w/esp.img" bs=512 skip="$start" count="$size" status=none ||
    { echo "FAIL: no ESP in the image"; return 1; }
  # A cut while mounted always leaves the dirty bit (and so a boot sector that differs from its
  # backup in that byte) and a stale free-cluster hint; what must not be there is a file fsck
  # has to cut short or repair (those lines name the file; the last line names the image).
  local fsck
  fsck=$(fsck.vfat -n "$w/esp.img" 2>&1)
  if grep -v "^$w/esp.img: " <<<"$fsck" | grep -q '^/'; then
    fail=1; echo "FAIL: fsck.vfat -n of the ESP after the cut:"; sed 's/^/    /' <<<"$fsck"
  else
    echo "fsck.vfat -n of the ESP after the cut: no damaged file ($(grep -c . <<<"$fsck") lines: $(grep -o 'Dirty bit is set\|Free cluster summary wrong\|Reclaimed [0-9]* unused clusters' <<<"$fsck" | paste -sd, -))"
  fi
  local e empty=0 entries
  entries=$(MTOOLS_SKIP_CHECK=1 mdir -b -i "$w/esp.img" ::/loader/entries 2>/dev/null)
  for e in $entries; do
    e=${e##*/}
    if MTOOLS_SKIP_CHECK=1 mtype -i "$w/esp.img" "::/loader/entries/$e" | grep -q '^options .*moss\.fstx='; then
      echo "  ESP entry $e: whole"
    else empty=1; echo "  ESP entry $e: lost its content"; fi
  done
  grep -q 'onix-[^ ]*' <<<"$entries" || { empty=1; echo "  no entries on the ESP"; }
  ((empty == 0)) || { fail=1; echo "FAIL: the cut 1 s after moss boot sync lost entry content"; }
  local synced_new
  synced_new=$(vm_markers "$log2" "$n" | sed -n 's/.* boot-sync-adds-its-entry PASS \(onix-[^ ]*\).*/\1/p')
  grep -q "${synced_new:-no-entry}" <<<"$entries" ||
    { fail=1; echo "FAIL: the entry boot sync reported (${synced_new:-none}) is not on the ESP after the cut"; }
  for s in runs-the-entry-state recovered-in-initrd verify rolled-forward-state-retained \
    boot-sync-adds-its-entry; do
    vm_step_passed "$log2" "$n" "$s" || { fail=1; echo "FAIL: $s"; }
  done
  ((fail == 0)) || { vm_excerpt "$log2" 40; return 1; }
  rm -rf "$w"
}

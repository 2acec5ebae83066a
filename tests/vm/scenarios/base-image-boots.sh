# The base image as a machine boots it: OVMF -> systemd-boot -> the state's BLS entry ->
# the linux stone's initrd -> busybox init running the boot scripts of the stones
# (/usr/lib/onix/rc.d) -> the test agent. Inside, the ESP is on /boot, the Nix partition on
# /nix, every boot script reported ok, and `onix status` names the state the image was
# built with.
scenario() {
  local work="$VM_WORK/base-image-boots"
  rm -rf "$work"; mkdir -p "$work"
  vm_test_image "$work/disk.img" || return 1
  local fstx
  fstx=$(head -1 "$(vm_test_root)/usr/.fstx")
  cat >"$work/run.sh" <<'GUEST'
#!/bin/sh
s=base-image-boots
mark() { echo "ONIX-TEST $s $1 $2 $3"; }
mountpoint -q /boot && [ -f /boot/loader/loader.conf ] && mark esp-mounted PASS "" || mark esp-mounted FAIL "$(ls /boot 2>&1 | head -3)"
mountpoint -q /nix && mark nix-mounted PASS "" || mark nix-mounted FAIL "/nix is not a mount point"
out=$(onix status 2>&1); rc=$?
echo "$out" | sed 's/^/ONIX-STATUS: /'
[ $rc = 0 ] && mark onix-status PASS "fstx=$(head -1 /usr/.fstx)" || mark onix-status FAIL "exit $rc"
/usr/lib/onix/rc.shutdown
poweroff -f
GUEST
  vm_agent_disk "$work/agent.tar" "$work/run.sh" || return 1
  vm_new_vars "$work/vars.fd"
  local log="$VM_LOG_DIR/base-image-boots.log"
  vm_boot_agent base-image-boots "$work/disk.img" "$work/vars.fd" "$work/agent.tar" ||
    { echo "FAIL: the guest did not power off by itself"; vm_excerpt "$log"; return 1; }
  local fail=0 step
  for step in esp-mounted nix-mounted onix-status; do
    vm_step_passed "$log" base-image-boots "$step" || { echo "FAIL: step $step"; fail=1; }
  done
  if tr -d '\r' <"$log" | grep -a '^onix-rc: .* failed'; then
    echo "FAIL: a boot script failed"; fail=1
  fi
  tr -d '\r' <"$log" | grep -aq "^ONIX-STATUS: active fstx: $fstx$" ||
    { echo "FAIL: onix status inside does not name state $fstx"; fail=1; }
  ((fail == 0)) || { vm_excerpt "$log" 40; return 1; }
  echo "booted state $fstx; rc.d scripts: $(tr -d '\r' <"$log" | grep -ac '^onix-rc: .* ok') ok; ESP on /boot, /nix mounted"
}

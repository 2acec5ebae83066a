# The harness itself: a direct-kernel boot of a minimal busybox initramfs whose /init reports
# a marker and powers off; a second boot whose init hangs must be cut at its timeout.
scenario() {
  local kver kernel work
  kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
  [[ -n $kernel ]] || { echo "no kernel in /boot"; return 77; }
  [[ -x /bin/busybox ]] || { echo "busybox-static not installed"; return 77; }
  work=$(mktemp -d "$VM_WORK/selftest.XXXXXX")
  mkdir -p "$work/root/bin"
  cp /bin/busybox "$work/root/bin/busybox"
  cat >"$work/root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc && /bin/busybox mount -t proc proc /proc
case "$(/bin/busybox cat /proc/cmdline)" in
  *onix.hang*) while :; do /bin/busybox sleep 1; done ;;
esac
echo "ONIX-TEST harness-self-test boot PASS uptime=$(/bin/busybox cut -d' ' -f1 /proc/uptime)"
/bin/busybox poweroff -f
INIT
  chmod +x "$work/root/init"
  (cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"

  vm_boot_direct harness-self-test "$kernel" "$work/initrd.gz" "quiet" 120 || {
    echo "FAIL: the guest did not power off by itself"; vm_excerpt "$VM_LOG_DIR/harness-self-test.log"; return 1; }
  vm_step_passed "$VM_LOG_DIR/harness-self-test.log" harness-self-test boot || {
    echo "FAIL: no PASS marker"; vm_excerpt "$VM_LOG_DIR/harness-self-test.log"; return 1; }
  local rc=0
  vm_boot_direct harness-self-test-hang "$kernel" "$work/initrd.gz" "quiet onix.hang" 20 || rc=$?
  [[ $rc == 124 ]] || { echo "FAIL: a hung guest was not cut at its timeout (exit $rc)"; return 1; }
  rm -rf "$work"
  echo "direct boot reported its marker; a hung guest was killed at its 20 s timeout"
}

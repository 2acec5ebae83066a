# Issue 12, scenario 6 (boot): an update whose state cannot finish booting falls back by
# itself. Boot 1: /etc/kernel/tries = 1 (systemd-boot boot counting with ONE try instead of
# the default 3, so the scenario fits the TCG budget: 3 tries would add two more failing
# boots of ~15 s each and prove nothing more), then `moss install onix-test-bad-boot` (a test
# stone built here whose rc.d script crashes the kernel during sysinit, before the boot gets
# to 80-boot-mark-good) makes state 2 with entry onix-<2>+1.conf, the default. Boot 2:
# systemd-boot uses the last try (+0-1) and the state crashes (panic=-1 reboots, which ends
# QEMU). Boot 3: the entry is bad and sorts last, systemd-boot starts state 1's entry, the
# initrd activates state 1, 80-boot-mark-good marks it good and makes it the default again;
# `onix status` says state 1 and `moss boot status` shows state 2's entry bad. Boot 4: a plain
# reboot stays on state 1.
scenario() {
  local n=failed-update-falls-back w
  w=$(mktemp -d "$VM_WORK/$n.XXXXXX")
  vm_test_image "$w/disk.img" || return 1
  vm_new_vars "$w/vars.fd"
  bad_boot_repo "$w/upd" || return 1
  echo "boot counting: 1 try (+1) instead of 3, to stay in the TCG time budget"
  cat >"$w/run.sh" <<'GUEST'
#!/bin/sh
S=failed-update-falls-back
. "${ONIX_TEST_DIR:-/run/onix-test}/lib.sh"
s1() { cat "$STATE/state1"; }
s2() { cat "$STATE/state2"; }
on_state() { onix status --timeout 1 | tee /dev/stderr | grep -qx "active fstx: $1"; }
default_entry_boots() {
  moss boot status | tee /dev/stderr | grep -q "^default: .* -> onix-$1[.+]"
}
update() {
  echo 1 >/etc/kernel/tries &&
    moss repo add upd "file://$T/upd" --key "$T/upd/repo-key.pub" && moss repo update upd &&
    moss -y install onix-test-bad-boot && head -n 1 /usr/.fstx >"$STATE/state2" &&
    [ "$(s2)" != "$(s1)" ] && ls /boot/loader/entries &&
    [ -f "/boot/loader/entries/onix-$(s2)+1.conf" ] && echo "state $(s1) -> $(s2), entry onix-$(s2)+1.conf"
}
status_reports_bad() {
  onix status --timeout 1 | tee /dev/stderr | grep -q "boot entry onix-$(s2)+0-1.conf of state $(s2) is bad"
}
entry_bad() {
  moss boot status | tee /dev/stderr | grep -q "onix-$(s2)+0-1.conf .*boots $(s2) (archived), bad"
}
case $(cat "$STATE/phase" 2>/dev/null) in
  "")
    head -n 1 /usr/.fstx >"$STATE/state1"
    step update-to-bad-state-2 update
    step default-is-state-2 default_entry_boots "$(s2)"
    echo updated >"$STATE/phase"
    end_boot reboot ;;
  updated)
    step fell-back-to-state-1 on_state "$(s1)"
    step state-2-entry-bad entry_bad
    step onix-status-reports-bad status_reports_bad
    step default-is-state-1 default_entry_boots "$(s1)"
    echo fellback >"$STATE/phase"
    end_boot reboot ;;
  fellback)
    step still-state-1 on_state "$(s1)"
    echo done >"$STATE/phase"
    end_boot poweroff ;;
  *) mark phase FAIL "unexpected phase $(cat "$STATE/phase")"; end_boot poweroff ;;
esac
GUEST
  vm_agent_disk "$w/agent.raw" "$w/run.sh" "$w/upd" || return 1
  vm_boot_check "$n" 1 "$w" update-to-bad-state-2 default-is-state-2 || return 1

  # Boot 2: the bad state. It must crash before the agent, and systemd-boot must have used
  # the entry's last try.
  local log="$VM_LOG_DIR/$n-2.log" rc=0
  vm_boot_agent "$n-2" "$w/disk.img" "$w/vars.fd" "$w/agent.raw" 180 || rc=$?
  [[ $rc == 0 ]] || { echo "FAIL: boot 2 did not end by itself (exit $rc)"; vm_excerpt "$log" 40; return 1; }
  tr -d '\r' <"$log" | grep -aq '^onix-test-bad-boot: this state cannot finish booting' ||
    { echo "FAIL: boot 2 did not run the bad state"; vm_excerpt "$log" 40; return 1; }
  if tr -d '\r' <"$log" | grep -aq '^ONIX-TEST agent start'; then
    echo "FAIL: boot 2 finished booting the bad state"; vm_excerpt "$log" 40; return 1
  fi
  esp_ls "$w/disk.img" /loader/entries | grep -q '+0-1\.conf$' ||
    { echo "FAIL: after boot 2 no entry is marked bad (+0-1):"; esp_ls "$w/disk.img" /loader/entries; return 1; }
  echo "boot 2: the bad state crashed; its entry is $(esp_ls "$w/disk.img" /loader/entries | grep '+0-1\.conf$' | xargs -n1 basename)"

  vm_boot_check "$n" 3 "$w" fell-back-to-state-1 state-2-entry-bad onix-status-reports-bad default-is-state-1 || return 1
  tr -d '\r' <"$VM_LOG_DIR/$n-3.log" | grep -aq 'fell back to state' ||
    { echo "FAIL: boot 3: 80-boot-mark-good did not report the fallback"; vm_excerpt "$VM_LOG_DIR/$n-3.log" 40; return 1; }
  vm_boot_check "$n" 4 "$w" still-state-1 || return 1
  rm -rf "$w"
  echo "the update's entry used its try, the previous state booted, was marked good and made the default; the bad entry is reported bad"
}

# bad_boot_repo OUT_DIR: a signed repository holding onix-test-bad-boot, a stone whose
# rc.d script (after 10-mounts, before anything marks the boot good) crashes the kernel.
bad_boot_repo() {
  local out=$1
  mkdir -p "$out.recipe"
  cat >"$out.recipe/stone.yaml" <<'RECIPE'
name: onix-test-bad-boot
version: "1"
release: 1
license: MIT
summary: VM test only - a machine state that cannot finish booting
install: |
  d="%(installroot)%(libdir)/onix/rc.d"
  mkdir -p "$d"
  cat > "$d/15-onix-test-bad-boot" <<'RC'
  #!/bin/sh
  echo "onix-test-bad-boot: this state cannot finish booting: crashing the kernel"
  echo c > /proc/sysrq-trigger
  sleep 5
  reboot -f
  RC
  chmod 0755 "$d/15-onix-test-bad-boot"
RECIPE
  "$VM_REPO/bazel-bin/boulder/boulder" build "$out.recipe/stone.yaml" --output "$out" \
    --source-cache "$VM_REPO/build/sources" --repo "$VM_REPO/build/stones" >"$out.build.log" 2>&1 ||
    { echo "FAIL: boulder failed on onix-test-bad-boot:"; tail -20 "$out.build.log"; return 1; }
  rm -f "$out/manifest.json"
  "$VM_REPO/bazel-bin/moss/moss" index "$out" --sign "$VM_REPO/build/quarry/repo-key.key" >/dev/null ||
    { echo "FAIL: moss index $out failed"; return 1; }
  cp "$VM_REPO/build/quarry/repo-key.pub" "$out/repo-key.pub"
}


# Issue 12, scenario 5 (boot): picking an older entry in the boot menu boots that state.
# Boot 1: the image's first boot marked its entry good (rc.d 80-boot-mark-good on the real
# ESP); `moss sync` to an update (branding release 2) makes state 2 and its entry the default;
# the guest sets systemd-boot's one-shot entry (EFI variable LoaderEntryOneShot) to state 1's.
# Boot 2 (the one-shot): the linux stone's initrd runs onix-select-fstx for moss.fstx=<1>
# before switch_root, so the machine runs state 1 (`onix status`), while the default entry
# still boots state 2. Boot 3 (no selection): the default entry boots state 2 again, and its
# entry is marked good. Each reboot is a real firmware -> systemd-boot boot (same disk, same
# OVMF variables).
scenario() {
  local n=boot-menu-selects-state w
  w=$(mktemp -d "$VM_WORK/$n.XXXXXX")
  vm_test_image "$w/disk.img" || return 1
  vm_new_vars "$w/vars.fd"
  vm_update_repo "$VM_WORK/boot-upd-branding-2" branding 2 || return 1
  cp -a "$VM_WORK/boot-upd-branding-2" "$w/upd2"
  rm -f "$w/upd2/key" "$w/upd2/build.log" "$w/upd2/manifest.json"
  cat >"$w/run.sh" <<'GUEST'
#!/bin/sh
S=boot-menu-selects-state
. "${ONIX_TEST_DIR:-/run/onix-test}/lib.sh"
s1() { cat "$STATE/state1"; }
s2() { cat "$STATE/state2"; }
# onix status names the state the machine runs.
on_state() { onix status --timeout 1 | tee /dev/stderr | grep -qx "active fstx: $1"; }
entry_plain() { ls /boot/loader/entries; [ -f "/boot/loader/entries/onix-$1.conf" ]; }
default_entry_boots() {
  moss boot status | tee /dev/stderr | grep -q "^default: .* -> onix-$1[.+]"
}
update() {
  moss repo add upd2 "file://$T/upd2" --key "$T/upd2/repo-key.pub" && moss repo update upd2 &&
    moss -y sync && head -n 1 /usr/.fstx >"$STATE/state2" && [ "$(s2)" != "$(s1)" ] &&
    echo "state $(s1) -> $(s2)"
}
# systemd-boot's one-shot entry: efivarfs wants the 4 attribute bytes (NV|BS|RT) and the
# UTF-16LE id, NUL-terminated, in one write.
set_oneshot() {
  id=$1 var=/sys/firmware/efi/efivars/LoaderEntryOneShot-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f
  [ -f "/boot/loader/entries/$id" ] || { echo "no entry $id"; return 1; }
  { printf '\007\000\000\000'; i=0
    while [ $i -lt ${#id} ]; do printf '%s\000' "${id:$i:1}"; i=$((i + 1)); done
    printf '\000\000'; } >/tmp/oneshot
  dd if=/tmp/oneshot of="$var" bs=4096 2>/dev/null && echo "LoaderEntryOneShot=$id"
}
case $(cat "$STATE/phase" 2>/dev/null) in
  "")
    head -n 1 /usr/.fstx >"$STATE/state1"
    step first-entry-marked-good entry_plain "$(s1)"
    step update-to-state-2 update
    step default-is-state-2 default_entry_boots "$(s2)"
    step oneshot-state-1 set_oneshot "onix-$(s1).conf"
    echo oneshot >"$STATE/phase"
    end_boot reboot ;;
  oneshot)
    step booted-state-1 on_state "$(s1)"
    step default-still-state-2 default_entry_boots "$(s2)"
    echo back >"$STATE/phase"
    end_boot reboot ;;
  back)
    step booted-state-2 on_state "$(s2)"
    step state-2-entry-marked-good entry_plain "$(s2)"
    echo done >"$STATE/phase"
    end_boot poweroff ;;
  *) mark phase FAIL "unexpected phase $(cat "$STATE/phase")"; end_boot poweroff ;;
esac
GUEST
  vm_agent_disk "$w/agent.raw" "$w/run.sh" "$w/upd2" || return 1
  vm_boot_check "$n" 1 "$w" first-entry-marked-good update-to-state-2 default-is-state-2 oneshot-state-1 || return 1
  vm_boot_check "$n" 2 "$w" booted-state-1 default-still-state-2 || return 1
  # The switch happened in the initrd, by the hook, before switch_root.
  tr -d '\r' <"$VM_LOG_DIR/$n-2.log" | grep -a '^onix-select-fstx: activated state' ||
    { echo "FAIL: boot 2: the initrd did not activate the one-shot entry's state"; vm_excerpt "$VM_LOG_DIR/$n-2.log" 40; return 1; }
  vm_boot_check "$n" 3 "$w" booted-state-2 state-2-entry-marked-good || return 1
  rm -rf "$w"
  echo "one-shot boot of the older entry ran that state (activated in the initrd); the next normal boot ran the default again"
}


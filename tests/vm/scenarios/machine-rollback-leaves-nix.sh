# Issue 12, scenario 2: a machine update and its rollback leave /nix untouched. Boot 1: Nix
# profile with rg, fingerprint of the Nix plane, `moss sync` to an update (branding release 2,
# state 2); boot 2 (state 2): `onix rollback`; boot 3: the machine is on state 1 and the store
# path list, profile generations, gcroots and valid paths are identical, `nix store verify
# --all` passes, the daemon handshake is healthy. Guest side:
# tests/vm/nix/guest/machine-rollback-leaves-nix.sh.
scenario() {
  source "$VM_REPO/tests/vm/nix/fixture.sh"
  local n=machine-rollback-leaves-nix w
  w=$(mktemp -d "$VM_WORK/$n.XXXXXX")
  vm_test_image "$w/disk.img" || return 1
  vm_new_vars "$w/vars.fd"
  vm_update_repo "$VM_WORK/nix-upd-branding-2" branding 2 || return 1
  cp -a "$VM_WORK/nix-upd-branding-2" "$w/upd2"
  rm -f "$w/upd2/key" "$w/upd2/build.log" "$w/upd2/manifest.json"
  nix_agent "$n" "$w/agent.raw" "$w/upd2" || return 1
  nix_boot "$n" 1 "$w/disk.img" "$w/vars.fd" "$w/agent.raw" \
    daemon-up flake profile-install fingerprint-before update-to-state-2 boot-end || return 1
  nix_boot "$n" 2 "$w/disk.img" "$w/vars.fd" "$w/agent.raw" \
    booted-state-2 daemon-on-state-2 rg-on-state-2 onix-rollback boot-end || return 1
  nix_boot "$n" 3 "$w/disk.img" "$w/vars.fd" "$w/agent.raw" \
    booted-state-1 daemon-on-state-1 nix-untouched store-verify rg-on-state-1 boot-end || return 1
  rm -rf "$w"
  echo "update to state 2, reboot, onix rollback, reboot: state 1 again and /nix identical and healthy"
}

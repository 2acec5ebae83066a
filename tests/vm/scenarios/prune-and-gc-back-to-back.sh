# Issue 12, scenario 3: `moss state prune --keep 1` and `nix store gc` back to back, in both
# orders (two machine updates, branding releases 2 and 3), leave both planes verified: `moss
# state verify` and `nix store verify --all` pass, the garbage is gone, the profile's path is
# kept, and after a reboot the active state boots and the Nix profile works. Guest side:
# tests/vm/nix/guest/prune-and-gc-back-to-back.sh.
scenario() {
  source "$VM_REPO/tests/vm/nix/fixture.sh"
  local n=prune-and-gc-back-to-back w r
  w=$(mktemp -d "$VM_WORK/$n.XXXXXX")
  vm_test_image "$w/disk.img" || return 1
  vm_new_vars "$w/vars.fd"
  for r in 2 3; do
    vm_update_repo "$VM_WORK/nix-upd-branding-$r" branding "$r" || return 1
    cp -a "$VM_WORK/nix-upd-branding-$r" "$w/upd$r"
    rm -f "$w/upd$r/key" "$w/upd$r/build.log" "$w/upd$r/manifest.json"
  done
  nix_agent "$n" "$w/agent.raw" "$w/upd2" "$w/upd3" || return 1
  nix_boot "$n" 1 "$w/disk.img" "$w/vars.fd" "$w/agent.raw" \
    daemon-up flake profile-install garbage-1 update-to-state-2 prune-then-gc-prune \
    prune-then-gc-gc garbage-2 update-to-state-3 gc-then-prune-gc gc-then-prune-prune \
    moss-verify nix-verify profile-kept boot-end || return 1
  nix_boot "$n" 2 "$w/disk.img" "$w/vars.fd" "$w/agent.raw" \
    booted-state-3 daemon-after-reboot rg-after-reboot moss-verify-after-reboot \
    nix-verify-after-reboot boot-end || return 1
  rm -rf "$w"
  echo "prune then gc and gc then prune: both planes verify, the active state and the profile survive a reboot"
}

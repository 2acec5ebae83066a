# Issue 12, scenario 1: a Nix profile survives a real reboot. Boot 1 installs
# nixpkgs#ripgrep (offline flake) through the daemon rc.d 30-nix started; boot 2 (firmware ->
# systemd-boot -> the same state) finds rg on PATH in a fresh login shell of the same user.
# Guest side: tests/vm/nix/guest/nix-survives-reboot.sh.
scenario() {
  source "$VM_REPO/tests/vm/nix/fixture.sh"
  local n=nix-survives-reboot w
  w=$(mktemp -d "$VM_WORK/$n.XXXXXX")
  vm_test_image "$w/disk.img" || return 1
  vm_new_vars "$w/vars.fd"
  nix_agent "$n" "$w/agent.raw" || return 1
  nix_boot "$n" 1 "$w/disk.img" "$w/vars.fd" "$w/agent.raw" \
    daemon-up flake profile-install rg-on-path boot-end || return 1
  nix_boot "$n" 2 "$w/disk.img" "$w/vars.fd" "$w/agent.raw" \
    daemon-after-reboot rg-after-reboot profile-unchanged store-verify boot-end || return 1
  rm -rf "$w"
  echo "rg from nix profile install is on PATH in a fresh login shell after a reboot"
}

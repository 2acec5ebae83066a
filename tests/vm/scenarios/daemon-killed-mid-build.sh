# Issue 12, scenario 8: nix-daemon (and everything below it) is SIGKILLed while a sandboxed
# `nix build` runs; after a restart `nix store verify --all` passes, the interrupted output is
# not a valid path, and the retried build succeeds. One boot. Guest side:
# tests/vm/nix/guest/daemon-killed-mid-build.sh.
scenario() {
  source "$VM_REPO/tests/vm/nix/fixture.sh"
  local n=daemon-killed-mid-build w
  w=$(mktemp -d "$VM_WORK/$n.XXXXXX")
  vm_test_image "$w/disk.img" || return 1
  vm_new_vars "$w/vars.fd"
  nix_agent "$n" "$w/agent.raw" || return 1
  nix_boot "$n" 1 "$w/disk.img" "$w/vars.fd" "$w/agent.raw" \
    daemon-up flake kill-daemon-mid-build daemon-restart output-not-valid store-verify \
    retry-succeeds store-verify-after-retry boot-end || return 1
  rm -rf "$w"
  echo "daemon killed mid-build: store verifies, the half build is not valid, the retry builds it"
}

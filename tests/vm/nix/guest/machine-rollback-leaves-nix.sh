#!/bin/sh
# Guest side of machine-rollback-leaves-nix (issue 12, scenario 2). Boot 1: a Nix profile
# with rg, the Nix plane's fingerprint, then `moss sync` to the update repository upd2
# (branding release 2): state 2, after which the sys.d trigger has re-seeded the seam. Boot 2 (state 2): `onix rollback` to state 1, which itself
# fingerprints /nix before and after. Boot 3: the machine is on state 1 (`onix status`) and
# /nix is exactly as before the update: store path list, profile generations and gcroots,
# valid paths; `nix store verify --all` passes and the daemon handshake is healthy.
SCEN=machine-rollback-leaves-nix
. ./lib.sh

update() {
  # The seam is re-applied after every switch (moss's sys.d trigger runs `sync`): a hook file
  # removed before the update is back after it, without a reboot.
  rm -f /etc/profile.d/nix.sh
  add_repo upd2 && moss -y sync && moss state active >"$STATE/state2" &&
    { test -s /etc/profile.d/nix.sh || { echo "the trigger did not re-seed /etc/profile.d/nix.sh"; false; }; } &&
    [ "$(cat "$STATE/state2")" != "$(cat "$STATE/state1")" ] &&
    echo "state $(cat "$STATE/state1") -> $(cat "$STATE/state2")"
}
fingerprint_save() { nix_fingerprint >"$STATE/fingerprint" && echo "$(wc -l <"$STATE/fingerprint") lines"; }
on_state() { _s=$(onix status); echo "$_s"; echo "$_s" | grep -qx "active fstx: $(cat "$STATE/$1")"; }
rollback() { _r=$(onix -y rollback) || { echo "$_r"; return 1; }; echo "$_r"; echo "$_r" | grep -x '/nix: *untouched'; }
untouched() { nix_fingerprint | diff "$STATE/fingerprint" - && echo "$(wc -l <"$STATE/fingerprint") fingerprint lines identical"; }

case $(cat "$STATE/phase" 2>/dev/null) in
  "")
    step daemon-up daemon_healthy
    step flake flake_setup
    step profile-install login 'nix profile install nixpkgs#ripgrep && nix profile list'
    step fingerprint-before fingerprint_save
    moss state active >"$STATE/state1"
    step update-to-state-2 update
    echo updated >"$STATE/phase"
    end_boot reboot
    ;;
  updated)
    step booted-state-2 on_state state2
    step daemon-on-state-2 daemon_healthy
    step rg-on-state-2 rg_on_path
    step onix-rollback rollback
    echo rolledback >"$STATE/phase"
    end_boot reboot
    ;;
  rolledback)
    step booted-state-1 on_state state1
    step daemon-on-state-1 daemon_healthy
    step nix-untouched untouched
    step store-verify login 'nix store verify --all'
    step rg-on-state-1 rg_on_path
    echo done >"$STATE/phase"
    end_boot poweroff
    ;;
  *)
    mark phase FAIL "unexpected phase $(cat "$STATE/phase")"
    end_boot poweroff
    ;;
esac

#!/bin/sh
# Guest side of prune-and-gc-back-to-back (issue 12, scenario 3). Boot 1: a Nix profile with
# rg plus an unrooted store path (garbage); update to state 2 (repository upd2), then
# `moss state prune --keep 1` immediately followed by `nix store gc`; update to state 3
# (upd3), then the reverse order: `nix store gc` immediately followed by `moss state prune
# --keep 1`. After both rounds `moss state verify` and `nix store verify --all` pass, the
# garbage is gone and the profile's path is not. Boot 2: the active state (3) boots and the
# Nix profile still works.
SCEN=prune-and-gc-back-to-back
. ./lib.sh

garbage() {
  login 'nix build --no-link nixpkgs#scratch' && login 'nix eval --raw nixpkgs#scratch.outPath' >"$STATE/garbage" &&
    test -e "$(cat "$STATE/garbage")" && cat "$STATE/garbage"
}
update() { add_repo "$1" && moss -y sync && moss state active; }
prune() { moss -y state prune --keep 1 && [ "$(moss state list | grep -c .)" = 1 ] && moss state list; }
gc() { login 'nix store gc' && ! test -e "$(cat "$STATE/garbage")"; }
kept() {
  rg=$(login 'readlink -f "$(command -v rg)"') && test -x "$rg" &&
    path=$(echo "$rg" | cut -d/ -f1-4) &&
    login "nix-store -q --roots $path" | grep -q profiles && echo "$path kept, rooted by a profile"
}
on_state3() { _s=$(onix status); echo "$_s"; echo "$_s" | grep -qx "active fstx: $(cat "$STATE/state3")"; }

case $(cat "$STATE/phase" 2>/dev/null) in
  "")
    step daemon-up daemon_healthy
    step flake flake_setup
    step profile-install login 'nix profile install nixpkgs#ripgrep && nix profile list'
    step garbage-1 garbage
    step update-to-state-2 update upd2
    step prune-then-gc-prune prune
    step prune-then-gc-gc gc
    step garbage-2 garbage
    step update-to-state-3 update upd3
    moss state active >"$STATE/state3"
    step gc-then-prune-gc gc
    step gc-then-prune-prune prune
    step moss-verify moss state verify
    step nix-verify login 'nix store verify --all'
    step profile-kept kept
    echo pruned >"$STATE/phase"
    end_boot reboot
    ;;
  pruned)
    step booted-state-3 on_state3
    step daemon-after-reboot daemon_healthy
    step rg-after-reboot rg_on_path
    step moss-verify-after-reboot moss state verify
    step nix-verify-after-reboot login 'nix store verify --all'
    echo done >"$STATE/phase"
    end_boot poweroff
    ;;
  *)
    mark phase FAIL "unexpected phase $(cat "$STATE/phase")"
    end_boot poweroff
    ;;
esac

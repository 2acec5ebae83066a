#!/bin/sh
# Guest side of nix-survives-reboot (issue 12, scenario 1). Boot 1: the daemon rc.d 30-nix
# started is healthy, `nix profile install nixpkgs#ripgrep` from the offline flake, rg on PATH
# in a fresh login shell; reboot. Boot 2 (a real firmware -> systemd-boot boot of the same
# disk): the daemon is up again, a fresh login shell still finds rg, the profile is unchanged
# and the store verifies.
SCEN=nix-survives-reboot
. ./lib.sh

profile_unchanged() { login 'nix profile list' | diff "$STATE/profile-list" -; }

case $(cat "$STATE/phase" 2>/dev/null) in
  "")
    step daemon-up daemon_healthy
    step flake flake_setup
    step profile-install login 'nix profile install nixpkgs#ripgrep && nix profile list'
    step rg-on-path rg_on_path
    login 'nix profile list' >"$STATE/profile-list"
    echo installed >"$STATE/phase"
    end_boot reboot
    ;;
  installed)
    step daemon-after-reboot daemon_healthy
    step rg-after-reboot rg_on_path
    step profile-unchanged profile_unchanged
    step store-verify login 'nix store verify --all'
    echo done >"$STATE/phase"
    end_boot poweroff
    ;;
  *)
    mark phase FAIL "unexpected phase $(cat "$STATE/phase")"
    end_boot poweroff
    ;;
esac

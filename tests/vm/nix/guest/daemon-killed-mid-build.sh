#!/bin/sh
# Guest side of daemon-killed-mid-build (issue 12, scenario 8). `nix build nixpkgs#slow` (a
# 15 s sandboxed build) runs through the daemon; once its build directory exists, the
# daemon and every process below it (the worker and the build) are killed with SIGKILL. The
# client fails, the build's processes are gone, the daemon is started again by the seeded init
# script, `nix store verify --all` passes, the half-built output is not a valid path, and the
# retried build succeeds.
SCEN=daemon-killed-mid-build
. ./lib.sh

# The pids below $1 (its children, their children, ...), from one `ps` listing.
descendants() {
  ps -o pid,ppid | awk -v r="$1" 'NR > 1 { p[$1] = $2 }
    END { do { more = 0; for (k in p) if (!(k in s) && (p[k] == r || (p[k] in s))) { s[k] = 1; more = 1 } } while (more)
          for (k in s) print k }'
}
# The daemon's worker has made the build's temporary directory: the build is running.
building() { ls -d /tmp/nix-build-onix-slow-1.drv-* >/dev/null 2>&1; }
kill_mid_build() {
  login 'nix build --no-link nixpkgs#slow' >"$STATE/client.out" 2>&1 &
  client=$!
  i=0
  until building; do
    i=$((i + 1))
    if [ $i -gt 600 ] || ! kill -0 "$client" 2>/dev/null; then
      echo "the build was never seen running"; cat "$STATE/client.out"; return 1
    fi
    sleep 0.2
  done
  daemon=$(cat /run/nix-daemon.pid)
  echo "$daemon" >"$STATE/killed-daemon"
  pids="$daemon $(descendants "$daemon")"
  echo "killing nix-daemon $daemon and below it: $pids"
  kill -9 $pids
  wait "$client"
  rc=$?
  cat "$STATE/client.out"
  [ $rc != 0 ] || { echo "the client succeeded although its daemon was killed"; return 1; }
  # init reaps them once they are gone; SIGKILL cannot be ignored, so give it 10 s at most.
  for p in $pids; do
    i=0
    while kill -0 "$p" 2>/dev/null; do
      i=$((i + 1)); [ $i -gt 50 ] && { echo "process $p of the build survived"; return 1; }
      sleep 0.2
    done
  done
  echo "client failed with $rc as it should"
}
# Nothing the kill interrupted became a valid path.
not_valid() {
  out=$(login 'nix eval --raw nixpkgs#slow.outPath') || return 1
  echo "$out" >"$STATE/slow-path"
  ! login "nix-store -q --hash $out" 2>/dev/null && echo "$out is not valid"
}
restart() {
  NIX_DAEMON_LOG=/var/log/nix-daemon.log /etc/init.d/nix-daemon start &&
    [ "$(cat /run/nix-daemon.pid)" != "$(cat "$STATE/killed-daemon")" ] && daemon_healthy
}
retry() {
  out=$(cat "$STATE/slow-path") &&
    login 'nix build --no-link nixpkgs#slow' && grep -qx built "$out/result" &&
    login "nix-store -q --hash $out" && echo "$out built and valid"
}

step daemon-up daemon_healthy
step flake flake_setup
step kill-daemon-mid-build kill_mid_build
step daemon-restart restart
step output-not-valid not_valid
step store-verify login 'nix store verify --all'
step retry-succeeds retry
step store-verify-after-retry login 'nix store verify --all'
end_boot poweroff

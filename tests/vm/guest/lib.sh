# The one guest library of the VM scenarios: vm_agent_disk puts this file next to every
# run.sh as lib.sh. A run.sh sets S (its scenario name; the Nix scenarios' SCEN is the same)
# and sources it:
#   S=my-scenario; . "${ONIX_TEST_DIR:-/run/onix-test}/lib.sh"
# Then: STATE (a per-scenario directory on the guest's root fs, kept across reboots),
# mark STEP PASS|FAIL DETAIL (one ONIX-TEST marker line), step NAME CMD... (runs CMD, shows
# the tail of its output, marks NAME PASS or FAIL, counts failures and returns CMD's status),
# end_boot poweroff|reboot, and the Nix plane's helpers (login, daemon_healthy, flake_setup,
# rg_on_path, nix_fingerprint, add_repo).
S=${S:-${SCEN:-}}
SCEN=$S
T=${ONIX_TEST_DIR:-/run/onix-test}
STATE=/var/lib/onix-test/$S
mkdir -p "$STATE"
export HOME=/root PATH=/usr/bin:/usr/sbin
failed=0

mark() { echo "ONIX-TEST $S $1 $2 ${3:-}"; }

# step NAME COMMAND...: PASS with the output's last line, or FAIL with its exit status and
# last lines (the output's tail goes to the console either way, for the log).
step() {
  _name=$1; shift
  _out=$("$@" 2>&1)
  _rc=$?
  printf '%s\n' "$_out" | sed "s/^/[$_name] /" | tail -n 15
  if [ $_rc = 0 ]; then
    mark "$_name" PASS "$(printf '%s' "$_out" | tail -n 1 | cut -c1-160)"
  else
    failed=$((failed + 1))
    mark "$_name" FAIL "rc=$_rc $(printf '%s' "$_out" | tail -n 3 | tr '\n' ' ' | cut -c1-300)"
  fi
  return $_rc
}

# login CMD: CMD in a fresh login shell of root, with only what /etc/profile (and the seeded
# /etc/profile.d/nix.sh) sets: what a user gets after logging in.
login() { env -i HOME=/root USER=root LOGNAME=root TERM=dumb SHELL=/bin/sh /bin/sh -l -c "$*"; }

# The daemon the boot started (rc.d 30-nix) answers the C++ worker-protocol handshake.
daemon_healthy() {
  for _ in $(seq 120); do
    onix-nix-integration status --root / 2>/dev/null | grep -qx 'nix daemon:  healthy' && {
      echo "nix daemon healthy (pid $(cat /run/nix-daemon.pid 2>/dev/null))"; return 0; }
    sleep 0.5
  done
  onix-nix-integration status --root /
  return 1
}

# The offline nixpkgs: the flake from the agent disk with this machine's static busybox and
# the rg stub, pinned as `nixpkgs` in the system registry (a local edit of a seeded file:
# kept by every later sync and reported as drift).
flake_setup() {
  mkdir -p /srv/onix/nixpkgs/tools &&
    cp "$T/flake.nix" /srv/onix/nixpkgs/flake.nix &&
    cp /usr/bin/busybox /srv/onix/nixpkgs/tools/busybox &&
    cp "$T/rg" /srv/onix/nixpkgs/tools/rg &&
    printf '%s\n' '{"flakes":[{"from":{"id":"nixpkgs","type":"indirect"},"to":{"path":"/srv/onix/nixpkgs","type":"path"}}],"version":2}' \
      >/etc/nix/registry.json &&
    login 'nix registry list' | grep 'flake:nixpkgs path:/srv/onix/nixpkgs'
}

rg_on_path() {
  _rg=$(login 'command -v rg && rg --version') || return 1
  echo "$_rg"
  echo "$_rg" | grep -qx /root/.nix-profile/bin/rg && echo "$_rg" | grep -q '^ripgrep 13.0.0' &&
    echo "$_rg" | tr '\n' ' '
}

# What must not change when the machine plane moves: the store path names, every profile and
# gcroot link with its target, and the store's own list of valid paths.
nix_fingerprint() {
  ls /nix/store | LC_ALL=C sort
  find /nix/var/nix/profiles /nix/var/nix/gcroots -type l | LC_ALL=C sort | while read -r l; do
    echo "$l -> $(readlink "$l")"
  done
  login 'nix path-info --all' | LC_ALL=C sort
}

# A moss repository from the agent disk (built on the host by vm_update_repo).
add_repo() {
  moss repo add "$1" "file://$T/$1" --key "$T/$1/repo-key.pub" && moss repo update "$1"
}

# Ends this boot the way the test agent does: unmount cleanly, then power off or reboot
# (QEMU runs with -no-reboot, so a reboot ends QEMU and the host boots the disk again).
end_boot() {
  mark boot-end "$([ $failed = 0 ] && echo PASS || echo FAIL)" "$failed failed steps"
  sync
  /usr/lib/onix/rc.shutdown
  "$1" -f
}

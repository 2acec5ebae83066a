# Host side of the Nix VM scenarios (nix-survives-reboot, machine-rollback-leaves-nix,
# prune-and-gc-back-to-back, daemon-killed-mid-build). Sourced by a scenario after vm.sh and
# image.sh.

NIX_VM_DIR=$VM_REPO/tests/vm/nix

# nix_agent NAME OUT.raw [FILE_OR_DIR...]: the agent disk of scenario NAME: its guest script
# (tests/vm/nix/guest/NAME.sh) as run.sh, the one guest library (tests/vm/guest/lib.sh, put
# there by vm_agent_disk), the offline flake, a static rg stub for the flake to package, and
# the given extra files (e.g. update repositories).
nix_agent() {
  local name=$1 out=$2; shift 2
  local fx
  fx=$(mktemp -d "$VM_WORK/nix-fixture.XXXXXX")
  cp "$NIX_VM_DIR/flake.nix" "$fx/flake.nix"
  printf '#include <stdio.h>\nint main(void) { puts("ripgrep 13.0.0 (onix test stub)"); return 0; }\n' >"$fx/rg.c"
  # Static, so the stub needs nothing from the store or the machine.
  { musl-gcc -static -Os -o "$fx/rg" "$fx/rg.c" 2>/dev/null || gcc -static -Os -o "$fx/rg" "$fx/rg.c"; } ||
    { echo "nix fixture: cannot build the static rg stub"; rm -rf "$fx"; return 1; }
  rm "$fx/rg.c"
  vm_agent_disk "$out" "$NIX_VM_DIR/guest/$name.sh" "$fx/flake.nix" "$fx/rg" "$@"
  local rc=$?
  rm -rf "$fx"
  return $rc
}

# nix_boot NAME BOOT DISK VARS AGENT STEP...: boots, then requires a PASS marker for every STEP
# (and no FAIL marker at all). On failure prints which step and the end of the serial log.
nix_boot() {
  local name=$1 boot=$2 disk=$3 vars=$4 agent=$5; shift 5
  local log="$VM_LOG_DIR/$name-$boot.log" rc=0
  vm_boot_agent "$name-$boot" "$disk" "$vars" "$agent" "${NIX_VM_BOOT_TIMEOUT:-300}" || rc=$?
  if [[ $rc == 124 ]]; then
    echo "FAIL: boot $boot of $name hung (no poweroff within ${NIX_VM_BOOT_TIMEOUT:-300} s)"
    vm_excerpt "$log" 25; return 1
  fi
  local bad
  bad=$(vm_markers "$log" "$name" | grep ' FAIL' || true)
  if [[ -n $bad ]]; then
    echo "FAIL: boot $boot of $name:"; echo "$bad" | sed 's/^/    /'; vm_excerpt "$log" 25; return 1
  fi
  local s
  for s in "$@"; do
    vm_step_passed "$log" "$name" "$s" || {
      echo "FAIL: boot $boot of $name: step $s did not report PASS"; vm_excerpt "$log" 25; return 1; }
  done
  # The boot step itself reported to the console. (grep reads the whole log, not -q: under
  # pipefail, grep -q leaving early makes tr's SIGPIPE fail the pipeline on a long log.)
  tr -d '\r' <"$log" | grep '^onix-rc: 30-nix ok' >/dev/null || {
    echo "FAIL: boot $boot of $name: rc.d 30-nix did not report ok"; vm_excerpt "$log" 25; return 1; }
  echo "boot $boot: $(vm_markers "$log" "$name" | grep -c ' PASS') steps passed"
}

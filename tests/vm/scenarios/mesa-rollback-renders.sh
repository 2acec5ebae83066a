# Scenario 4 of issue #12: a GL app in the Nix store (gl-probe, its whole closure in
# /nix/store, its driver found only through /run/opengl-driver) renders a frame offscreen
# with Mesa's software rasteriser and reports the driver it loaded; mesa-bridge is updated
# (state N+1, release 2 of the same stone with its own release marker) and the machine
# reboots: the app loads release 2; `onix rollback` to N and a reboot: it renders again with
# release 1. Three full UEFI boots; the guest side is tests/vm/fixtures/gl-app/
# guest-mesa-rollback.sh, its results come back as ONIX-TEST marker lines.
MESA_STEPS_1="bridge-at-boot nix-install render-state-n update"
MESA_STEPS_2="booted-n1 bridge-n1 render-state-n1 rollback"
MESA_STEPS_3="booted-n bridge-n render-rolled-back"

# mesa_boot N TIMEOUT AGENT: one boot; every step of phase N must report PASS.
mesa_boot() {
  local n=$1 limit=$2 agent=$3 name=mesa-rollback-renders-$1 rc=0 step steps log
  log=$VM_LOG_DIR/$name.log
  local t=$SECONDS
  vm_boot_agent "$name" "$MESA_DISK" "$MESA_VARS" "$agent" "$limit" || rc=$?
  echo "boot $n: $((SECONDS - t)) s (serial log build/vm-logs/$name.log)"
  vm_markers "$log" mesa-rollback-renders | sed 's/^/    /'
  if vm_markers "$log" mesa-rollback-renders | grep -q '^ONIX-TEST mesa-rollback-renders nix SKIP'; then
    echo "SKIP: $(vm_markers "$log" mesa-rollback-renders | sed -n 's/.* nix SKIP //p')"
    return 77
  fi
  steps=MESA_STEPS_$n
  for step in ${!steps}; do
    vm_step_passed "$log" mesa-rollback-renders "$step" && continue
    echo "FAIL: boot $n step $step did not pass$( ((rc)) && echo " (qemu exit $rc)")"
    vm_excerpt "$log" 40
    return 1
  done
}

scenario() {
  local work
  work=$(mktemp -d "$VM_WORK/mesa-rollback.XXXXXX")
  MESA_DISK=$work/disk.img MESA_VARS=$work/vars.fd
  # MESA_PROFILE: another image profile (a trial profile before mesa-bridge is in base).
  vm_test_image "$MESA_DISK" ${MESA_PROFILE:+"$MESA_PROFILE"} || { echo "FAIL: no base test image"; return 1; }
  vm_new_vars "$MESA_VARS"
  local fx=$VM_REPO/tests/vm/fixtures/gl-app
  "$fx/build.sh" "$work/gl-app" >"$work/gl-app.log" 2>&1 ||
    { echo "FAIL: building the gl-app flake:"; tail -20 "$work/gl-app.log"; return 1; }
  # State N+1's stone: the same recipe at release 2 (its release marker says so).
  vm_update_repo "$VM_WORK/mesa-bridge-update-2" mesa-bridge 2 ||
    { echo "FAIL: building mesa-bridge release 2"; return 1; }
  mkdir -p "$work/update"
  cp "$VM_WORK/mesa-bridge-update-2"/mesa-bridge-*-2-*.stone "$work/update/"
  local n
  for n in 1 2 3; do echo "$n" >"$work/phase$n"; done
  # Only the first boot carries the flake and the update (70 MB); the others just the phase.
  mkdir -p "$work/p1" "$work/p2" "$work/p3"
  for n in 1 2 3; do cp "$work/phase$n" "$work/p$n/phase"; done
  vm_agent_disk "$work/agent1.raw" "$fx/guest-mesa-rollback.sh" "$work/p1/phase" "$work/gl-app" "$work/update" || return 1
  vm_agent_disk "$work/agent2.raw" "$fx/guest-mesa-rollback.sh" "$work/p2/phase" || return 1
  vm_agent_disk "$work/agent3.raw" "$fx/guest-mesa-rollback.sh" "$work/p3/phase" || return 1

  # Under TCG the first boot builds the app with Nix, renders with llvmpipe (LLVM's JIT is
  # slow there) and installs a 66 MB stone: allow it more than a plain boot.
  mesa_boot 1 360 "$work/agent1.raw" || return $?
  mesa_boot 2 240 "$work/agent2.raw" || return $?
  mesa_boot 3 240 "$work/agent3.raw" || return $?
  rm -rf "$work"
  echo "rendered with release 1 (state N), release 2 after the update and reboot, release 1 after rollback and reboot"
}

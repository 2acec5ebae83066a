# Test images for the VM scenarios. Sourced after vm.sh.
#
# One base test image per run: tools/quarry image (stones -> signed repo -> moss --root
# install of the profile -> tools/onix-image) with the test agent (tests/vm/guest) laid into
# /etc/onix/rc.d. It is cached under build/vm-images by the repository index, the profiles,
# the image tools and the agent, so a warm run only copies it. Scenarios get sparse copies.

VM_IMAGES=${VM_IMAGES:-$VM_REPO/build/vm-images}
mkdir -p "$VM_IMAGES"

# vm_prepare_images: builds the stones, the repository and the base test image if needed.
# tests/vm/run.sh calls it once before the scenarios; a scenario run alone calls it through
# vm_test_image. Serialised with a lock, so parallel scenarios build once.
vm_prepare_images() {
  local profile=${1:-$VM_REPO/stones/profiles/base.yaml}
  local name
  name=$(basename "$profile" .yaml)
  (
    flock 9
    cd "$VM_REPO" || exit 1
    # tests/vm/run.sh prepares once and sets VM_STONES_READY for its scenarios.
    if [[ -z ${VM_STONES_READY:-} ]]; then
      tools/quarry ready >"$VM_IMAGES/ready.log" 2>&1 ||
        { echo "vm: tools/quarry ready failed:"; tail -20 "$VM_IMAGES/ready.log"; exit 1; }
    fi
    local key
    key=$(cat build/stones/stone.index tools/onix-image tools/quarry stones/profiles/*.yaml \
            tests/vm/guest/* tests/vm/lib/image.sh | sha256sum | cut -d' ' -f1)
    local img=$VM_IMAGES/$name-test.img
    if [[ -f $img && -f $img.key && $(cat "$img.key") == "$key" ]]; then exit 0; fi
    rm -f "$img" "$img.key"
    local overlay=$VM_IMAGES/$name-etc
    rm -rf "$overlay"
    mkdir -p "$overlay/onix/rc.d"
    install -m 0755 tests/vm/guest/99-onix-test-agent "$overlay/onix/rc.d/"
    tools/quarry image "$profile" "$img" --root "$VM_IMAGES/$name-root" --etc-overlay "$overlay" \
      >"$VM_IMAGES/$name-image.log" 2>&1 ||
      { echo "vm: tools/quarry image $profile failed:"; tail -20 "$VM_IMAGES/$name-image.log"; exit 1; }
    echo "$key" >"$img.key"
  ) 9>"$VM_IMAGES/.lock"
}

# vm_test_image OUT.img [PROFILE]: a private, writable copy of the base test image.
vm_test_image() {
  local out=$1 profile=${2:-$VM_REPO/stones/profiles/base.yaml}
  vm_prepare_images "$profile" || return 1
  cp --sparse=always "$VM_IMAGES/$(basename "$profile" .yaml)-test.img" "$out"
}

# vm_test_root [PROFILE]: the machine root the test image was made from (read-only use:
# manifests, the state's fstx, the kernel), e.g. $(vm_test_root)/usr/.fstx.
vm_test_root() { echo "$VM_IMAGES/$(basename "${1:-base.yaml}" .yaml)-root"; }

# vm_agent_disk OUT.raw SCRIPT [FILE_OR_DIR...]: the scenario's guest side as a second disk:
# a tar holding SCRIPT as run.sh, the shared guest helpers as lib.sh (tests/vm/guest/lib.sh)
# and the given files, which the agent unpacks to /run/onix-test.
vm_agent_disk() {
  local out=$1 script=$2; shift 2
  local stage
  stage=$(mktemp -d "$VM_WORK/agent.XXXXXX")
  install -m 0755 "$script" "$stage/run.sh"
  install -m 0644 "$VM_REPO/tests/vm/guest/lib.sh" "$stage/lib.sh"
  local f
  for f in "$@"; do cp -a "$f" "$stage/"; done
  tar -C "$stage" --owner=0 --group=0 -cf "$out" . || { rm -rf "$stage"; return 1; }
  rm -rf "$stage"
}

# vm_boot_agent NAME DISK VARS AGENT_DISK [TIMEOUT] [QEMU_ARGS...]: a full UEFI boot with
# the agent disk as the second virtio disk (/dev/vdb in the guest).
vm_boot_agent() {
  local name=$1 disk=$2 vars=$3 agent=$4 limit=${5:-$VM_BOOT_TIMEOUT}; shift 5 || shift $#
  vm_boot_uefi "$name" "$disk" "$vars" "$limit" \
    -drive "file=$agent,format=raw,if=none,id=agent,readonly=on" \
    -device virtio-blk-pci,drive=agent "$@"
}

# vm_update_repo OUT_DIR RECIPE RELEASE: RECIPE (a folder under stones/) rebuilt by boulder
# at RELEASE into a signed repository in OUT_DIR (key build/quarry/repo-key), the way a
# machine receives an update. Cached in OUT_DIR by recipe and release. A recipe the quarry
# builds from a generated copy (Debian inputs, a packed upstream) is rebuilt from that copy,
# which the base image's build made.
vm_update_repo() {
  local out=$1 recipe=$2 release=$3
  local src=$VM_REPO/stones/$recipe/stone.yaml
  [[ -f $VM_REPO/build/quarry/recipes/$recipe/stone.yaml ]] && src=$VM_REPO/build/quarry/recipes/$recipe/stone.yaml
  [[ -f $src ]] || { echo "vm: no recipe $src"; return 1; }
  local key
  key=$( (cat "$src"; echo "$release"; sha256sum "$VM_REPO/bazel-bin/boulder/boulder") | sha256sum | cut -d' ' -f1)
  [[ -f $out/key && $(cat "$out/key") == "$key" ]] && return 0
  rm -rf "$out" "$out.recipe"
  mkdir -p "$out.recipe" "$out"
  sed -E "s/^release: [0-9]+$/release: $release/" "$src" >"$out.recipe/stone.yaml"
  grep -q "^release: $release$" "$out.recipe/stone.yaml" || { echo "vm: cannot set release in $src"; return 1; }
  "$VM_REPO/bazel-bin/boulder/boulder" build "$out.recipe/stone.yaml" --output "$out" \
    --source-cache "$VM_REPO/build/sources" --repo "$VM_REPO/build/stones" >"$out/build.log" 2>&1 ||
    { echo "vm: boulder failed on $recipe release $release:"; tail -20 "$out/build.log"; return 1; }
  rm -rf "$out.recipe"
  "$VM_REPO/bazel-bin/moss/moss" index "$out" --sign "$VM_REPO/build/quarry/repo-key.key" >/dev/null ||
    { echo "vm: moss index $out failed"; return 1; }
  cp "$VM_REPO/build/quarry/repo-key.pub" "$out/repo-key.pub"
  echo "$key" >"$out/key"
}

# vm_boot_check NAME BOOT WORKDIR STEP...: one UEFI boot with the agent disk; every STEP must
# report PASS and none FAIL; on failure the end of the serial log is shown.
vm_boot_check() {
  local name=$1 boot=$2 w=$3; shift 3
  local log="$VM_LOG_DIR/$name-$boot.log" rc=0
  vm_boot_agent "$name-$boot" "$w/disk.img" "$w/vars.fd" "$w/agent.raw" 180 || rc=$?
  if [[ $rc == 124 ]]; then
    echo "FAIL: boot $boot of $name hung (no poweroff within 180 s)"; vm_excerpt "$log" 40; return 1
  fi
  local bad s
  bad=$(vm_markers "$log" "$name" | grep ' FAIL' || true)
  if [[ -n $bad ]]; then
    echo "FAIL: boot $boot of $name:"; echo "$bad" | sed 's/^/    /'; vm_excerpt "$log" 40; return 1
  fi
  for s in "$@"; do
    vm_step_passed "$log" "$name" "$s" ||
      { echo "FAIL: boot $boot of $name: step $s did not report PASS"; vm_excerpt "$log" 40; return 1; }
  done
  echo "boot $boot: $(vm_markers "$log" "$name" | grep -c ' PASS') steps passed"
}

#!/usr/bin/env bash
# Image suite: builds the musl stone set by hand (tools/quarry prove, cached under
# build/quarry/prove by its inputs) and checks that root: no glibc, a chroot shell on musl.
# The same recipes are then built by boulder (tools/quarry build-stones, cached the same way;
# bazel builds //boulder:boulder and //moss:moss first if they are missing), indexed and
# signed by moss and installed by `moss --root`. That root, with /boot and /etc as an admin
# leaves them, is packed with tools/onix-image and the disk checked from the outside:
# partition table (sfdisk --json), ESP (mtools), boot entries (real bootctl), root fs
# (debugfs), and one OVMF + systemd-boot boot under TCG to a marker printed by a hook of the
# state's busybox init.
# First run: about 5-8 min (the stone builds, by hand and by boulder); later runs: about
# 30-45 s, most of it the boot.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
work=$repo/build/image-test
source tests/lib/common.sh

export MTOOLS_SKIP_CHECK=1
rm -rf "$work"
mkdir -p "$work"

# --- the stones, by hand ------------------------------------------------------------------
if ! out=$(tools/quarry fetch 2>&1 && tools/quarry prove 2>&1); then
  not_ok "every recipe in stones/ builds with musl-gcc by hand (tools/quarry prove)" "$out"
  finish
fi
ok "every recipe in stones/ builds with musl-gcc by hand (tools/quarry prove)"
grep 'prove .*: \(ok\|unchanged\)' <<<"$out" | sed 's/^/# /'

# stones/busybox/config is kept for review; it must be what the recipe's setup resolves.
cfg_built=$(ls -d build/quarry/prove/busybox/build/*/.config 2>/dev/null | head -1)
if [[ -n $cfg_built ]] && diff <(grep -E '^(# )?CONFIG_' stones/busybox/config) \
    <(grep -E '^(# )?CONFIG_' "$cfg_built") > "$work/busybox-config.diff"; then
  ok "stones/busybox/config matches the configuration the busybox recipe generates"
else
  not_ok "stones/busybox/config matches the configuration the busybox recipe generates" \
    "$(head -20 "$work/busybox-config.diff" 2>/dev/null)"
fi

# --- a machine root in moss's shape -------------------------------------------------------
root=$work/root
if ! out=$(tools/quarry rootfs "$root" musl busybox libzstd filesystem branding linux 2>&1); then
  not_ok "tools/quarry rootfs lays the proven install roots out as a machine root" "$out"
fi
mkdir -p "$root/.moss/store" "$root/.moss/root" "$root/.moss/db"
# /boot as boot/bls writes it: kernels by content key, one entry per state, default onix-*.
# write_boot ROOT FSTX EXTRA_OPTIONS; prints the kernel key.
write_boot() {
  local r=$1 id=$2 extra=$3 kd k
  kd=$(ls -d "$r"/usr/lib/kernel/*/ | tail -1)
  k=$( (sha256sum "$kd/vmlinuz" | cut -d' ' -f1; sha256sum "$kd/initrd" | cut -d' ' -f1) | sha256sum | cut -c1-16)
  mkdir -p "$r/boot/onix/$k" "$r/boot/loader/entries"
  cp "$kd/vmlinuz" "$kd/initrd" "$r/boot/onix/$k/"
  cat > "$r/boot/loader/entries/onix-$id.conf" <<EOF
title ONIX (state $id)
version $id
sort-key onix-0
linux /onix/$k/vmlinuz
initrd /onix/$k/initrd
options root=LABEL=onixroot rw console=ttyS0 panic=-1 ${extra:+$extra }moss.fstx=$id
EOF
  printf 'default onix-*\ntimeout 0\nconsole-mode keep\neditor no\n' > "$r/boot/loader/loader.conf"
  echo "$k"
}
esp_in=$work/esp-in
mkdir -p "$esp_in/EFI/Linux"  # an ESP directory with something of its own to carry over
echo "kept" > "$esp_in/EFI/Linux/README.txt"

# --- no glibc -----------------------------------------------------------------------------
check_quiet "the stone set's root has no glibc interpreter or libc.so.6 (check_no_glibc)" \
  tests/lib/check_no_glibc.sh "$root" usr/lib/onix/runtime
bad=$work/bad-root
mkdir -p "$bad/usr/bin" "$bad/usr/lib/onix/runtime"
cp /usr/bin/true "$bad/usr/bin/true"
if out=$(tests/lib/check_no_glibc.sh "$bad" usr/lib/onix/runtime 2>&1); then
  not_ok "check_no_glibc rejects a glibc program outside the runtime prefix" "$out"
elif grep -q 'glibc: /usr/bin/true: PT_INTERP /lib64/ld-linux-x86-64.so.2 NEEDED libc.so.6' <<<"$out"; then
  ok "check_no_glibc rejects a glibc program outside the runtime prefix"
else
  not_ok "check_no_glibc rejects a glibc program outside the runtime prefix" "$out"
fi
mv "$bad/usr/bin/true" "$bad/usr/lib/onix/runtime/true"
check_quiet "check_no_glibc allows glibc below usr/lib/onix/runtime only" \
  tests/lib/check_no_glibc.sh "$bad" usr/lib/onix/runtime
# ONIX's own tools live in /usr/bin but load the private runtime; the store is not the machine.
cp /usr/bin/true "$bad/usr/bin/onix-tool"
patchelf --set-interpreter /usr/lib/onix/runtime/ld-linux-x86-64.so.2 "$bad/usr/bin/onix-tool"
mkdir -p "$bad/.moss/store/00" && cp /usr/bin/true "$bad/.moss/store/00/object"
check_quiet "check_no_glibc allows programs loading the private runtime and skips /.moss" \
  tests/lib/check_no_glibc.sh "$bad" usr/lib/onix/runtime
rm -rf "$bad/usr/bin/onix-tool" "$bad/.moss"
if out=$(tests/lib/check_no_glibc.sh "$bad" 2>&1); then
  not_ok "check_no_glibc without an allowed prefix rejects the runtime too" "$out"
else
  ok "check_no_glibc without an allowed prefix rejects the runtime too"
fi

# --- the root runs on musl ----------------------------------------------------------------
if [[ $(id -u) == 0 ]]; then
  out=$(chroot "$root" /bin/sh -c 'echo ok' 2>&1)
  [[ $out == ok ]] && ok "chroot ROOT /bin/sh -c 'echo ok' runs busybox on musl" ||
    not_ok "chroot ROOT /bin/sh -c 'echo ok' runs busybox on musl" "$out"
  out=$(chroot "$root" /bin/sh -c 'echo across-stones | zstd -q | zstd -dq' 2>&1)
  [[ $out == across-stones ]] && ok "zstd (NEEDED libzstd.so.1 from the libzstd stone) round-trips in the chroot" ||
    not_ok "zstd (NEEDED libzstd.so.1 from the libzstd stone) round-trips in the chroot" "$out"
else
  skip "chroot ROOT /bin/sh -c 'echo ok' runs busybox on musl" "needs root for chroot"
  skip "zstd round-trips in the chroot" "needs root for chroot"
fi

# --- the same recipes through boulder, installed by moss -----------------------------------
boulder=bazel-bin/boulder/boulder moss=bazel-bin/moss/moss
if [[ ! -x $boulder || ! -x $moss ]]; then
  # tools/test builds only test targets; these two binaries are what this part exercises.
  timeout 900 bazel build //boulder:boulder //moss:moss > "$work/bazel-build.log" 2>&1
fi
if [[ -x $boulder && -x $moss ]]; then
  if out=$(tools/quarry build-stones 2>&1); then
    ok "boulder builds every recipe into stones (tools/quarry build-stones)"
    grep 'build-stones .*: ' <<<"$out" | sed 's/^/# /'
  else
    not_ok "boulder builds every recipe into stones (tools/quarry build-stones)" "$out"
  fi
  if out=$(tools/quarry repo 2>&1) && [[ -s build/stones/stone.index && -s build/stones/stone.index.sig ]]; then
    ok "moss indexes and signs build/stones (tools/quarry repo)"
  else
    not_ok "moss indexes and signs build/stones (tools/quarry repo)" "$out"
  fi
  rroot=$work/repo-root
  mkdir -p "$rroot"
  if out=$("$moss" --root "$rroot" repo add local "file://$repo/build/stones" --key build/quarry/repo-key.pub 2>&1 &&
      "$moss" --root "$rroot" repo update 2>&1 && "$moss" --root "$rroot" search zstd 2>&1) &&
      grep -q '^zstd .*local' <<<"$out"; then
    ok "moss accepts build/stones as a repository signed with the quarry's key and finds zstd in it"
  else
    not_ok "moss accepts build/stones as a repository signed with the quarry's key and finds zstd in it" "$out"
  fi
  wroot=$work/wrong-key-root
  mkdir -p "$wroot"
  "$moss" keygen "$work/other-key" >/dev/null 2>&1
  if out=$("$moss" --root "$wroot" repo add local "file://$repo/build/stones" --key "$work/other-key.pub" 2>&1 &&
      "$moss" --root "$wroot" repo update 2>&1); then
    not_ok "moss refuses build/stones' index under a key that did not sign it" "$out"
  elif grep -q 'signature does not match' <<<"$out"; then
    ok "moss refuses build/stones' index under a key that did not sign it"
  else
    not_ok "moss refuses build/stones' index under a key that did not sign it" "$out"
  fi
  mroot=$work/moss-root
  # A fresh root as an installer starts it: the profile's kernel command line for boot/bls.
  mkdir -p "$mroot/etc/kernel"
  tools/onix-image setting stones/profiles/tinybox.yaml cmdline > "$mroot/etc/kernel/cmdline"
  stones=()
  for p in musl busybox libzstd zstd filesystem branding linux; do
    stones+=(build/stones/"$p"-[0-9]*.stone)
  done
  if out=$("$moss" --root "$mroot" -y install "${stones[@]}" 2>&1) && [[ -x $mroot/usr/bin/busybox ]]; then
    ok "moss --root installs the boulder-built stones as state 1"
    moss_root_ok=1
  else
    not_ok "moss --root installs the boulder-built stones as state 1" "$out"
  fi
  check_quiet "the moss-installed root has no glibc (check_no_glibc)" \
    tests/lib/check_no_glibc.sh "$mroot" usr/lib/onix/runtime
  if [[ $(id -u) == 0 ]]; then
    out=$(chroot "$mroot" /bin/sh -c 'echo ok; echo across | zstd -q | zstd -dq' 2>&1)
    [[ $out == $'ok\nacross' ]] && ok "the moss-installed root runs sh and zstd on musl in a chroot" ||
      not_ok "the moss-installed root runs sh and zstd on musl in a chroot" "$out"
  else
    skip "the moss-installed root runs sh and zstd on musl in a chroot" "needs root for chroot"
  fi
else
  not_ok "boulder builds, moss installs the stone set" \
    "bazel build //boulder:boulder //moss:moss failed: $(tail -20 "$work/bazel-build.log" 2>/dev/null)"
fi

# --- the image ----------------------------------------------------------------------------
# One image, of the moss-installed root, carries every disk check and the one boot (an image
# of the hand-built root was built and booted as well, proving the same path twice: a TCG
# boot is about a minute). /boot is written by hand: `moss boot sync` is boot/'s to test.
# /etc is the admin's: one file changed (must be kept), two missing (must come back), and
# the test's hook, which busybox init (the state's /sbin/init) runs at sysinit.
if [[ ${moss_root_ok:-0} != 1 ]]; then
  not_ok "an image of the moss-installed root (no such root: see above)"
  finish
fi
root=$mroot fstx=$(head -1 "$mroot/usr/.fstx")
rm -rf "$root/boot/onix" "$root/boot/loader/entries"
key=$(write_boot "$root" "$fstx" "")
rm -f "$root/etc/passwd" "$root/etc/shadow" "$root/etc/hostname" "$root/etc/inittab"
echo onix-test > "$root/etc/hostname"
printf '::sysinit:/etc/onix-smoke\n' > "$root/etc/inittab"
cat > "$root/etc/onix-smoke" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
. /usr/lib/os-release
echo "ONIX-SMOKE: init=$(cat /proc/1/comm) id=$ID state=$(head -1 /usr/.fstx) moss=$(ls -d /.moss/store >/dev/null && echo yes) root=$(awk '$2 == "/" { print $1 }' /proc/mounts) hostname=$(cat /etc/hostname) zstd=$(echo roundtrip | zstd -q | zstd -dq)"
mount -o remount,ro /
poweroff -f
EOF
chmod 755 "$root/etc/onix-smoke"
img=$work/disk.img
if ! out=$(tools/onix-image build --root "$root" --esp "$esp_in" --out "$img" \
    --profile stones/profiles/tinybox.yaml 2>&1); then
  not_ok "tools/onix-image builds a disk from the root" "$out"
  finish
fi
echo "$out" | sed 's/^/# /'
grep -q "built $img .* in [0-9.]* s" <<<"$out" && ok "tools/onix-image builds a disk and prints its build time" ||
  not_ok "tools/onix-image builds a disk and prints its build time" "$out"

# Partition table, as the kernel and firmware will read it.
json=$(sfdisk --json "$img" 2>&1)
pt=$(python3 - "$json" <<'PY'
import json, sys
t = json.loads(sys.argv[1])["partitiontable"]
print(t["label"], len(t["partitions"]))
for p in t["partitions"]:
    print(p["type"], p["name"], p["start"], p["size"])
PY
)
expect_types="C12A7328-F81F-11D2-BA4B-00A0C93EC93B ESP
4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709 onixroot
0FC63DAF-8483-4772-8E79-3D69D8477DE4 onixnix"
if [[ $(head -1 <<<"$pt") == "gpt 3" && $(tail -n +2 <<<"$pt" | cut -d' ' -f1,2) == "$expect_types" ]]; then
  ok "sfdisk --json: GPT with ESP (EFI System), onixroot (x86-64 root), onixnix (Linux fs)"
else
  not_ok "sfdisk --json: GPT with ESP (EFI System), onixroot (x86-64 root), onixnix (Linux fs)" "$json"
fi
esp_start=$(awk 'NR == 2 { print $3 }' <<<"$pt")
root_start=$(awk 'NR == 3 { print $3 }' <<<"$pt")
nix_start=$(awk 'NR == 4 { print $3 }' <<<"$pt")
esp_size=$(awk 'NR == 2 { print $4 }' <<<"$pt")
[[ $esp_start == 2048 && $esp_size == $((64 * 2048)) ]] &&
  ok "the ESP starts at 1 MiB and has the profile's 64 MiB" ||
  not_ok "the ESP starts at 1 MiB and has the profile's 64 MiB" "$pt"
esp="$img@@$((esp_start * 512))"

# ESP contents, read with mtools (no vfat on this host kernel).
listing=$(mdir -/ -b -i "$esp" ::/ 2>&1)
missing=""
for f in EFI/BOOT/BOOTX64.EFI loader/loader.conf "loader/entries/onix-$fstx.conf" \
  "onix/$key/vmlinuz" "onix/$key/initrd" EFI/Linux/README.txt; do
  grep -qx "::/$f" <<<"$listing" || missing+=" $f"
done
[[ -z $missing ]] && ok "ESP holds systemd-boot, loader.conf, the entry, the kernel by key and the --esp dir's files" ||
  not_ok "ESP holds systemd-boot, loader.conf, the entry, the kernel by key and the --esp dir's files" "missing:$missing
$listing"
mcopy -n -i "$esp" ::/EFI/BOOT/BOOTX64.EFI "$work/BOOTX64.EFI" 2>/dev/null
check_quiet "EFI/BOOT/BOOTX64.EFI is systemd-boot byte for byte" \
  cmp "$work/BOOTX64.EFI" /usr/lib/systemd/boot/efi/systemd-bootx64.efi
check_quiet "mtype reads loader.conf from the image with the default onix-*" \
  sh -c "mtype -i '$esp' ::/loader/loader.conf | grep -qx 'default onix-\*'"
if out=$(mdir -i "$esp" ::/boot 2>&1); then
  not_ok "the ESP has no nested /boot (the root's /boot is the ESP itself)" "$out"
else
  ok "the ESP has no nested /boot (the root's /boot is the ESP itself)"
fi

# Boot entries, parsed by the real bootctl on a copy of the ESP.
espcopy=$work/esp-copy
mkdir -p "$espcopy"
mcopy -s -n -i "$esp" ::/* "$espcopy/" 2>/dev/null
if [[ $(id -u) == 0 ]] && command -v bootctl >/dev/null && command -v unshare >/dev/null; then
  out=$(unshare -m sh -c "mount --bind '$espcopy' '$espcopy' && SYSTEMD_RELAX_ESP_CHECKS=1 bootctl --esp-path='$espcopy' --no-variables --no-pager list" 2>&1)
  if grep -q "id: onix-$fstx.conf" <<<"$out" && grep -q "title: ONIX (state $fstx) (default)" <<<"$out" &&
    grep -q "options: root=LABEL=onixroot .*moss.fstx=$fstx" <<<"$out" &&
    ! grep -q 'No such file' <<<"$out"; then
    ok "bootctl list sees the entry as default, its kernel and initrd present"
  else
    not_ok "bootctl list sees the entry as default, its kernel and initrd present" "$out"
  fi
else
  skip "bootctl list sees the entry" "needs root, unshare and bootctl (systemd-boot)"
fi

# The root file system, read with debugfs.
rootfs="$img?offset=$((root_start * 512))"
label=$(dumpe2fs -h "$rootfs" 2>/dev/null | awk -F': *' '/^Filesystem volume name/ { print $2 }')
[[ $label == onixroot ]] && ok "the root partition is ext4 labelled onixroot" ||
  not_ok "the root partition is ext4 labelled onixroot" "label: '$label'"
ls_root=$(debugfs -R 'ls -p /' "$rootfs" 2>/dev/null | awk -F/ 'NF > 5 { print $6 }' | sort | tr '\n' ' ')
want_root=".moss bin boot dev etc lib lib64 nix proc root run sbin sys tmp usr var"
for d in $want_root; do
  grep -qw -- "$d" <<<"$ls_root" || { missing_root+=" $d"; }
done
[[ -z ${missing_root:-} ]] && ok "the root fs has /usr, /.moss, /etc, the merged-usr links and mount points" ||
  not_ok "the root fs has /usr, /.moss, /etc, the merged-usr links and mount points" "missing:${missing_root:-} in: $ls_root"
boot_ls=$(debugfs -R 'ls -p /boot' "$rootfs" 2>/dev/null | awk -F/ 'NF > 5 && $6 != "." && $6 != ".." { print $6 }')
boot_mode=$(debugfs -R 'ls -p /' "$rootfs" 2>/dev/null | awk -F/ '$6 == "boot" { print $3 }')
[[ $boot_mode == 040* && -z $boot_ls ]] &&
  ok "/boot on the root fs is an empty mount point (kernels live on the ESP only)" ||
  not_ok "/boot on the root fs is an empty mount point (kernels live on the ESP only)" "mode $boot_mode, holds: $boot_ls"
passwd=$(debugfs -R 'cat /etc/passwd' "$rootfs" 2>/dev/null)
grep -q '^root:x:0:0:' <<<"$passwd" && ok "a missing /etc file is materialised from /usr/share/defaults/etc" ||
  not_ok "a missing /etc file is materialised from /usr/share/defaults/etc" "$passwd"
shadow_mode=$(debugfs -R 'stat /etc/shadow' "$rootfs" 2>/dev/null | sed -n 's/.*Mode: *\([0-7]*\).*/\1/p')
[[ $shadow_mode == 0600 ]] && ok "a materialised /etc/shadow is 0600, whatever the default's mode" ||
  not_ok "a materialised /etc/shadow is 0600, whatever the default's mode" "mode: '$shadow_mode'"
hostname=$(debugfs -R 'cat /etc/hostname' "$rootfs" 2>/dev/null)
[[ $hostname == onix-test ]] && ok "an /etc file the admin changed is kept, not reset to the default" ||
  not_ok "an /etc file the admin changed is kept, not reset to the default" "hostname: $hostname"
nixlabel=$(dumpe2fs -h "$img?offset=$((nix_start * 512))" 2>/dev/null | awk -F': *' '/^Filesystem volume name/ { print $2 }')
[[ $nixlabel == onixnix ]] && ok "the /nix partition is ext4 labelled onixnix (fstab mounts it on /nix)" ||
  not_ok "the /nix partition is ext4 labelled onixnix (fstab mounts it on /nix)" "label: '$nixlabel'"

# A broken root is refused before anything is written.
broken=$work/broken-root
mkdir -p "$broken/usr" "$broken/.moss" "$broken/boot/loader/entries"
printf 'title x\nlinux /onix/none/vmlinuz\n' > "$broken/boot/loader/entries/onix-9-dead.conf"
if out=$(tools/onix-image build --root "$broken" --out "$work/broken.img" 2>&1); then
  not_ok "an entry whose kernel is missing from /boot is refused" "$out"
elif grep -q 'linux /onix/none/vmlinuz is not in' <<<"$out" && [[ ! -e $work/broken.img ]]; then
  ok "an entry whose kernel is missing from /boot is refused, no image written"
else
  not_ok "an entry whose kernel is missing from /boot is refused" "$out"
fi

# --- one real boot: OVMF -> systemd-boot -> kernel -> initrd -> root's init ---------------
code=/usr/share/OVMF/OVMF_CODE.fd vars=/usr/share/OVMF/OVMF_VARS.fd
if ! command -v qemu-system-x86_64 >/dev/null || [[ ! -f $code || ! -f $vars ]]; then
  skip "the image boots under TCG with OVMF to the root's init" "qemu-system-x86 or ovmf missing"
  finish
fi
# boot_image IMG LOG: one TCG boot, firmware to power-off (or 150 s).
boot_image() {
  local t0=$SECONDS rc
  cp "$vars" "$work/vars.fd"
  # TCG only: this host's /dev/kvm cannot run normal guests (docs/images.md).
  timeout 150 qemu-system-x86_64 -accel tcg -cpu max -machine q35 -m 512 -smp 1 \
    -drive if=pflash,format=raw,readonly=on,file="$code" \
    -drive if=pflash,format=raw,file="$work/vars.fd" \
    -drive file="$1",format=raw,if=none,id=sys -device virtio-blk-pci,drive=sys,bootindex=0 \
    -nodefaults -display none -serial file:"$2" -no-reboot >/dev/null 2>&1
  rc=$?
  echo "# boot of $(basename "$1"): qemu exit $rc after $((SECONDS - t0)) s"
}
log=$work/serial.log
boot_image "$img" "$log"
marker=$(tr -d '\r' < "$log" | grep -a '^ONIX-SMOKE:' | head -1)
echo "# $marker"
# pid 1 is the state's busybox init (static musl); zstd is dynamic musl across two stones.
if [[ $marker == "ONIX-SMOKE: init=init id=onix state=$fstx moss=yes root=/dev/vda2 hostname=onix-test zstd=roundtrip" ]]; then
  ok "the moss-installed root's image boots under TCG with OVMF + systemd-boot into its busybox init on state $fstx (pid 1, musl userland)"
else
  not_ok "the moss-installed root's image boots under TCG with OVMF + systemd-boot into its busybox init on state $fstx (pid 1, musl userland)" \
    "$(tr -d '\r' < "$log" | grep -av '^\s*$' | tail -25)"
fi
grep -aq "ONIX-INITRD: root=LABEL=onixroot dev=/dev/vda2 fstx=$fstx" "$log" &&
  ok "the initrd found the root by label and saw moss.fstx=$fstx" ||
  not_ok "the initrd found the root by label and saw moss.fstx=$fstx" "$(tail -5 "$log")"
finish

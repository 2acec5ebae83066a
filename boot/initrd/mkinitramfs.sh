#!/bin/bash
# Builds ONIX's busybox initramfs (gzip'd newc cpio): /init (init.sh), busybox-static with its
# applets, onix-select-fstx, and the kernel modules needed to reach an ext4 root on virtio
# (plus vfat for the ESP), in `modprobe --show-depends` order.
#
#   mkinitramfs.sh --kver KVER --output FILE [--modules-base DIR] [--busybox PATH]
#                  [--select-tool PATH] [--init PATH] [--module NAME]...
#
# --modules-base: the directory holding lib/modules/KVER (/ on the host, ROOT/usr for a state
# tree). --module adds modules to the default set. The output appears whole or not at all
# (built beside it, then renamed).
set -euo pipefail

# modprobe lives in sbin, which non-login and sandboxed PATHs leave out.
export PATH=$PATH:/usr/sbin:/sbin
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kver= output= base=/ busybox=/bin/busybox select_tool= init=$here/init.sh
modules=(virtio_pci virtio_blk virtio_scsi crc32c_generic crc32c-intel ext4 vfat nls_cp437 nls_iso8859-1 efivarfs)
extra=()
die() { echo "mkinitramfs: error: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --kver) kver=$2; shift 2 ;;
    --output) output=$2; shift 2 ;;
    --modules-base) base=$2; shift 2 ;;
    --busybox) busybox=$2; shift 2 ;;
    --select-tool) select_tool=$2; shift 2 ;;
    --init) init=$2; shift 2 ;;
    --module) extra+=("$2"); shift 2 ;;
    *) die "unknown option '$1' (see the header of $0)" ;;
  esac
done
[[ -n $kver ]] || die "--kver is required"
[[ -n $output ]] || die "--output is required"
moddir=${base%/}/lib/modules/$kver
[[ -d $moddir ]] || die "no module tree $moddir for kernel $kver"
[[ -x $busybox ]] || die "busybox $busybox is not executable (Debian: busybox-static)"
if [[ -z $select_tool ]]; then
  for c in "$here/onix-select-fstx" "$here/../../bazel-bin/boot/initrd/onix-select-fstx"; do
    [[ -x $c ]] && select_tool=$c && break
  done
fi
[[ -n $select_tool && -x $select_tool ]] || die "onix-select-fstx not found (--select-tool)"
[[ -f $init ]] || die "init script $init not found"
command -v modprobe >/dev/null || die "modprobe not found (Debian: kmod)"

stage=$(mktemp -d "${TMPDIR:-/tmp}/onix-initramfs.XXXXXX")
tmp_out="$output.tmp.$$"
trap 'rm -rf "$stage"; rm -f "$tmp_out"' EXIT

mkdir -p "$stage"/{bin,dev,proc,sys,run,tmp,newroot,etc,"lib/modules/$kver"}
ln -s bin "$stage/sbin"
cp "$busybox" "$stage/bin/busybox"
for applet in $("$busybox" --list); do
  # A link named "busybox" would make /bin/busybox a self-loop (ELOOP at exec).
  [[ $applet == busybox || -e $stage/bin/$applet ]] && continue
  ln -s busybox "$stage/bin/$applet"
done
cp "$select_tool" "$stage/bin/onix-select-fstx"
install -m 0755 "$init" "$stage/init"

# Module order: each module's dependencies first, each file once.
declare -A seen=()
order=()
found_any=0
for mod in "${modules[@]}" "${extra[@]}"; do
  if ! deps=$(modprobe -d "$base" -S "$kver" --show-depends "$mod" 2>/dev/null); then
    echo "mkinitramfs: note: module $mod not in $moddir (built in or absent), skipped" >&2
    continue
  fi
  while read -r kind path _; do
    [[ $kind == insmod ]] || continue
    rel=${path#*/lib/modules/$kver/}
    [[ -n ${seen[$rel]:-} ]] && continue
    seen[$rel]=1
    order+=("$rel")
    mkdir -p "$stage/lib/modules/$kver/$(dirname "$rel")"
    cp "$moddir/$rel" "$stage/lib/modules/$kver/$rel"
    found_any=1
  done <<<"$deps"
done
[[ $found_any == 1 ]] || echo "mkinitramfs: note: no loadable modules (all built in?)" >&2
printf '%s\n' "${order[@]}" >"$stage/etc/onix-modules"

(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9 >"$tmp_out"
mv -f "$tmp_out" "$output"
echo "mkinitramfs: wrote $output ($(stat -c %s "$output") bytes, ${#order[@]} modules)"

#!/bin/sh
# Builds ONIX's busybox initramfs (gzip newc cpio) from a module tree and a static busybox.
# Used by the linux recipe (usr/lib/kernel/<version>/initrd) and by tests that need one.
#
#   mkinitrd.sh KVER MODBASE BUSYBOX OUT [HOOKDIR]
#     KVER     kernel version, e.g. 6.1.0-56-amd64
#     MODBASE  directory holding lib/modules/KVER (an installed /usr, or /)
#     BUSYBOX  a static busybox binary
#     OUT      the initramfs file to write
#     HOOKDIR  optional: executables copied to /usr/lib/onix/initrd-hooks (boot/'s fstx hook)
#
# The init mounts the root by label and switch_roots into it; see init below. Output is
# reproducible: sorted file list, every mtime = SOURCE_DATE_EPOCH (default 315532800).
set -eu
kver=$1 modbase=$2 busybox=$3 out=$4 hookdir=${5:-}
epoch=${SOURCE_DATE_EPOCH:-315532800}

# What the root needs to be found and mounted: the virtio disk and ext4 (all =m in Debian's
# kernel), in dependency order as modprobe computes it (softdeps such as crc32c included).
modules="virtio_pci virtio_blk crc32c_generic ext4"

if readelf -lW "$busybox" | grep -q INTERP; then
  echo "mkinitrd: $busybox is not static (it has a PT_INTERP)" >&2; exit 1
fi
stage=$(mktemp -d "${TMPDIR:-/tmp}/onix-initrd.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/usr/bin" "$stage/usr/lib/modules" "$stage/usr/lib/onix/initrd-hooks" \
  "$stage/dev" "$stage/proc" "$stage/sys" "$stage/newroot" "$stage/etc"
for l in bin:usr/bin sbin:usr/bin lib:usr/lib; do ln -s "${l#*:}" "$stage/${l%%:*}"; done
cp "$busybox" "$stage/usr/bin/busybox"
for a in $("$busybox" --list); do
  [ "$a" = busybox ] || ln -s busybox "$stage/usr/bin/$a"
done

: > "$stage/etc/onix-modules"
for m in $modules; do
  modprobe -d "$modbase" -S "$kver" --show-depends "$m" | while read -r verb path _; do
    [ "$verb" = insmod ] || continue
    name=$(basename "$path")
    grep -qx "$name" "$stage/etc/onix-modules" && continue
    cp "$path" "$stage/usr/lib/modules/$name"
    echo "$name" >> "$stage/etc/onix-modules"
  done
done
test -s "$stage/etc/onix-modules"

if [ -n "$hookdir" ]; then
  cp "$hookdir"/* "$stage/usr/lib/onix/initrd-hooks/"
fi

cat > "$stage/init" <<'INIT'
#!/bin/sh
# ONIX stage 1. Loads the root's drivers, finds the root by label (no udev: device names
# change when disks are added), mounts it, runs boot/'s hooks (the moss.fstx= state
# activation), and switch_roots. Any failure stops in a shell after a line saying why,
# never in a half-switched root.
export PATH=/usr/bin
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
emergency() { echo "ONIX-INITRD: emergency: $*"; exec sh; }

root=LABEL=onixroot init=/sbin/init fstx= ro=rw
for arg in $(cat /proc/cmdline); do
  case $arg in
    root=*) root=${arg#root=} ;;
    init=*) init=${arg#init=} ;;
    moss.fstx=*) fstx=${arg#moss.fstx=} ;;
    ro) ro=ro ;;
  esac
done
while read -r m; do
  insmod "/usr/lib/modules/$m" || emergency "insmod $m failed"
done < /etc/onix-modules

dev=
for _ in $(seq 1 100); do
  case $root in
    LABEL=*|UUID=*) dev=$(findfs "$root" 2>/dev/null) || dev= ;;
    *) [ -b "$root" ] && dev=$root ;;
  esac
  [ -n "$dev" ] && break
  sleep 0.1
done
[ -n "$dev" ] || emergency "root $root not found after 10 s"
echo "ONIX-INITRD: root=$root dev=$dev fstx=${fstx:-none}"
mount -t ext4 -o "$ro" "$dev" /newroot || emergency "mounting $dev on /newroot failed"
for hook in /usr/lib/onix/initrd-hooks/*; do
  [ -x "$hook" ] || continue
  "$hook" /newroot "$fstx" || emergency "hook $hook failed"
done
[ -e "/newroot$init" ] || [ -L "/newroot$init" ] || emergency "no $init in the root"
umount /proc /sys
[ -d /newroot/dev ] && mount --move /dev /newroot/dev
exec switch_root /newroot "$init"
INIT
chmod 755 "$stage/init"

find "$stage" -exec touch -h -d "@$epoch" {} +
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) \
  | gzip -9 -n > "$out"

#!/bin/sh
# ONIX initramfs /init (busybox sh): load the disk modules, find the root by label, make the
# state named by moss.fstx= the active one (onix-select-fstx: one atomic exchange), switch_root.
# Any failure stops here with an emergency message; /usr is never left half-switched because
# the only change to the root is that single exchange.
export PATH=/bin:/sbin

mount -t devtmpfs devtmpfs /dev 2>/dev/null # CONFIG_DEVTMPFS_MOUNT is off on Debian kernels
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys

say() { echo "ONIX-INITRD: $*"; }
emergency() {
  say "EMERGENCY: $*"
  say "the machine root was not switched (or was switched whole); nothing is half-done."
  # moss.emergency=poweroff (unattended machines, tests): no shell nobody would answer.
  if [ "$emergency_action" != poweroff ]; then
    say "pick another boot entry, or fix it from this shell; 'exit' powers off."
    sh
  fi
  poweroff -f
}

root_spec=LABEL=onixroot rootfstype=ext4 rootflags=rw init=/sbin/init fstx= emergency_action=shell
for word in $(cat /proc/cmdline); do
  case $word in
    root=*) root_spec=${word#root=} ;;
    rootfstype=*) rootfstype=${word#rootfstype=} ;;
    rootflags=*) rootflags=${word#rootflags=} ;;
    init=*) init=${word#init=} ;;
    moss.fstx=*) fstx=${word#moss.fstx=} ;;
    moss.emergency=*) emergency_action=${word#moss.emergency=} ;;
  esac
done
say "cmdline=$(cat /proc/cmdline)"

kver=$(uname -r)
if [ -f /etc/onix-modules ]; then
  while read -r mod; do
    [ -n "$mod" ] && insmod "/lib/modules/$kver/$mod" 2>/dev/null
  done </etc/onix-modules
fi

# No udev: poll findfs (device names change with the disk order, labels do not).
dev=
tries=0
while [ $tries -lt 300 ]; do
  case $root_spec in
    LABEL=* | UUID=*) dev=$(findfs "$root_spec" 2>/dev/null) ;;
    *) [ -b "$root_spec" ] && dev=$root_spec ;;
  esac
  [ -n "$dev" ] && break
  sleep 0.1 2>/dev/null || sleep 1
  tries=$((tries + 1))
done
[ -n "$dev" ] || emergency "root $root_spec not found after 30 s"
say "fstx=$fstx rootspec=$root_spec rootdev=$dev"

mkdir -p /newroot
mount -t "$rootfstype" -o "$rootflags" "$dev" /newroot || emergency "mounting $dev on /newroot failed"

# A moss transaction a power cut interrupted is finished or undone by the root's own moss
# before the selection, as the linux stone's initrd hook does (initrd-hook.sh says why).
rt=/newroot/usr/lib/onix/runtime
if [ -e /newroot/.moss/journal ] && [ -x "$rt/ld-linux-x86-64.so.2" ]; then
  say "/newroot/.moss/journal: finishing an interrupted moss transaction"
  "$rt/ld-linux-x86-64.so.2" --library-path "$rt" /newroot/usr/bin/moss --root /newroot \
    state recover --no-boot-sync 2>&1 | sed 's/^/ONIX-INITRD: moss: /'
fi

if [ -n "$fstx" ]; then
  onix-select-fstx --root /newroot "$fstx" || {
    umount /newroot
    emergency "cannot boot state $fstx (see the error above)"
  }
fi
say "active=$(cat /newroot/usr/.fstx 2>/dev/null)"

umount /proc /sys 2>/dev/null
mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot "$init"

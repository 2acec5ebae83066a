#!/bin/sh
# initrd hook /usr/lib/onix/initrd-hooks/50-onix-select-fstx, run by the linux stone's /init
# as `HOOK NEWROOT FSTX` once the root is mounted read-write and before switch_root. It makes
# the state the boot menu entry named (moss.fstx=) the active one with onix-select-fstx: one
# renameat2(RENAME_EXCHANGE) of /usr, no triggers, checked before anything moves, so a failure
# leaves /usr exactly as it was and /init stops with the message below.
root=$1 fstx=$2

# A transaction cut by a power loss first: between its exchange of /usr and the archiving of
# the previous tree, the state the entry names sits in .moss/root/staging/usr, where
# onix-select-fstx does not look, and /usr holds a tree the journal has not finished. The
# root's own moss finishes or undoes it, so the selection below sees only whole states. It
# runs through its private runtime's loader rather than chrooted: the system triggers it may
# rerun need a user namespace, which the kernel refuses to a chrooted process. The ESP is not
# mounted here, so the boot entries stay as the firmware saw them (--no-boot-sync); the
# booted system's next moss command syncs them.
rt=$root/usr/lib/onix/runtime
if [ -e "$root/.moss/journal" ] && [ -x "$rt/ld-linux-x86-64.so.2" ]; then
  echo "ONIX-INITRD: $root/.moss/journal: finishing an interrupted moss transaction"
  out=$("$rt/ld-linux-x86-64.so.2" --library-path "$rt" "$root/usr/bin/moss" --root "$root" \
    state recover --no-boot-sync 2>&1)
  rc=$?
  printf '%s\n' "$out" | sed 's/^/ONIX-INITRD: moss: /'
  # A recovery that failed changed nothing it could not undo; the selection below then
  # refuses what it cannot find and rc.d/20-moss-recover reports the same at boot.
  [ $rc = 0 ] || echo "ONIX-INITRD: moss state recover failed ($rc)"
fi

if [ -z "$fstx" ]; then
  echo "ONIX-INITRD: no moss.fstx= on the command line, booting the active state"
  exit 0
fi
if ! /usr/bin/onix-select-fstx --root "$root" "$fstx"; then
  echo "ONIX-INITRD: cannot activate state $fstx; /usr was not switched" \
    "(it still holds state $(head -n 1 "$root/usr/.fstx" 2>/dev/null || echo unknown))"
  exit 1
fi
echo "ONIX-INITRD: active state $(head -n 1 "$root/usr/.fstx")"

#!/bin/sh
# initrd hook /usr/lib/onix/initrd-hooks/50-onix-select-fstx, run by the linux stone's /init
# as `HOOK NEWROOT FSTX` once the root is mounted read-write and before switch_root. It makes
# the state the boot menu entry named (moss.fstx=) the active one with onix-select-fstx: one
# renameat2(RENAME_EXCHANGE) of /usr, no triggers, checked before anything moves, so a failure
# leaves /usr exactly as it was and /init stops with the message below.
root=$1 fstx=$2
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

#!/bin/sh
# pre-pivot hook: make the state named by moss.fstx= the active one under $NEWROOT. The root
# must be mounted read-write (rw on the command line): the exchange is a rename on it.
type getarg >/dev/null 2>&1 || . /lib/dracut-lib.sh
fstx=$(getarg moss.fstx=)
if [ -n "$fstx" ]; then
  onix-select-fstx --root "$NEWROOT" "$fstx" ||
    die "ONIX: cannot boot state $fstx; /usr was not switched (see the error above)"
fi

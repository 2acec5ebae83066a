#!/bin/bash
# dracut module "onix": runs onix-select-fstx in pre-pivot so the state named by moss.fstx= is
# the active one before switch_root (the busybox initramfs of boot/initrd does the same in its
# /init). Install: copy this directory to /usr/lib/dracut/modules.d/90onix and the static tool
# to /usr/bin/onix-select-fstx. NOT tested in this repository: Debian's image has no dracut.

check() {
  require_binaries onix-select-fstx || return 1
  return 0
}

depends() {
  return 0
}

install() {
  inst_simple "$(command -v onix-select-fstx)" /usr/bin/onix-select-fstx
  inst_hook pre-pivot 50 "$moddir/onix-select-fstx.sh"
}

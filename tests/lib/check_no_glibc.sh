#!/usr/bin/env bash
# Asserts that a machine root is glibc-free: no ELF file under ROOT has a glibc program
# interpreter (PT_INTERP /lib64/ld-linux-x86-64.so.2 or any ld-linux*) or needs libc.so.6
# or the glibc loader (DT_NEEDED), except below ROOT/ALLOW_PREFIX, where ONIX keeps the
# private glibc runtime of its own C++ binaries (usr/lib/onix/runtime).
#
#   tests/lib/check_no_glibc.sh ROOT [ALLOW_PREFIX]
#
# A program whose interpreter itself lives below ALLOW_PREFIX (ONIX's own tools, patched to
# load the private runtime) is allowed too. ROOT/.moss is not scanned: its store objects and
# archived states are the same files as the states' trees, and only the active /usr is the
# machine.
#
# Documented exceptions (always allowed, whatever ALLOW_PREFIX says): stones that borrow a
# glibc program from the quarry host and keep its whole runtime under a private prefix, each
# program's interpreter and RPATH patched into that prefix.
#   usr/lib/onix/nix   the nix stone: Debian's nix-bin and its glibc closure (stones/nix)
#   usr/lib/onix/mesa-bridge   the mesa-bridge stone: Debian's glibc Mesa drivers for Nix apps
#                      (no program, no libc: they load into a Nix app, whose glibc they use;
#                      docs/graphics-bridge.md)
#
# Prints one line per offending file ("glibc: PATH: why") and a summary; exits 1 when any
# file offends, 2 on bad usage. Symlinks are not followed (their targets are checked where
# they live), so a link into the allowed prefix does not hide anything.
set -uo pipefail

root=${1:-}
allow=${2:-}
if [[ -z $root || ! -d $root || $# -gt 2 ]]; then
  echo "usage: check_no_glibc.sh ROOT [ALLOW_PREFIX]" >&2
  exit 2
fi
command -v readelf >/dev/null || { echo "check_no_glibc: readelf missing (binutils)" >&2; exit 2; }
root=${root%/}
allow=${allow#/}; allow=${allow%/}

checked=0 bad=0 allowed=0
exceptions=(usr/lib/onix/nix usr/lib/onix/mesa-bridge)
while IFS= read -r -d '' f; do
  # ELF magic first: readelf on every file would be slow and noisy.
  [[ $(head -c 4 "$f" 2>/dev/null | od -An -c | tr -d ' ') == 177ELF ]] || continue
  rel=${f#"$root"/}
  if [[ -n $allow && ( $rel == "$allow" || $rel == "$allow"/* ) ]]; then
    allowed=$((allowed + 1))
    continue
  fi
  excepted=
  for e in "${exceptions[@]}"; do
    [[ $rel == "$e"/* ]] && excepted=1
  done
  if [[ -n $excepted ]]; then
    allowed=$((allowed + 1))
    continue
  fi
  checked=$((checked + 1))
  why=()
  interp=$(readelf -lW "$f" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
  if [[ -n $allow && $interp == /"$allow"/* ]]; then
    allowed=$((allowed + 1))
    checked=$((checked - 1))
    continue
  fi
  case $interp in
    */ld-linux*) why+=("PT_INTERP $interp") ;;
  esac
  while read -r lib; do
    case $lib in
      libc.so.6|ld-linux*.so.*) why+=("NEEDED $lib") ;;
    esac
  done < <(readelf -dW "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  if ((${#why[@]})); then
    echo "glibc: /$rel: ${why[*]}"
    bad=$((bad + 1))
  fi
done < <(find "$root" -xdev -path "$root/.moss" -prune -o -type f -print0)

echo "check_no_glibc: $checked ELF files checked, $bad use glibc, $allowed allowed below /${allow:+$allow and /}${exceptions[*]}"
((bad == 0))

#!/bin/sh
# The generated man pages render without groff warnings and name every command.
set -u
fail=0
check() { if "$@"; then :; else echo "FAIL: $*"; fail=1; fi; }
for page in "$@"; do
  out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
  check test -z "$out" || echo "$page: $out"
  text=$(MANWIDTH=80 man -l "$page" 2>/dev/null)
  check grep -q '^NAME' <<EOF2
$text
EOF2
  case $page in
    *onix.1) for c in status rollback update history diff gc doctor etc; do
        printf '%s\n' "$text" | grep -q "^       $c" || { echo "FAIL: onix.1 lacks $c"; fail=1; }
      done ;;
    *moss.1) for c in install remove state boot index repo sync inspect extract; do
        printf '%s\n' "$text" | grep -q "^       $c" || { echo "FAIL: moss.1 lacks $c"; fail=1; }
      done
      # Every command's section carries its examples.
      n=$(printf '%s\n' "$text" | grep -c 'Examples:')
      [ "$n" -ge 16 ] || { echo "FAIL: moss.1 has examples for $n commands, want 16"; fail=1; } ;;
    *boulder.1) for c in build chroot fetch new; do
        printf '%s\n' "$text" | grep -q "boulder $c" || { echo "FAIL: boulder.1 lacks $c"; fail=1; }
      done ;;
  esac
done
exit $fail

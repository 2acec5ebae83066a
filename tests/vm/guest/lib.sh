# Shared guest side of the VM scenarios: vm_agent_disk puts this file next to every run.sh
# as lib.sh. A run.sh sets S (its scenario name) and sources it:
#   S=my-scenario; . "${ONIX_TEST_DIR:-/run/onix-test}/lib.sh"
# Then: STATE (a per-scenario directory on the guest's root fs, kept across reboots),
# mark STEP PASS|FAIL DETAIL (one ONIX-TEST marker line), step NAME CMD... (runs CMD, shows
# the tail of its output, marks NAME PASS or FAIL and counts failures), end_boot poweroff|reboot.
T=${ONIX_TEST_DIR:-/run/onix-test}
STATE=/var/lib/onix-test/$S
mkdir -p "$STATE"
export HOME=/root PATH=/usr/bin:/usr/sbin
failed=0
mark() { echo "ONIX-TEST $S $1 $2 ${3:-}"; }
step() {
  _name=$1; shift
  _out=$("$@" 2>&1); _rc=$?
  printf '%s\n' "$_out" | sed "s/^/[$_name] /" | tail -n 15
  if [ $_rc = 0 ]; then mark "$_name" PASS "$(printf '%s' "$_out" | tail -n 1 | cut -c1-160)"
  else failed=$((failed + 1)); mark "$_name" FAIL "rc=$_rc $(printf '%s' "$_out" | tail -n 3 | tr '\n' ' ' | cut -c1-300)"; fi
}
end_boot() {
  mark boot-end "$([ $failed = 0 ] && echo PASS || echo FAIL)" "$failed failed steps"
  sync; /usr/lib/onix/rc.shutdown; "$1" -f
}

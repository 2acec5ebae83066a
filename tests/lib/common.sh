# The one helper library of the shell suites (tests/suites/*.sh, tests/vm/run.sh): TAP lines
# and the final count that tools/test reads. Source it, then:
#
#   check NAME CMD...     runs CMD; "ok N - NAME" when it exits 0, "not ok N - NAME" otherwise
#   check_quiet NAME CMD... the same with CMD's output hidden, its last 25 lines shown on failure
#   ok NAME               one result decided by the suite itself
#   not_ok NAME [DETAIL]  one failure; DETAIL's last 25 lines follow as "#   " lines
#   skip NAME REASON      "ok N - NAME # SKIP REASON", counted as skipped, never as passed.
#                         Under CI=true it is a failure: everything a suite needs is installed
#                         by tools/setup, so a CI skip means setup or the suite is broken.
#   skip_host NAME REASON a skip for something tools/setup cannot provide (a usable /dev/kvm
#                         on a nested host): counted as skipped and listed, also under CI.
#   note TEXT...          "# TEXT" lines (the last 20), for context under a failure
#   finish                prints "N passed, N failed, N skipped" and exits 1 when anything
#                         failed, or when nothing was checked at all (a suite that checked
#                         nothing proved nothing).
#
# tools/test reads the last "N passed, N failed, N skipped" line and lists every "# SKIP" line.

_t_n=0 _t_pass=0 _t_fail=0 _t_skip=0

ok() { _t_n=$((_t_n + 1)) _t_pass=$((_t_pass + 1)); echo "ok $_t_n - $1"; }
not_ok() {
  _t_n=$((_t_n + 1)) _t_fail=$((_t_fail + 1)); echo "not ok $_t_n - $1"
  [[ -n ${2:-} ]] && sed 's/^/#   /' <<<"$2" | tail -25
  return 0
}

check() { # NAME CMD...
  local name=$1; shift
  if "$@"; then ok "$name"; else not_ok "$name"; fi
}

check_quiet() { # NAME CMD...
  local name=$1 out; shift
  if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "$out"; fi
}

skip() { # NAME REASON
  if [[ ${CI:-} == true ]]; then
    not_ok "$1 (not run, and under CI=true that fails: tools/setup provides what it needs: $2)"
  else
    _t_n=$((_t_n + 1)) _t_skip=$((_t_skip + 1)); echo "ok $_t_n - $1 # SKIP $2"
  fi
}

skip_host() { # NAME REASON
  _t_n=$((_t_n + 1)) _t_skip=$((_t_skip + 1)); echo "ok $_t_n - $1 # SKIP (host) $2"
}

note() { printf '%s\n' "$@" | sed 's/^/# /' | tail -20; }

finish() {
  if ((_t_n == 0)); then
    not_ok "the suite checked something (it ended before its first check)"
  fi
  echo "$_t_pass passed, $_t_fail failed, $_t_skip skipped"
  exit $((_t_fail > 0))
}

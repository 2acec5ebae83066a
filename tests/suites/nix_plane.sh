#!/usr/bin/env bash
# Nix plane end to end with a REAL nix-daemon, never touching the machine's /, /etc or /nix:
# the namespace part runs in `unshare --mount --propagation private` inside a throwaway
# overlay of / (upper layer on a tmpfs), with a scratch directory bind-mounted at /nix. There
# `onix-nix-integration seed --root /` seeds the overlay, the seeded busybox-init script starts
# the daemon (recording its pid; only that pid is stopped), `nix profile install
# nixpkgs#ripgrep` resolves offline to a local path flake, and a fresh login shell finds `rg`,
# for root and for an ordinary user who reaches the store only through the daemon.
# Prints TAP lines and ends with "N passed, N failed, N skipped" (tests/lib/common.sh).
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)

if [[ ${1:-} == --inner ]]; then
  # ---- inside the private mount namespace -------------------------------------------------
  S=$2
  BIN=$3
  results=$S/results
  t() {  # t "description" command...
    if "${@:2}" >>"$S/log" 2>&1; then echo "ok - $1" >>"$results"; else echo "not ok - $1" >>"$results"; fi
  }
  M=$S/ovl/m
  mount -t tmpfs onix-nix-plane "$S/ovl"
  mkdir -p "$S/ovl/up" "$S/ovl/work" "$M"
  mount -t overlay overlay -o "lowerdir=/,upperdir=$S/ovl/up,workdir=$S/ovl/work" "$M"
  mkdir -p "$M/nix" "$M/run" "$M/tmp"
  mount -t proc proc "$M/proc"
  # rc.d 30-nix before /nix is mounted: it must refuse rather than seed the root file system.
  cp "$repo/nix-integration/data/rc.d-30-nix" "$M/onix-test-30-nix"
  refuses_unmounted() {
    local out rc
    out=$(chroot "$M" /bin/sh /onix-test-30-nix 2>&1)
    rc=$?
    echo "$out"
    # What it wrote would be in the overlay's upper layer.
    [[ $rc == 1 && $out == *"/nix is not a mount point"* && ! -e $S/ovl/up/etc/nix && ! -e $S/ovl/up/nix/var ]]
  }
  t "rc.d 30-nix refuses (exit 1, says why) when /nix is not mounted, and seeds nothing" refuses_unmounted
  mount --bind "$S/nix" "$M/nix"
  mount --rbind /dev "$M/dev"
  mount --rbind /sys "$M/sys"
  mount -t tmpfs run "$M/run"
  mount -t tmpfs tmp "$M/tmp"
  mkdir -p "$M/opt/onix/bin"
  cp "$BIN" "$M/opt/onix/bin/onix-nix-integration"
  cp -r "$repo/nix-integration/data" "$M/opt/onix/data"
  in_root() { chroot "$M" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/home/tester "$@"; }
  # Stops only the daemon this suite started, by its recorded pid (the init script may be
  # gone after unseed).
  stop_daemon() {
    local pid
    pid=$(cat "$M/run/nix-daemon.pid" 2>/dev/null) || return 0
    [[ -n $pid ]] || return 0
    kill "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    rm -f "$M/run/nix-daemon.pid"
  }
  trap stop_daemon EXIT
  mkdir -p "$M/home/tester"

  # The offline "nixpkgs": a path flake with no inputs; ripgrep is a builtins.derivation run
  # by a static busybox kept inside a directory (so argv[0] ends in "busybox").
  mkdir -p "$M/srv/onix/nixpkgs/tools"
  cp /usr/bin/busybox "$M/srv/onix/nixpkgs/tools/busybox"
  cp "$S/rg" "$M/srv/onix/nixpkgs/tools/rg"
  cat >"$M/srv/onix/nixpkgs/flake.nix" <<'EOF'
{ outputs = { self }: let
    system = "x86_64-linux";
    bb = "${self}/tools/busybox";
    mk = name: script: builtins.derivation {
      inherit name system; builder = bb; args = [ "sh" "-ec" script ]; };
  in { packages.${system} = {
      ripgrep = mk "ripgrep-13.0.0" ''
        ${bb} mkdir -p $out/bin; ${bb} cp ${self}/tools/rg $out/bin/rg; ${bb} chmod 555 $out/bin/rg'';
      default = self.packages.${system}.ripgrep; }; }; }
EOF
  # The stone's data, with the system registry declaring the local nixpkgs pin.
  in_root /opt/onix/bin/onix-nix-integration install-data --root / --data /opt/onix/data >>"$S/log" 2>&1
  printf '%s\n' '{"flakes":[{"from":{"id":"nixpkgs","type":"indirect"},"to":{"path":"/srv/onix/nixpkgs","type":"path"}}],"version":2}' \
    >"$M/usr/share/defaults/nix/registry.json"

  t "seed --root / in the overlay succeeds" in_root /opt/onix/bin/onix-nix-integration seed --root /
  t "seeded nixbld users resolve through NSS" in_root sh -c 'getent passwd nixbld32 | grep -q ":30032:30000:" && getent group nixbld | grep -q ":30000:"'
  t "daemon health before start is 'socket missing'" \
    sh -c "chroot '$M' /opt/onix/bin/onix-nix-integration status --root / | grep -qx 'nix daemon:  socket missing'"
  t "seeded init script starts nix-daemon" in_root NIX_DAEMON_PIDFILE=/run/nix-daemon.pid NIX_DAEMON_LOG=/run/nix-daemon.log /etc/init.d/nix-daemon start
  # The socket file exists from bind(), a moment before listen(): allow the daemon 2 s.
  healthy() {
    for _ in $(seq 40); do
      chroot "$M" /opt/onix/bin/onix-nix-integration status --root / | grep -qx 'nix daemon:  healthy' && return 0
      sleep 0.05
    done
    return 1
  }
  t "C++ handshake says healthy" healthy
  t "nix profile install nixpkgs#ripgrep works offline" \
    in_root sh -c '. /etc/profile.d/nix.sh && timeout 120 nix profile install nixpkgs#ripgrep'
  t "a fresh login shell has rg on PATH from the seeded hook" \
    in_root TERM=dumb bash -l -c 'command -v rg | grep -q "^/home/tester/.nix-profile/bin/rg$" && rg --version | grep -q "ripgrep 13.0.0"'
  t "sourcing the hook twice adds PATH entries once" \
    in_root sh -c '. /etc/profile.d/nix.sh; . /etc/profile.d/nix.sh; [ "$(echo "$PATH" | tr : "\n" | grep -c nix-profile)" = 1 ]'
  # An ordinary user, in no nixbld or trusted group, goes through the daemon: it cannot write
  # /nix/store itself, so a successful install proves the daemon built and registered it.
  t "an ordinary user (uid 1500, not in nixbld) is added to the overlay" \
    in_root useradd --create-home --home-dir /home/alice --uid 1500 --user-group --shell /bin/bash alice
  as_alice() { chroot --userspec=alice:alice "$M" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/home/alice USER=alice LOGNAME=alice "$@"; }
  t "the ordinary user is not a build user" sh -c "! chroot '$M' id -nG alice | grep -qw nixbld"
  t "the ordinary user's nix store ping answers through the daemon" \
    as_alice sh -c '. /etc/profile.d/nix.sh && [ "$NIX_REMOTE" = daemon ] && [ "$(id -u)" = 1500 ] && nix store ping 2>&1 | grep -q "Store URL: daemon"'
  t "the ordinary user installs nixpkgs#ripgrep into their own profile" \
    as_alice sh -c '. /etc/profile.d/nix.sh && timeout 120 nix profile install nixpkgs#ripgrep && nix profile list | grep -q ripgrep'
  alice_profile() {
    local d=$M/nix/var/nix/profiles/per-user/alice
    [[ $(stat -c %u "$d") == 1500 ]] || { echo "per-user dir not alice's"; return 1; }
    chroot "$M" test -L /nix/var/nix/profiles/per-user/alice/profile || { echo "no alice profile"; return 1; }
    [[ $(stat -c %u "$M/nix/store") == 0 ]] || { echo "store not root's"; return 1; }
  }
  t "the daemon made the user's profile under per-user/alice, owned by alice" alice_profile
  t "a fresh login shell of the ordinary user has rg from their own profile" \
    as_alice TERM=dumb bash -l -c 'command -v rg | grep -q "^/home/alice/.nix-profile/bin/rg$" && rg --version | grep -q "ripgrep 13.0.0"'
  t "stopping the daemon: handshake says 'not running'" sh -c "
    chroot '$M' /usr/bin/env -i PATH=/usr/bin:/bin NIX_DAEMON_PIDFILE=/run/nix-daemon.pid /etc/init.d/nix-daemon stop &&
    chroot '$M' /opt/onix/bin/onix-nix-integration status --root / | grep -qx 'nix daemon:  not running'"
  t "daemon restarts (the 'reboot' of this tier)" in_root NIX_DAEMON_PIDFILE=/run/nix-daemon.pid NIX_DAEMON_LOG=/run/nix-daemon.log /etc/init.d/nix-daemon start
  t "after the restart rg is still on PATH in a fresh login shell" \
    in_root TERM=dumb bash -l -c 'rg --version | grep -q "ripgrep 13.0.0" && nix profile list | grep -q ripgrep'
  t "re-seeding the live root changes nothing" \
    sh -c "chroot '$M' /opt/onix/bin/onix-nix-integration seed --root / | grep -qx '0 changed, 0 drift'"
  unseed_keeps_nix() {
    chroot "$M" /opt/onix/bin/onix-nix-integration unseed --root / || return 1
    ! chroot "$M" getent passwd nixbld1 || { echo "nixbld1 still present"; return 1; }
    [[ ! -e $M/etc/nix/nix.conf && ! -e $M/etc/profile.d/nix.sh ]] || { echo "files left"; return 1; }
    ls "$M/nix/store" | grep -q 'ripgrep-13.0.0$' || { echo "store path gone"; return 1; }
    [[ -d $M/nix/var/nix/profiles/per-user ]] || { echo "profiles gone"; return 1; }
    # The profile link resolves inside the chroot, so ask there.
    chroot "$M" test -x /home/tester/.nix-profile/bin/rg || { echo "profile rg gone"; return 1; }
  }
  t "unseed removes users and hooks and leaves /nix (store, profiles) alone" unseed_keeps_nix
  stop_daemon
  echo "end" >>"$results"
  exit 0
fi

# ---- outside: build, temp-root checks, then the namespace part ------------------------------
cd "$repo"
source tests/lib/common.sh
report() {  # report "ok"|"not ok" description
  if [[ $1 == ok ]]; then ok "$2"; else not_ok "$2"; fi
}
t() { if "${@:2}" >/dev/null 2>&1; then report ok "$1"; else report "not ok" "$1"; fi; }

if ! bazel build //nix-integration:onix-nix-integration >/dev/null 2>&1; then
  report "not ok" "bazel build //nix-integration:onix-nix-integration"
  finish
fi
S=$(mktemp -d /tmp/onix-nix-plane.XXXXXX)
trap 'rm -rf "$S"' EXIT
# A private copy: the shared bazel-bin may be rebuilt by someone else while this runs.
cp "$repo/bazel-bin/nix-integration/onix-nix-integration" "$S/onix-nix-integration"
BIN=$S/onix-nix-integration

snapshot() { (cd "$1" && find . -path ./usr -prune -o -printf '%p %m %l\n' | sort && find . -path ./usr -prune -o -type f -print0 | sort -z | xargs -0 sha256sum); }

R=$S/root
mkdir -p "$R/etc"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\n' >"$R/etc/group"
before=$(snapshot "$R")
"$BIN" install-data --root "$R" --data nix-integration/data
t "seed a temp root" "$BIN" seed --root "$R"
first=$(snapshot "$R")
t "second seed reports 0 changed, 0 drift" sh -c "'$BIN' seed --root '$R' | grep -qx '0 changed, 0 drift'"
t "second seed changed nothing byte-for-byte" test "$first" == "$(snapshot "$R")"
echo 'max-jobs = 4' >>"$R/etc/nix/nix.conf"
t "edited nix.conf: status shows 1 local override" sh -c "'$BIN' status --root '$R' | grep -qx 'etc drift:   1 local override'"
t "edited nix.conf is kept by a re-seed" sh -c "'$BIN' seed --root '$R' >/dev/null && tail -1 '$R/etc/nix/nix.conf' | grep -qx 'max-jobs = 4'"
sed -i '$d' "$R/etc/nix/nix.conf"
t "unseed removes exactly what seed created (outside /nix)" sh -c "
  '$BIN' unseed --root '$R' >/dev/null && rm -rf '$R/nix' && [ \"\$(cd '$R' && find . -path ./usr -prune -o -printf '%p %m %l\n' | sort && find . -path ./usr -prune -o -type f -print0 | sort -z | xargs -0 sha256sum)\" = '$before' ]"
R2=$S/taken
mkdir -p "$R2/etc"
printf 'root:x:0:0::/root:/bin/sh\nbob:x:30001:100::/home/bob:/bin/sh\n' >"$R2/etc/passwd"
"$BIN" install-data --root "$R2" --data nix-integration/data
refused() {
  local out rc
  out=$("$BIN" seed --root "$R2" 2>&1)
  rc=$?
  [[ $rc == 1 && $out == *"id 30001 is taken by user 'bob'"* ]]
}
t "uid taken by another name is refused with exit 1 and a clear message" refused
t "refused seed wrote no /etc/nix" test ! -e "$R2/etc/nix"
# A pre-existing seeded file with the declared bytes but a wrong mode and owner is corrected.
R3=$S/modes
mkdir -p "$R3/etc/init.d" "$R3/etc/nix"
printf 'root:x:0:0::/root:/bin/sh\n' >"$R3/etc/passwd"
"$BIN" install-data --root "$R3" --data nix-integration/data
install -m 0600 nix-integration/data/nix-daemon.init "$R3/etc/init.d/nix-daemon"
install -m 0666 -o 1000 -g 1000 nix-integration/data/nix.conf "$R3/etc/nix/nix.conf"
modes_fixed() {
  local out
  out=$("$BIN" seed --root "$R3") || return 1
  grep -qx 'seeded /etc/init.d/nix-daemon (mode 0600 -> 0755)' <<<"$out" &&
    grep -qx 'seeded /etc/nix/nix.conf (mode 0666 -> 0644)' <<<"$out" &&
    grep -qx 'seeded /etc/nix/nix.conf (owner 1000:1000 -> 0:0)' <<<"$out" &&
    [[ $(stat -c '%a %u' "$R3/etc/init.d/nix-daemon") == '755 0' && $(stat -c '%a %u:%g' "$R3/etc/nix/nix.conf") == '644 0:0' ]]
}
t "pre-existing seeded files get the declared mode and root owner, reported" modes_fixed

python3 - "$S/silent.sock" >/dev/null 2>&1 <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4)
c, _ = s.accept(); time.sleep(30)
EOF
listener=$!
for _ in $(seq 50); do [[ -S $S/silent.sock ]] && break; sleep 0.05; done
t "a listener that never answers is 'not responding (timeout)'" sh -c "
  '$BIN' status --root '$R' --socket '$S/silent.sock' --timeout-ms 300 | grep -qx 'nix daemon:  not responding (timeout)'"
kill "$listener" 2>/dev/null; wait "$listener" 2>/dev/null

# The bridge through the CLI: `sync` at "boot", a rollback (swapped /usr trees), `sync` again.
B=$S/bridge
for st in usr:7-bbbb:24.2 usr-prev:6-aaaa:24.1; do
  IFS=: read -r dir fstx ver <<<"$st"
  mkdir -p "$B/$dir/lib/onix/mesa-bridge/lib/dri" "$B/$dir/lib/onix/mesa-bridge/share/vulkan/icd.d"
  printf '%s\ntoken\n' "$fstx" >"$B/$dir/.fstx"
  echo "gallium $ver" >"$B/$dir/lib/onix/mesa-bridge/lib/libgallium-$ver.so"
  echo dri >"$B/$dir/lib/onix/mesa-bridge/lib/dri/swrast_dri.so"
  echo '{"ICD":{"library_path":"/usr/lib/onix/mesa-bridge/lib/libgallium-'"$ver"'.so"}}' \
    >"$B/$dir/lib/onix/mesa-bridge/share/vulkan/icd.d/lvp.json"
done
mkdir -p "$B/etc" "$B/run" "$S/stone"
# Both states carry the onix-nix-integration stone.
"$BIN" install-data --root "$S/stone" --data nix-integration/data
cp -r "$S/stone/usr/." "$B/usr/"
cp -r "$S/stone/usr/." "$B/usr-prev/"
t "sync seeds and builds the bridge: opengl coherent" sh -c "
  '$BIN' sync --root '$B' >/dev/null && '$BIN' status --root '$B' | grep -qx 'opengl:      coherent'"
mv "$B/usr" "$B/usr-next" && mv "$B/usr-prev" "$B/usr"
t "after a rollback the bridge is 'stale (points to fstx 7-bbbb)'" sh -c "
  '$BIN' status --root '$B' | grep -qx 'opengl:      stale (points to fstx 7-bbbb)'"
t "sync re-points the bridge at the rolled-back state" sh -c "
  '$BIN' sync --root '$B' >/dev/null && '$BIN' status --root '$B' | grep -qx 'opengl:      coherent' &&
  grep -q 'gallium 24.1' '$B/run/opengl-driver/lib/libgallium-24.1.so' &&
  grep -q '\"$B/run/opengl-driver/lib/libgallium-24.1.so\"' '$B/run/opengl-driver/share/vulkan/icd.d/lvp.json'"
rm "$B/usr/lib/onix/mesa-bridge/lib/dri/swrast_dri.so"
t "a broken link is reported" sh -c "'$BIN' status --root '$B' | grep -qx 'opengl:      broken: 1 links'"

# The stones of the Nix plane (stones/nix, stones/onix-nix-integration), by the quarry's hand
# build: the seam stone ships exactly what install-data installs (paths, bytes, modes), and
# the borrowed nix runs from its private prefix in a root holding no other glibc.
t "the onix-nix-integration recipe's copy of nix-integration/data is current" \
  env ONIX_NIX_INTEGRATION="$BIN" nix-integration/stone_inline.sh --check
tree_list() { (cd "$1" && find usr -printf '%y %m %p\n' | LC_ALL=C sort && find usr -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
same_as_install_data() {
  tools/quarry prove onix-nix-integration || return 1
  mkdir -p "$S/seamdata" && "$BIN" install-data --root "$S/seamdata" --data nix-integration/data || return 1
  diff <(tree_list "$S/seamdata" | grep -v '^d ') <(tree_list build/quarry/prove/onix-nix-integration/install | grep -v '^d ')
}
t "the onix-nix-integration stone's tree is install-data's, byte for byte and mode for mode" same_as_install_data
NR=$S/nixroot
nix_root() {
  tools/quarry prove nix || return 1
  mkdir -p "$NR" && cp -a build/quarry/prove/nix/install/. "$NR/" &&
    mkdir -p "$NR"/{etc/nix,proc,dev,tmp,root} &&
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$NR/etc/passwd" && printf 'root:x:0:\n' >"$NR/etc/group" &&
    printf 'build-users-group =\nexperimental-features = nix-command\n' >"$NR/etc/nix/nix.conf"
}
t "the nix stone's tree is proven" nix_root
t "check_no_glibc accepts the nix stone's tree through its documented exception" \
  sh -c "tests/lib/check_no_glibc.sh '$NR' | grep -q ' 0 use glibc, [1-9][0-9]* allowed below /usr/lib/onix/nix'"
t "the repacked nix runs from its private runtime alone (chroot, no host glibc)" \
  sh -c "chroot '$NR' /usr/bin/nix --version | grep -qx 'nix (Nix) 2.8.0' && chroot '$NR' /usr/bin/nix-daemon --version | grep -q 2.8.0"
t "the repacked nix-store adds and verifies a path in that root's own store" \
  unshare --mount sh -c "mount -t proc proc '$NR/proc' && touch '$NR/dev/null' && mount --bind /dev/null '$NR/dev/null' &&
    p=\$(chroot '$NR' /usr/bin/nix-store --add /etc/passwd) && test -f '$NR'\$p &&
    chroot '$NR' /usr/bin/nix-store --verify --check-contents &&
    chroot '$NR' /usr/bin/nix-store -q --hash \$p"
cp "$NR/usr/lib/onix/nix/lib/libc.so.6" "$NR/usr/lib/libc.so.6"
t "a glibc library outside the exception is still reported" \
  sh -c "out=\$(tests/lib/check_no_glibc.sh '$NR'); [ \$? = 1 ] && echo \"\$out\" | grep -q '^glibc: /usr/lib/libc.so.6: '"

# The namespace part.
mkdir -p "$S/nix" "$S/ovl"
printf '#include <stdio.h>\nint main(int c, char **v) { puts("ripgrep 13.0.0 (onix test stub)"); return 0; }\n' >"$S/rg.c"
gcc -static -O1 -o "$S/rg" "$S/rg.c"
: >"$S/results"
unshare --mount --propagation private bash "$0" --inner "$S" "$BIN"
while read -r status desc; do
  case $status in
    ok) report ok "${desc#- }" ;;
    not) report "not ok" "${desc#ok - }" ;;
  esac
done <"$S/results"
# The namespace part writes "end" after its last check: without it, the checks after the
# point where it stopped never ran.
grep -qx end "$S/results" || report "not ok" "the namespace part ran to its end (it stopped early: see the log)"
if [[ $_t_fail -gt 0 && -s $S/log ]]; then echo "# log:"; sed 's/^/#   /' "$S/log" | tail -40; fi
finish

#!/usr/bin/env bash
# The graphics bridge end to end on this host, without a VM: the real mesa-bridge tree (the
# recipe's steps, `tools/quarry prove mesa-bridge`), the real bridge tool, and a GL app built
# by a REAL nix-daemon into a scratch /nix whose whole closure is in the store and which
# finds its driver only through /run/opengl-driver. It renders a frame with llvmpipe; an
# "update" of mesa-bridge (a release-2 tree) and a "rollback" re-point the bridge, and the app
# loads each state's tree in turn.
#
# Never touches the machine's /, /usr, /etc, /run or /nix: the namespace part runs in
# `unshare --mount --propagation private` inside an overlay of / (upper layer in a temp dir),
# with the mesa-bridge trees bind-mounted read-only at /usr/lib/onix/mesa-bridge, a tmpfs
# /run and a scratch /nix; only the daemon pid this suite started is stopped.
# Prints TAP lines and ends with "N passed, N failed, N skipped" (tests/lib/common.sh).
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)

if [[ ${1:-} == --inner ]]; then
  # ---- inside the private mount namespace -------------------------------------------------
  S=$2
  results=$S/results
  t() {  # t "description" command...
    echo "== $1" >>"$S/log"
    if "${@:2}" >>"$S/log" 2>&1; then echo "ok - $1" >>"$results"; else echo "not ok - $1" >>"$results"; fi
  }
  M=$S/ovl/m
  mkdir -p "$S/ovl/up" "$S/ovl/work" "$M"
  mount -t overlay overlay -o "lowerdir=/,upperdir=$S/ovl/up,workdir=$S/ovl/work" "$M" || exit 1
  mkdir -p "$M/nix" "$M/run" "$M/tmp" "$M/usr/lib/onix/mesa-bridge"
  mount --bind "$S/nix" "$M/nix"
  mount -t proc proc "$M/proc"
  mount --rbind /dev "$M/dev"
  mount -t tmpfs run "$M/run"
  mount -t tmpfs tmp "$M/tmp"
  cp "$S/onix-nix-integration" "$M/usr/bin/onix-nix-integration"
  # The boot script the mesa-bridge stone ships, at its place in /usr.
  mkdir -p "$M/usr/lib/onix/rc.d"
  cp "$repo/build/quarry/prove/mesa-bridge/install/usr/lib/onix/rc.d/40-graphics-bridge" "$M/usr/lib/onix/rc.d/"
  cp -r "$repo/nix-integration/data" "$M/opt-onix-data"
  in_root() { chroot "$M" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }
  stop_daemon() {
    local pid
    pid=$(cat "$M/run/nix-daemon.pid" 2>/dev/null) || return 0
    [[ -n $pid ]] || return 0
    kill "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    rm -f "$M/run/nix-daemon.pid"
  }
  trap stop_daemon EXIT
  # A machine state: its mesa-bridge tree at the real path and its fstx in /usr/.fstx (what
  # moss's exchange of /usr does on a real machine).
  state() {  # state TREE FSTX
    umount "$M/usr/lib/onix/mesa-bridge" 2>/dev/null
    mount --bind -o ro "$1" "$M/usr/lib/onix/mesa-bridge" && printf '%s\ntoken\n' "$2" >"$M/usr/.fstx"
  }
  probe() {  # probe EXPECTED-RELEASE: renders, and loaded the driver from that release's tree
    local out
    out=$(chroot "$M" /usr/bin/env -i PATH=/usr/bin HOME=/root "$(cat "$S/gl-probe-path")/bin/gl-probe") ||
      { echo "$out"; return 1; }
    echo "$out"
    grep -qx 'driver=/usr/lib/onix/mesa-bridge/lib/dri/swrast_dri.so' <<<"$out" &&
      grep -qx "release=mesa-bridge $1" <<<"$out" && grep -q '^renderer=llvmpipe' <<<"$out" &&
      grep -qx 'pixel_center=255,0,0,255 pixel_corner=0,255,0,255' <<<"$out" &&
      grep -qx 'gl-probe: ok' <<<"$out"
  }
  # The app ran and failed where it looks for its driver (EGL found no vendor, no display, or
  # could not initialise it). Any other failure (no binary, wrong pixels, foreign files) is
  # not what the checks using this promise.
  no_render() {
    local out rc
    out=$(chroot "$M" /usr/bin/env -i PATH=/usr/bin HOME=/root "$(cat "$S/gl-probe-path")/bin/gl-probe")
    rc=$?
    echo "$out"
    [[ $rc == 1 ]] &&
      grep -qE '^gl-probe: FAIL (no eglGetPlatformDisplayEXT|no surfaceless display|eglInitialize)' <<<"$out"
  }
  status_is() { in_root onix-nix-integration status --root / | grep -x "opengl:      $1"; }

  # The Nix plane the app comes from: seeded users and nix.conf, a daemon on the scratch store.
  in_root onix-nix-integration install-data --root / --data /opt-onix-data >>"$S/log" 2>&1
  t "seed the overlay root and start nix-daemon" sh -c "
    chroot '$M' /usr/bin/env -i PATH=/usr/sbin:/usr/bin onix-nix-integration seed --root / &&
    chroot '$M' /usr/bin/env -i PATH=/usr/sbin:/usr/bin NIX_DAEMON_PIDFILE=/run/nix-daemon.pid \
      NIX_DAEMON_LOG=/run/nix-daemon.log /etc/init.d/nix-daemon start"
  mkdir -p "$M/srv/onix"
  cp -r "$S/gl-app" "$M/srv/onix/gl-app"
  build_app() {
    local json
    json=$(in_root sh -c '. /etc/profile.d/nix.sh; NIX_REMOTE=daemon timeout 120 nix build --no-link --json path:/srv/onix/gl-app#gl-probe') ||
      return 1
    python3 -c 'import json,sys; print(json.loads(sys.argv[1])[0]["outputs"]["out"])' "$json" >"$S/gl-probe-path"
    grep -q '^/nix/store/[a-z0-9]\{32\}-gl-probe-1.0$' "$S/gl-probe-path"
  }
  t "nix builds gl-probe offline into the store (busybox builder, relocated interpreter)" build_app
  closure_in_store() {
    local p
    p=$(cat "$S/gl-probe-path")
    readelf -lW "$M$p/bin/gl-probe" | grep -q "interpreter: $p/lib/ld-linux-x86-64.so.2" &&
      in_root sh -c ". /etc/profile.d/nix.sh; NIX_REMOTE=daemon nix-store -qR $p" | tee /dev/stderr | grep -qx "$p"
  }
  t "gl-probe's interpreter is in its own store path" closure_in_store

  state "$S/r1" 1-aaaa
  t "no /run/opengl-driver: the app finds no driver" no_render 22.3.6-1
  t "40-graphics-bridge (from the stone) builds /run/opengl-driver at boot" \
    in_root /usr/lib/onix/rc.d/40-graphics-bridge
  t "the bridge is coherent with state 1-aaaa" status_is coherent
  t "EGL vendor manifest points inside the bridge" \
    grep -q '"/run/opengl-driver/lib/libEGL_mesa.so.0"' "$M/run/opengl-driver/share/glvnd/egl_vendor.d/50_mesa.json"
  # Vulkan: the stone's only ICD is lavapipe; the bridge's copy of the manifest names it
  # inside /run/opengl-driver, and that path is a link to the active state's file, whose
  # dependencies all resolve (the loader is not asked to dlopen it: no vulkaninfo here).
  vulkan_icd() {
    local d=$M/run/opengl-driver/share/vulkan/icd.d lib real out
    [[ $(cd "$d" && echo *.json) == lvp_icd.x86_64.json && ! -L $d/lvp_icd.x86_64.json ]] || return 1
    lib=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ICD"]["library_path"])' "$d/lvp_icd.x86_64.json")
    echo "library_path=$lib"
    [[ $lib == /run/opengl-driver/lib/libvulkan_lvp.so ]] || return 1
    real=$(in_root readlink -f "$lib")
    [[ $real == /usr/lib/onix/mesa-bridge/lib/libvulkan_lvp.so ]] || return 1
    cmp "$M$real" "$S/r1/lib/libvulkan_lvp.so" || return 1
    out=$(in_root /lib64/ld-linux-x86-64.so.2 --inhibit-cache --list "$lib") || return 1
    echo "$out"
    grep -q 'libLLVM-15.so.1 => /run/opengl-driver/lib/libLLVM-15.so.1' <<<"$out" && ! grep -q 'not found' <<<"$out"
  }
  t "Vulkan ICD (lavapipe) points inside the bridge at the stone's libvulkan_lvp.so, whose libraries resolve" vulkan_icd
  t "state 1: the app renders with llvmpipe and loads release 1's driver via the bridge" probe 22.3.6-1

  state "$S/r2" 2-bbbb
  t "after the update the bridge is stale" status_is 'stale (points to fstx 1-aaaa)'
  t "rebuilding after the update: coherent" sh -c "
    chroot '$M' /usr/bin/onix-nix-integration bridge --root / && chroot '$M' /usr/bin/onix-nix-integration status --root / | grep -qx 'opengl:      coherent'"
  t "state 2: the app loads release 2's driver" probe 22.3.6-2

  state "$S/r1" 1-aaaa
  t "rolled back: rebuilt by the boot script, coherent" sh -c "
    chroot '$M' /usr/lib/onix/rc.d/40-graphics-bridge && chroot '$M' /usr/bin/onix-nix-integration status --root / | grep -qx 'opengl:      coherent'"
  t "rolled back: the app renders again with release 1's driver" probe 22.3.6-1

  rm "$M/run/opengl-driver/lib/dri/swrast_dri.so"
  t "a link deleted from /run/opengl-driver is reported broken" status_is 'broken: 1 links'
  t "and the app no longer renders" no_render 22.3.6-1
  stop_daemon
  echo "end" >>"$results"
  exit 0
fi

# ---- outside: build the parts, then the namespace part ---------------------------------------
cd "$repo"
source tests/lib/common.sh
report() {  # report "ok"|"not ok" description
  if [[ $1 == ok ]]; then ok "$2"; else not_ok "$2"; fi
}

S=$(mktemp -d /tmp/onix-graphics-bridge.XXXXXX)
trap 'umount -R "$S/ovl/m" 2>/dev/null; rm -rf "$S"' EXIT
if bazel build //nix-integration:onix-nix-integration >"$S/bazel.log" 2>&1; then
  report ok "bazel build //nix-integration:onix-nix-integration"
else
  report "not ok" "bazel build //nix-integration:onix-nix-integration"; tail -20 "$S/bazel.log"; finish
fi
# A private copy: the shared bazel-bin may be rebuilt by someone else while this runs.
cp "$repo/bazel-bin/nix-integration/onix-nix-integration" "$S/onix-nix-integration"
if tools/quarry prove mesa-bridge >"$S/prove.log" 2>&1; then
  report ok "the mesa-bridge recipe's steps run (tools/quarry prove mesa-bridge)"
else
  report "not ok" "the mesa-bridge recipe's steps run (tools/quarry prove mesa-bridge)"; tail -20 "$S/prove.log"; finish
fi
tree=build/quarry/prove/mesa-bridge/install/usr/lib/onix/mesa-bridge
# Release 2 of the stone: the same files (hard links) and its own release marker.
cp -a "$tree" "$S/r1"
cp -al "$S/r1" "$S/r2"
rm "$S/r2/share/onix/mesa-bridge.release"
echo "mesa-bridge 22.3.6-2" >"$S/r2/share/onix/mesa-bridge.release"
if tests/vm/fixtures/gl-app/build.sh "$S/gl-app" >"$S/gl-app.log" 2>&1; then
  report ok "the gl-app flake builds on the host (tests/vm/fixtures/gl-app/build.sh)"
else
  report "not ok" "the gl-app flake builds on the host"; cat "$S/gl-app.log"; finish
fi
mkdir -p "$S/nix" "$S/ovl"
# The overlay's upper layer is a tmpfs: the 200 MB trees are bind mounts, so only small files
# (the tool, the flake, /etc, /run) land there.
unshare --mount --propagation private bash -c "
  mount -t tmpfs onix-graphics-bridge '$S/ovl' && exec bash '$0' --inner '$S'" 2>>"$S/log"
if [[ -f $S/results ]]; then
  while read -r line; do
    case $line in
      "ok - "*) report ok "${line#ok - }" ;;
      end) ;;
      *) report "not ok" "${line#not ok - }" ;;
    esac
  done <"$S/results"
  # "end" follows the last check: without it, the checks after the point it stopped never ran.
  grep -qx end "$S/results" || report "not ok" "the namespace part ran to its end (it stopped early: see the log)"
else
  report "not ok" "the namespace part ran"
fi
if ((_t_fail > 0)); then echo "# log:"; sed 's/^/# /' "$S/log" | tail -60; fi
finish

#!/usr/bin/env bash
# The ONIX website in a real browser: builds the site with //site:build into a temp dir, serves
# it with //site:serve on 127.0.0.1, and loads every page (from sitemap.xml, plus the 404
# page) in Debian's headless Chromium. A page passes when Chromium renders it, logs no console
# message at all (the site has no JavaScript, so any console line is a failure), and the
# server's access log shows no failed request for anything the page pulled in.
# Screenshots at desktop (1280x900) and phone (390x844) width, and a dark-scheme desktop one,
# go to build/site-screenshots/<page>-{desktop,phone,dark}.png.
#
# How console errors are seen: `--enable-logging=stderr --v=0` makes Chromium print every
# console message and uncaught exception as an "INFO:CONSOLE" line on stderr (this build
# does not print their level, hence "any line fails"). Test 1 proves the detector works by
# loading a page that throws.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
shots="$repo/build/site-screenshots"
source tests/lib/common.sh

if ! command -v chromium >/dev/null; then
  not_ok "chromium is installed (tools/setup installs it)"
  finish
fi
if ! bazel build //site:build //site:serve >/dev/null 2>&1; then
  not_ok "bazel build //site:build //site:serve"
  finish
fi
ok "bazel build //site:build //site:serve"

tmp=$(mktemp -d /tmp/site-browser.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# Starts the server on a free port for directory $1; sets $port. Access log goes to $2.
start_server() {
  local dir=$1 log=$2 out="$tmp/serve-$RANDOM.out"
  bazel-bin/site/serve --dir "$dir" --port 0 >"$out" 2>"$log" &
  pids+=($!)
  port=""
  for _ in $(seq 50); do
    port=$(sed -n 's|^serving http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$out")
    [[ -n $port ]] && return 0
    sleep 0.1
  done
  return 1
}

# chromium URL OUT-PREFIX [extra flags...]: dumps the DOM to OUT.dom, stderr to OUT.err.
chrome() {
  local url=$1 out=$2; shift 2
  local profile
  profile=$(mktemp -d "$tmp/profile.XXXXXX")
  timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --disable-quic \
    --user-data-dir="$profile" --enable-logging=stderr --v=0 "$@" "$url" >"$out.dom" 2>"$out.err"
}

# 1: the detector catches a console error on a page built to throw.
mkdir -p "$tmp/control"
printf '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>t</title></head><body><script>throw new Error("control-boom")</script></body></html>\n' \
  >"$tmp/control/index.html"
if start_server "$tmp/control" "$tmp/control.log"; then
  chrome "http://127.0.0.1:$port/" "$tmp/control" --dump-dom
  if grep -q 'CONSOLE.*control-boom' "$tmp/control.err"; then
    ok "the console check catches an uncaught exception (control page)"
  else
    not_ok "the console check catches an uncaught exception (control page)"
  fi
else
  not_ok "serve the control page"
fi

# The site itself, built from this checkout.
if ! bazel-bin/site/build --workspace "$repo" --out "$tmp/dist" >"$tmp/build.log" 2>&1; then
  not_ok "site build: $(tail -3 "$tmp/build.log")"
  finish
fi
ok "site build writes a site that passes its own link check"
if ! start_server "$tmp/dist" "$tmp/access.log"; then
  not_ok "serve the site on 127.0.0.1"
  finish
fi
ok "the site is served on 127.0.0.1:$port"

mkdir -p "$shots"
rm -f "$shots"/*.png
pages=$(sed -n 's|.*<loc>https://[^/]*/\([^<]*\)</loc>.*|\1|p' "$tmp/dist/sitemap.xml")
[[ -n $pages ]] || { not_ok "sitemap.xml lists pages"; finish; }
for page in "" $(grep -v '^$' <<<"$pages") no-such-page; do
  name=${page%.html}
  name=${name:-index}
  url="http://127.0.0.1:$port/$page"
  before=$(wc -l <"$tmp/access.log")
  chrome "$url" "$tmp/$name" --dump-dom
  after_log=$(tail -n +"$((before + 1))" "$tmp/access.log")
  problems=()
  grep -q '</html>' "$tmp/$name.dom" || problems+=("no rendered document")
  grep -q '<main' "$tmp/$name.dom" || problems+=("no <main>")
  if grep -q 'CONSOLE' "$tmp/$name.err"; then
    problems+=("console: $(grep 'CONSOLE' "$tmp/$name.err" | head -1 | cut -c1-200)")
  fi
  # Every request of this page load must have succeeded, except the page itself for the 404.
  bad=$(awk -v self="/$page" '$3 != 200 && !($2 == self && self == "/no-such-page" && $3 == 404)' <<<"$after_log")
  [[ -z $bad ]] || problems+=("failed requests: $(tr '\n' ';' <<<"$bad")")
  if [[ $page == no-such-page ]]; then
    grep -q "GET /no-such-page 404" <<<"$after_log" || problems+=("not answered with 404")
    grep -q 'Page not found' "$tmp/$name.dom" || problems+=("not the site's 404 page")
    name=404
  fi
  if ((${#problems[@]})); then
    not_ok "page /$page loads without console errors: ${problems[*]}"
  else
    ok "page /$page loads without console errors or failed requests"
  fi
  # Light at desktop and phone width, and dark (prefers-color-scheme: dark) at desktop: one
  # check per page that each screenshot is a PNG of the window size asked for and that the
  # dark one is darker than the light one (the site's dark scheme applied).
  shot_problems=() luma_desktop= luma_dark=
  for variant in desktop phone dark; do
    flags=(--window-size=1280,900) want=1280x900
    [[ $variant == phone ]] && flags=(--window-size=390,844) want=390x844
    [[ $variant == dark ]] && flags+=(--force-dark-mode --blink-settings=preferredColorScheme=0)
    png="$shots/$name-$variant.png"
    chrome "$url" "$tmp/$name-$variant" --screenshot="$png" "${flags[@]}" --hide-scrollbars
    got=$(python3 tests/lib/png_info.py "$png" 2>/dev/null) || { shot_problems+=("$variant: no PNG"); continue; }
    [[ ${got% *} == "$want" ]] || shot_problems+=("$variant: ${got% *}, not $want")
    [[ $variant == desktop ]] && luma_desktop=${got#* }
    [[ $variant == dark ]] && luma_dark=${got#* }
  done
  if [[ -n $luma_desktop && -n $luma_dark ]] && ((luma_dark >= luma_desktop)); then
    shot_problems+=("dark is not darker than light (luma $luma_dark vs $luma_desktop)")
  fi
  if ((${#shot_problems[@]})); then
    not_ok "screenshots of /$page: ${shot_problems[*]}"
  else
    ok "screenshots of /$page: desktop 1280x900, phone 390x844, dark darker than light"
  fi
done
finish

#!/usr/bin/env bash
# Repositories end to end through the moss CLI (docs/repositories.md): keygen, index (byte
# identical on re-index), signed repositories over HTTP from a python3 http.server on
# 127.0.0.1 started here, search, info, --debug-solver, resolution problems, sync --dry-run,
# cache; HTTPS with a CA made here (trusted, unknown CA, self-signed, wrong host) and the
# progress bars through a real pty (script(1)) versus plain lines without one.
# Ends with "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
work=$(mktemp -d /tmp/repo-suite.XXXXXX)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
source tests/lib/common.sh

if bazel build //moss:moss //moss/repo:make_repo_stone >"$work/bazel.log" 2>&1; then
  ok "moss and make_repo_stone build"
else
  tail -20 "$work/bazel.log"; not_ok "moss and make_repo_stone build"
  finish
fi
moss=$repo/bazel-bin/moss/moss
mk=$repo/bazel-bin/moss/repo/make_repo_stone
root=$work/root srv=$work/srv
mkdir -p "$root" "$srv"

$mk "$srv" zlib 1.3 --provides 'soname(libz.so.1(x86_64))'
$mk "$srv" curl 8.0 --depends 'soname(libz.so.1(x86_64))'

check_quiet "keygen writes a key pair" "$moss" keygen "$work/k"
check_quiet "index signs the repository" "$moss" index "$srv" --sign "$work/k.key"
cp "$srv/stone.index" "$work/index.1"
"$moss" index "$srv" --sign "$work/k.key" >/dev/null 2>&1
check_quiet "re-indexing is byte-identical" cmp "$srv/stone.index" "$work/index.1"
check_quiet "SHA256SUMS verifies with sha256sum" bash -c "cd '$srv' && sha256sum --quiet -c SHA256SUMS"

python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$srv" >"$work/http.log" 2>&1 &
server_pid=$!
port=
for _ in $(seq 50); do
  port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$work/http.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.1
done
url=http://127.0.0.1:$port

check_quiet "repo add with a key" "$moss" -D "$root" repo add main "$url" --key "$work/k.pub"
check_quiet "repo update verifies the signed index over http" "$moss" -D "$root" repo update
out=$("$moss" -D "$root" search curl 2>&1)
if grep -q '^curl .*8.0-1-1 .*main' <<<"$out"; then ok "search finds a package"; else not_ok "search finds a package"; echo "$out"; fi
out=$("$moss" -D "$root" search --provides 'soname(libz.so.1(x86_64))' 2>&1)
if grep -q '^zlib ' <<<"$out"; then ok "search --provides finds the soname provider"; else not_ok "search --provides finds the soname provider"; echo "$out"; fi
out=$("$moss" -D "$root" search --json zlib 2>&1)
if python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[0]["name"]=="zlib" and len(d[0]["sha256"])==64' <<<"$out"; then
  ok "search --json is machine-readable"; else not_ok "search --json is machine-readable"; echo "$out"; fi

out=$("$moss" -D "$root" sync --dry-run 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q 'nothing to do' <<<"$out"; then ok "sync --dry-run on an empty root has nothing to do"; else not_ok "sync --dry-run on an empty root has nothing to do"; echo "$out"; fi

# `moss info` answers for packages only a repository has: repository, version, dependencies,
# providers, download size, installed or not.
out=$("$moss" -D "$root" info curl 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q '^Repository: *main (priority 0)' <<<"$out" && grep -q '^Version: *8.0-1-1' <<<"$out" &&
  grep -q '^Depends: *soname(libz.so.1(x86_64))' <<<"$out" && grep -Eq '^Download: *[0-9]+ B \(curl-8.0.stone\)' <<<"$out" &&
  grep -q '^Installed: *no$' <<<"$out"; then
  ok "info shows a package that is only in a repository"; else not_ok "info shows a package that is only in a repository"; echo "rc=$rc $out"; fi
out=$("$moss" -D "$root" info --json zlib 2>&1)
if python3 -c 'import json,sys; d=json.load(sys.stdin); a=d["available"][0]; assert d["installed"] is False and a["repository"]=="main" and a["candidate"] and a["download_size"]>0 and a["provides"]==["soname(libz.so.1(x86_64))"] and not a["installed"]' <<<"$out"; then
  ok "info --json lists the available versions"; else not_ok "info --json lists the available versions"; echo "$out"; fi
out=$("$moss" -D "$root" info no-such-package 2>&1); rc=$?
if [ $rc -eq 2 ] && grep -q 'no-such-package is neither installed nor in an enabled repository' <<<"$out"; then
  ok "info of an unknown name exits 2 and says where it looked"; else not_ok "info of an unknown name exits 2 and says where it looked"; echo "rc=$rc $out"; fi

# Installing by name resolves through the repository; --autoremove drops what was only a
# dependency; an unknown name changes nothing. --debug-solver writes libsolv's testcase.
out=$("$moss" -D "$root" -y install curl --debug-solver "$work/dbg-install" 2>&1); rc=$?
if grep -q '^job install name curl' "$work/dbg-install/testcase.t" 2>/dev/null; then
  ok "install --debug-solver writes the solver testcase"; else not_ok "install --debug-solver writes the solver testcase"; echo "rc=$rc $out"; ls "$work/dbg-install"; fi
installed=$("$moss" -D "$root" list installed 2>&1)
if [ $rc -eq 0 ] && grep -q '^curl' <<<"$installed" && grep -q '^zlib' <<<"$installed"; then
  ok "install by name pulls in the soname provider"; else not_ok "install by name pulls in the soname provider"; echo "$out"; echo "$installed"; fi
out=$("$moss" -D "$root" info curl 2>&1)
if grep -q '^Explicit: *yes' <<<"$out" && grep -q '^Repository: *main' <<<"$out" && grep -q '^Installed: *yes$' <<<"$out"; then
  ok "info of an installed package also shows its repository version as installed"; else not_ok "info of an installed package also shows its repository version as installed"; echo "$out"; fi
out=$("$moss" -D "$root" -y install "$work/x.stone" --debug-solver "$work/dbg-file" 2>&1); rc=$?
if [ $rc -eq 2 ] && grep -q 'debug-solver applies to installs by name' <<<"$out"; then
  ok "install --debug-solver with a .stone file is refused"; else not_ok "install --debug-solver with a .stone file is refused"; echo "rc=$rc $out"; fi
out=$("$moss" -D "$root" -y install no-such-package 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q 'no-such-package' <<<"$out"; then ok "install of an unknown name fails and names it"; else not_ok "install of an unknown name fails and names it"; echo "rc=$rc $out"; fi
out=$("$moss" -D "$root" -y remove curl --autoremove --debug-solver "$work/dbg-remove" 2>&1); rc=$?
installed=$("$moss" -D "$root" list installed 2>&1)
if [ $rc -eq 0 ] && ! grep -q '^curl' <<<"$installed" && ! grep -q '^zlib' <<<"$installed"; then
  ok "remove --autoremove drops the orphaned dependency"; else not_ok "remove --autoremove drops the orphaned dependency"; echo "$out"; echo "$installed"; fi
if grep -q '^job erase name curl \[cleandeps\]' "$work/dbg-remove/testcase.t" 2>/dev/null; then
  ok "remove --debug-solver writes the solver testcase"; else not_ok "remove --debug-solver writes the solver testcase"; cat "$work/dbg-remove/testcase.t"; fi

# An unsigned index where a key is configured is refused and the old index stays.
rm "$srv/stone.index.sig"
out=$("$moss" -D "$root" repo update 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q 'not signed' <<<"$out"; then ok "unsigned index is refused when a key is configured"; else not_ok "unsigned index is refused when a key is configured"; echo "$out"; fi
check_quiet "the previously verified index still resolves" "$moss" -D "$root" search zlib

# A tampered index fails verification.
"$moss" index "$srv" --sign "$work/k.key" >/dev/null 2>&1
printf 'x' >>"$srv/stone.index"
out=$("$moss" -D "$root" repo update 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q 'signature does not match' <<<"$out"; then ok "tampered index is refused"; else not_ok "tampered index is refused"; echo "$out"; fi

check_quiet "repo disable" "$moss" -D "$root" repo disable main
out=$("$moss" -D "$root" repo list --json)
if python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[0]["enabled"] is False' <<<"$out"; then ok "repo list --json shows it disabled"; else not_ok "repo list --json shows it disabled"; echo "$out"; fi
"$moss" -D "$root" repo enable main >/dev/null
out=$("$moss" -D "$root" cache size --json)
if python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["stones"]==2 and d["stone_bytes"]>0 and d["index_bytes"]>0' <<<"$out"; then ok "cache size --json counts the two stones install fetched"; else not_ok "cache size --json counts the two stones install fetched"; echo "$out"; fi
check_quiet "cache clean" "$moss" -D "$root" cache clean
check_quiet "repo remove" "$moss" -D "$root" repo remove main
out=$("$moss" -D "$root" repo add bad ftp://x 2>&1); rc=$?
if [ $rc -eq 2 ] && grep -q 'is not file' <<<"$out"; then ok "repo add refuses an unknown scheme with exit 2"; else not_ok "repo add refuses an unknown scheme with exit 2"; echo "rc=$rc $out"; fi

# HTTPS with a CA and certificate made here, served by python's http.server wrapped in ssl on
# 127.0.0.1: trusted through the repository's --ca-file or SSL_CERT_FILE; an unknown CA and a
# certificate for another host are refused with their reason.
"$moss" index "$srv" --sign "$work/k.key" >/dev/null 2>&1
tls=$work/tls
mkdir -p "$tls"
(
  cd "$tls" &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
      -keyout ca.key -out ca.pem -subj /CN=onix-test-ca &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout srv.key -out srv.csr -subj /CN=localhost &&
    printf 'subjectAltName=DNS:localhost\n' >san.ext &&
    openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
      -extfile san.ext -out srv.pem
) >"$work/openssl.log" 2>&1 || { not_ok "test CA and server certificate made"; cat "$work/openssl.log"; }
cat >"$tls/serve.py" <<'PY'
import functools, http.server, ssl, sys
directory, cert, key = sys.argv[1:4]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print("port", server.server_address[1], flush=True)
server.serve_forever()
PY
kill "$server_pid" 2>/dev/null
python3 -u "$tls/serve.py" "$srv" "$tls/srv.pem" "$tls/srv.key" >"$work/https.log" 2>&1 &
server_pid=$!
tport=
for _ in $(seq 50); do
  tport=$(sed -n 's/^port \([0-9]*\).*/\1/p' "$work/https.log" 2>/dev/null | head -1)
  [ -n "$tport" ] && break
  sleep 0.1
done

troot=$work/troot
check_quiet "repo add https with --ca-file" "$moss" -D "$troot" repo add sec "https://localhost:$tport" --key "$work/k.pub" --ca-file "$tls/ca.pem"
check_quiet "repo update over https trusts the repository's CA" "$moss" -D "$troot" repo update
out=$("$moss" -D "$troot" repo list 2>&1)
if grep -q "^sec .*https://localhost:$tport (signed) (ca $tls/ca.pem)$" <<<"$out"; then
  ok "repo list names the repository's CA file"; else not_ok "repo list names the repository's CA file"; echo "$out"; fi
# On a terminal (a real pty from script(1)) downloads draw a bar per file and an overall bar.
script -q -e -c "'$moss' -D '$troot' -y install curl" "$work/pty.out" >/dev/null 2>&1; rc=$?
installed=$("$moss" -D "$troot" list installed 2>&1)
if [ $rc -eq 0 ] && grep -q '^curl' <<<"$installed" && grep -q '^zlib' <<<"$installed"; then
  ok "install over https fetches and installs the verified stones"; else not_ok "install over https fetches and installs the verified stones"; cat "$work/pty.out"; echo "$installed"; fi
if grep -Eq '\[[#-]{20}\] curl-8\.0\.stone' "$work/pty.out" &&
  grep -Eq '\[[#-]{20}\] zlib-1\.3\.stone' "$work/pty.out" &&
  grep -Eq '\[#{20}\] total 2/2 files' "$work/pty.out" && grep -q $'\e\\[' "$work/pty.out"; then
  ok "on a terminal each download has a bar and an overall bar is redrawn in place"
else not_ok "on a terminal each download has a bar and an overall bar is redrawn in place"; cat -v "$work/pty.out"; fi

uroot=$work/uroot
"$moss" -D "$uroot" repo add bare "https://localhost:$tport" >/dev/null 2>&1
out=$("$moss" -D "$uroot" repo update 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q 'certificate is not trusted' <<<"$out" && [ ! -e "$uroot/.moss/cache/repos/bare/stone.index" ]; then
  ok "an https server with an unknown CA is refused and nothing is cached"; else not_ok "an https server with an unknown CA is refused and nothing is cached"; echo "rc=$rc $out"; fi
check_quiet "SSL_CERT_FILE trusts the CA for repo update" env SSL_CERT_FILE="$tls/ca.pem" "$moss" -D "$uroot" repo update
out=$(SSL_CERT_FILE=$tls/ca.pem "$moss" -D "$uroot" -y install zlib 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q '^fetching zlib-1.3.stone' <<<"$out" && grep -q '^fetched zlib' <<<"$out" &&
  ! grep -q $'\e' <<<"$out" && ! grep -q 'total' <<<"$out"; then
  ok "without a terminal downloads are plain lines"; else not_ok "without a terminal downloads are plain lines"; echo "rc=$rc $out" | cat -v; fi

# A self-signed server certificate (no CA at all) is refused too, and says so.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -keyout "$tls/self.key" -out "$tls/self.pem" -subj /CN=localhost -addext subjectAltName=DNS:localhost \
  >>"$work/openssl.log" 2>&1
python3 -u "$tls/serve.py" "$srv" "$tls/self.pem" "$tls/self.key" >"$work/https-self.log" 2>&1 &
self_pid=$!
sport=
for _ in $(seq 50); do
  sport=$(sed -n 's/^port \([0-9]*\).*/\1/p' "$work/https-self.log" 2>/dev/null | head -1)
  [ -n "$sport" ] && break
  sleep 0.1
done
sroot=$work/sroot
"$moss" -D "$sroot" repo add selfsigned "https://localhost:$sport" >/dev/null 2>&1
out=$("$moss" -D "$sroot" repo update 2>&1); rc=$?
kill "$self_pid" 2>/dev/null
if [ $rc -ne 0 ] && grep -q 'certificate is not trusted: self-signed certificate' <<<"$out"; then
  ok "a self-signed https certificate is refused as self-signed"; else not_ok "a self-signed https certificate is refused as self-signed"; echo "rc=$rc $out"; fi

hroot=$work/hroot
"$moss" -D "$hroot" repo add byip "https://127.0.0.1:$tport" --ca-file "$tls/ca.pem" >/dev/null 2>&1
out=$("$moss" -D "$hroot" repo update 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q "not valid for host '127.0.0.1'" <<<"$out"; then
  ok "a certificate for another host name is refused"; else not_ok "a certificate for another host name is refused"; echo "rc=$rc $out"; fi
out=$("$moss" -D "$hroot" repo add other "https://localhost:$tport" --ca-file "$work/no-such.pem" 2>&1); rc=$?
if [ $rc -eq 2 ] && grep -q 'no-such.pem' <<<"$out" && [ ! -e "$hroot/.moss/repos.d/other.json" ]; then
  ok "repo add --ca-file refuses a missing file with exit 2"; else not_ok "repo add --ca-file refuses a missing file with exit 2"; echo "rc=$rc $out"; fi

finish

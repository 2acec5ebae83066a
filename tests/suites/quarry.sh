#!/usr/bin/env bash
# Quarry suite: the warm path's shortcuts never weaken verification. tools/quarry fetch hashes
# a cached upstream tarball once and then trusts a stamp of its identity (device, inode, size,
# mtime, ctime); these checks run on a private copy of the source cache (QUARRY_SOURCES), so
# the shared build/sources is never corrupted. Also: the recipe plan (one python3 for every
# recipe) orders dependencies first and names what is wrong. About 10 s.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
source tests/lib/common.sh

work=$(mktemp -d "$repo/build/quarry-suite.XXXXXX")
trap 'rm -rf "$work"' EXIT
export QUARRY_SOURCES=$work/sources

# The musl tarball, copied (a hard link would share the inode we corrupt below) from the
# shared cache, which `tools/quarry fetch musl` fills first when it lacks it.
hash=$(grep -oE '[0-9a-f]{64}' stones/musl/stone.yaml | head -1)
if ! out=$(env -u QUARRY_SOURCES tools/quarry fetch musl 2>&1); then
  not_ok "the shared source cache has musl's tarball (tools/quarry fetch musl)" "$out"
  finish
fi
mkdir -p "$QUARRY_SOURCES/sha256"
cp "build/sources/sha256/$hash" "$QUARRY_SOURCES/sha256/$hash"
f=$QUARRY_SOURCES/sha256/$hash stamp=$QUARRY_SOURCES/verified/$hash

out=$(tools/quarry fetch musl 2>&1); rc=$?
if [[ $rc == 0 ]] && grep -q 'musl-1.2.3.tar.gz already cached (sha256 checked)' <<<"$out" &&
    [[ $(cat "$stamp" 2>/dev/null) == "$(stat -c '%d %i %s %.9Y %.9Z' "$f")" ]]; then
  ok "fetch hashes a cached tarball it has not verified and stamps its identity"
else
  not_ok "fetch hashes a cached tarball it has not verified and stamps its identity" "rc $rc
$out
stamp: $(cat "$stamp" 2>&1)"
fi

out=$(tools/quarry fetch musl 2>&1); rc=$?
[[ $rc == 0 ]] && grep -q 'already cached (verified earlier)' <<<"$out" &&
  ok "a second fetch trusts the stamp of the unchanged tarball (no re-hash)" ||
  not_ok "a second fetch trusts the stamp of the unchanged tarball (no re-hash)" "rc $rc
$out"

touch "$f"
out=$(tools/quarry fetch musl 2>&1); rc=$?
[[ $rc == 0 ]] && grep -q 'already cached (sha256 checked)' <<<"$out" &&
  ok "a touched tarball (new mtime) is hashed again and, intact, accepted" ||
  not_ok "a touched tarball (new mtime) is hashed again and, intact, accepted" "rc $rc
$out"

# One byte flipped in place, size kept and mtime put back: only ctime tells.
mtime=$(stat -c '%.9Y' "$f")
chmod u+w "$f"
python3 - "$f" <<'PY'
import sys
with open(sys.argv[1], "r+b") as fh:
    fh.seek(1000)
    b = fh.read(1)
    fh.seek(1000)
    fh.write(bytes([b[0] ^ 0xff]))
PY
chmod 444 "$f"
touch -d "@$mtime" "$f"
bad=$(sha256sum <"$f" | cut -d' ' -f1)
if [[ $bad == "$hash" || $(stat -c '%s %.9Y' "$f") != "$(cut -d' ' -f3,4 "$stamp")" ]]; then
  not_ok "the corruption keeps size and mtime (test setup)" "sha $bad, stat $(stat -c '%s %.9Y' "$f"), stamp $(cat "$stamp")"
fi
out=$(tools/quarry fetch musl 2>&1); rc=$?
now=$(sha256sum <"$f" 2>/dev/null | cut -d' ' -f1)
# Fetched again from Debian (exit 0, right bytes) or, offline, an error with no file left:
# never the corrupt bytes under the digest's name.
if grep -q "build/sources/sha256/$hash does not match its name (its sha256 is $bad)" <<<"$out" &&
    { [[ $rc == 0 && $now == "$hash" ]] || [[ $rc != 0 && ! -e $f ]]; }; then
  ok "a tarball rewritten in place with size and mtime kept is hashed again, refused and replaced"
else
  not_ok "a tarball rewritten in place with size and mtime kept is hashed again, refused and replaced" "rc $rc, sha now ${now:-none}
$out"
fi

# --- the recipe plan ----------------------------------------------------------------------
out=$(tools/quarry order linux 2>&1); rc=$?
[[ $rc == 0 && $(tr '\n' ' ' <<<"$out") == "busybox linux " ]] &&
  ok "order lists a recipe's build dependencies (linux needs busybox) first" ||
  not_ok "order lists a recipe's build dependencies (linux needs busybox) first" "rc $rc
$out"
out=$(tools/quarry order no-such-recipe 2>&1); rc=$?
[[ $rc != 0 ]] && grep -q 'no recipe stones/no-such-recipe/stone.yaml' <<<"$out" &&
  ok "order of an unknown recipe fails naming the missing stones/NAME/stone.yaml" ||
  not_ok "order of an unknown recipe fails naming the missing stones/NAME/stone.yaml" "rc $rc
$out"
finish

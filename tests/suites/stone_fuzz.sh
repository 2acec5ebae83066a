#!/usr/bin/env bash
# libFuzzer smoke runs: the stone reader (moss/stone/fuzz/reader_fuzzer.cc) for
# STONE_FUZZ_SECONDS (default 60), the boot entry parser (boot/bls/fuzz), the journal decoder
# (moss/transaction/fuzz) and the index signature path (moss/repo/fuzz) for ONIX_FUZZ_SECONDS
# each (default 15), built with clang++ -fsanitize=fuzzer,address (Bazel's toolchain is gcc).
# Each starts from its committed seed corpus (moss/stone/fuzz/corpus plus fresh stones packed
# by //moss/stone:pack_tree; the other targets' fuzz/corpus). Hours-long runs: docs/testing.md.
# Ends with "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
seconds=${STONE_FUZZ_SECONDS:-60}
work=$(mktemp -d /tmp/stone-fuzz-suite.XXXXXX)
trap 'chmod -R u+rwx "$work" 2>/dev/null; rm -rf "$work"' EXIT
source tests/lib/common.sh

if bazel build //moss/stone:pack_tree >"$work/bazel.log" 2>&1; then
  ok "pack_tree builds"
else
  tail -20 "$work/bazel.log"; not_ok "pack_tree builds"
fi
pack=$repo/bazel-bin/moss/stone/pack_tree

srcs=(moss/stone/fuzz/reader_fuzzer.cc moss/stone/format.cc moss/stone/layout_rules.cc
  moss/stone/reader.cc moss/stone/extract.cc moss/stone/types.cc moss/base/status.cc
  moss/base/fs_at.cc moss/base/sha256.cc moss/base/check.cc)
absl_libs=$(sed -n '/^ABSL_LIBS = \[/,/^\]/p' third_party/system.BUILD | grep -o '"absl_[a-z_]*"' |
  tr -d '"' | sed 's/^/-l/' | tr '\n' ' ')
if clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address -I. "${srcs[@]}" -o "$work/reader_fuzzer" \
  -lzstd -lcrypto $absl_libs >"$work/clang.log" 2>&1; then
  ok "reader fuzzer builds with clang++ -fsanitize=fuzzer,address"
else
  tail -30 "$work/clang.log"; not_ok "reader fuzzer builds with clang++ -fsanitize=fuzzer,address"
fi

# Seed corpus: valid stones of several shapes.
mkdir -p "$work/corpus" "$work/t1/bin" "$work/t1/lib/deep" "$work/t2" "$work/t3/d"
printf '#!/bin/sh\necho hi\n' >"$work/t1/bin/tool"; chmod 755 "$work/t1/bin/tool"
printf 'same' >"$work/t1/bin/a"; printf 'same' >"$work/t1/lib/b"; : >"$work/t1/lib/empty"
ln -s tool "$work/t1/bin/sh"; ln -s ../../bin/tool "$work/t1/lib/deep/up"; ln -s /usr/lib "$work/t1/lib64"
head -c 20000 /dev/urandom >"$work/t2/random"
seq 1 5000 >"$work/t3/d/numbers"; chmod 555 "$work/t3/d"
seeds=0
for t in t1 t2 t3; do
  "$pack" "$work/$t" "$work/corpus/$t.stone" "seed-$t" 1.0 && seeds=$((seeds + 1))
done
"$pack" "$work/t1" "$work/corpus/t1-l19.stone" seed 2.0 --level 19 --epoch 1700000000 && seeds=$((seeds + 1))
chmod 755 "$work/t3/d"
if [[ $seeds == 4 ]]; then ok "seed corpus of $seeds valid stones"; else not_ok "seed corpus ($seeds of 4)"; fi
cp moss/stone/fuzz/corpus/* "$work/corpus/"

if [[ -x $work/reader_fuzzer ]]; then
  mkdir -p "$work/artifacts"
  # TMPDIR: the fuzzer's extraction scratch directory lives (and dies) inside $work.
  if (cd "$work" && TMPDIR="$work" ASAN_OPTIONS=detect_leaks=1 ./reader_fuzzer -max_total_time="$seconds" \
      -max_len=65536 -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/" corpus \
      >"$work/fuzz.log" 2>&1); then
    ok "fuzzed the reader for ${seconds}s: $(grep -o 'Done [0-9]* runs' "$work/fuzz.log" | grep -o '[0-9]*' || echo '?') runs, nothing found"
    tail -3 "$work/fuzz.log" | sed 's/^/# /'
  else
    tail -40 "$work/fuzz.log"
    ls "$work/artifacts" | sed 's/^/# artifact: /'
    mkdir -p build && cp "$work"/artifacts/* build/ 2>/dev/null
    not_ok "fuzzing the reader found a crash (artifact copied to build/)"
  fi
else
  not_ok "fuzzing the reader (no fuzzer binary)"
fi

# fuzz_target NAME CORPUS SOURCES...: builds NAME with clang and fuzzes it from CORPUS.
fuzz_seconds=${ONIX_FUZZ_SECONDS:-15}
fuzz_target() {
  local name=$1 corpus=$2; shift 2
  if ! clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address -I. "$@" -o "$work/$name" \
    -lcrypto $absl_libs >"$work/$name-clang.log" 2>&1; then
    tail -30 "$work/$name-clang.log"; not_ok "$name builds with clang++ -fsanitize=fuzzer,address"; return
  fi
  mkdir -p "$work/$name-corpus" "$work/$name-artifacts"
  cp "$corpus"/* "$work/$name-corpus/"
  if (cd "$work" && ASAN_OPTIONS=detect_leaks=1 "./$name" -max_total_time="$fuzz_seconds" -max_len=16384 \
      -rss_limit_mb=2048 -artifact_prefix="$work/$name-artifacts/" "$name-corpus" >"$work/$name.log" 2>&1); then
    ok "fuzzed $name for ${fuzz_seconds}s from $corpus: $(grep -o 'Done [0-9]* runs' "$work/$name.log" | grep -o '[0-9]*' || echo '?') runs, nothing found"
  else
    tail -40 "$work/$name.log"
    mkdir -p build && cp "$work/$name-artifacts"/* build/ 2>/dev/null
    not_ok "fuzzing $name found a crash or a broken invariant (artifact copied to build/)"
  fi
}
fuzz_target entries_fuzzer boot/bls/fuzz/corpus boot/bls/fuzz/entries_fuzzer.cc boot/bls/entries.cc \
  moss/state/fstx.cc moss/base/status.cc moss/base/fs_at.cc moss/base/check.cc moss/base/sha256.cc
fuzz_target journal_fuzzer moss/transaction/fuzz/corpus moss/transaction/fuzz/journal_fuzzer.cc \
  moss/transaction/journal.cc moss/state/fstx.cc moss/state/tree.cc moss/store/store.cc moss/base/status.cc \
  moss/base/fs_at.cc moss/base/check.cc moss/base/sha256.cc
fuzz_target signature_fuzzer moss/repo/fuzz/corpus moss/repo/fuzz/signature_fuzzer.cc \
  moss/repo/signature.cc moss/repo/files.cc moss/base/status.cc moss/base/fs_at.cc \
  moss/base/check.cc moss/base/sha256.cc
finish

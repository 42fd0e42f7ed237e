#!/usr/bin/env bash
# Builds the libFuzzer targets straight from the sources they need and runs each for a bounded
# time. Exit status is non-zero if a target fails to build or finds a crash.
#   tests/fuzz/run.sh [OUT_DIR]     (binaries, corpora, logs and crash files; default build-fuzz)
#   FUZZ_SECONDS=30 per target. Seeds in tests/fuzz/seeds/<target>/ are read, never written.
# Needs clang 14 and libFuzzer: apt-get install -y clang-14 libfuzzer-14-dev
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-${FUZZ_OUT:-$repo/build-fuzz}}"
seconds="${FUZZ_SECONDS:-30}"
# Debian's clang-14 package installs clang++-14; plain clang++ only comes with the "clang"
# metapackage (a bare Debian 12 with install.sh's packages has no clang++).
cxx="${CXX_FUZZ:-$(command -v clang++-14 || command -v clang++ || echo clang++-14)}"
mkdir -p "$out"

flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=c++20
       -I"$repo/core/base/include" -I"$repo/core/identity/include" -I"$repo/core/gossip/include"
       -I"$repo/core/gossip/src" -I"$repo/plugins/replication/src")
libs=(-lsodium -lcrypto -lz)
common=("$repo/core/base/src/encoding.cpp" "$repo/core/base/src/files.cpp"
        "$repo/core/identity/src/identity.cpp" "$repo/core/gossip/src/wire.cpp")

declare -A sources=(
  [fuzz_event_decode]="$repo/core/gossip/src/event.cpp"
  [fuzz_token_parse]="$repo/core/gossip/src/token.cpp"
  [fuzz_link_decode]="$repo/core/gossip/src/link_protocol.cpp $repo/core/gossip/src/event.cpp"
  [fuzz_repl_names]="$repo/plugins/replication/src/names.cpp"
)

# Largest interesting input per target: an event; a token; a whole link message (256 KiB).
# Names: a ref is at most 255 bytes, so a little over that finds the length checks.
declare -A max_len=([fuzz_event_decode]=70000 [fuzz_token_parse]=70000 [fuzz_link_decode]=262200
                    [fuzz_repl_names]=300)

status=0
for target in fuzz_event_decode fuzz_token_parse fuzz_link_decode fuzz_repl_names; do
  echo "== build $target"
  "$cxx" "${flags[@]}" -o "$out/$target" "$here/$target.cpp" ${sources[$target]} "${common[@]}" \
    "${libs[@]}"
  corpus="$out/corpus-$target"
  mkdir -p "$corpus" "$out/crashes"
  echo "== run $target for ${seconds}s"
  rc=0
  "$out/$target" -max_total_time="$seconds" -max_len="${max_len[$target]}" -print_final_stats=1 \
    -artifact_prefix="$out/crashes/$target-" "$corpus" "$here/seeds/$target" >"$out/$target.log" 2>&1 || rc=$?
  grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec)|ERROR|SUMMARY' \
    "$out/$target.log" || true
  if [ "$rc" -ne 0 ]; then
    echo "!! $target failed (exit $rc); see $out/$target.log and $out/crashes/" >&2
    status=1
  fi
done
exit $status

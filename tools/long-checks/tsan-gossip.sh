#!/usr/bin/env bash
# The quick part of tsan.sh: the gossip module's unit tests (engine with its delivery and roster
# threads, subscriptions, limits, feeds, roster, link protocol, events, tokens) built straight
# from core/base, core/identity and core/gossip with ThreadSanitizer, without the rest of the
# tree (minutes instead of a full TSan build). Each test binary runs with halt_on_error.
#   tools/long-checks/tsan-gossip.sh [OUT_DIR]     (default: build/tsan-gossip)
#   TSAN_REPEAT=1: how many times each test binary runs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/build/tsan-gossip}"
repeat="${TSAN_REPEAT:-1}"
cxx="${CXX:-g++}"
compiler=("$cxx")
command -v ccache >/dev/null && compiler=(ccache "$cxx")
flags=(-std=c++20 -g -O1 -fsanitize=thread -fno-omit-frame-pointer -Wno-tsan
       -I"$repo/core/base/include" -I"$repo/core/identity/include" -I"$repo/core/gossip/include"
       -I"$repo/core/gossip/src" -I"$repo/tests/unit")
libs=(-lgtest_main -lgtest -lspdlog -lfmt -lsodium -lcrypto -lz -lboost_json -pthread)
mkdir -p "$out/obj"

sources=("$repo"/core/base/src/*.cpp "$repo"/core/identity/src/*.cpp "$repo"/core/gossip/src/*.cpp)
objects=()
for src in "${sources[@]}"; do
  obj="$out/obj/$(basename "$(dirname "$(dirname "$src")")")_$(basename "$src" .cpp).o"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then
    (cd "$repo" && "${compiler[@]}" "${flags[@]}" -c "${src#"$repo"/}" -o "$obj")
  fi
  objects+=("$obj")
done

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=7 ${TSAN_OPTIONS:-}"
status=0
for test in "$repo"/tests/unit/gossip_*_test.cpp; do
  name="$(basename "$test" .cpp)"
  (cd "$repo" && "${compiler[@]}" "${flags[@]}" -c "${test#"$repo"/}" -o "$out/obj/$name.o")
  "$cxx" -fsanitize=thread -o "$out/$name" "$out/obj/$name.o" "${objects[@]}" "${libs[@]}"
  for ((i = 1; i <= repeat; i++)); do
    echo "== TSan $name (run $i of $repeat)"
    if ! "$out/$name" --gtest_brief=1 >"$out/$name.$i.log" 2>&1; then
      echo "!! $name failed; see $out/$name.$i.log"
      status=1
    fi
    grep -E '^\[  (PASSED|FAILED) |WARNING: ThreadSanitizer|SUMMARY: ThreadSanitizer' \
      "$out/$name.$i.log" || true
  done
done
exit $status

#!/usr/bin/env bash
# Every test under ASan+UBSan, including what `install.sh --test` leaves out of its sanitizer
# pass to keep CI short (the benches, the browser tests, the cron test and the update
# end-to-end test with its version-bumped fixture build).
#   tools/long-checks/asan-all.sh [BUILD_DIR]     (default: build/asan, shared with install.sh)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir="${1:-$repo/build/asan}"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}" CCACHE_BASEDIR="$repo" CCACHE_NOHASHDIR=1
cmake -S "$repo" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMESH_WERROR=ON -DMESH_SANITIZE=ON \
  >/dev/null
cmake --build "$dir" -j "$(nproc)"
cd "$dir"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest -j "$(nproc)" --output-on-failure --timeout 1800

#!/usr/bin/env bash
# ThreadSanitizer build of mesh in its own build directory (no MESH_SANITIZE: TSan and ASan do
# not mix), then the core's unit tests and the integration tests under it. Outside CI: the build
# alone takes long on two cores, and TSan slows the tests down 5-15 times.
#   tools/long-checks/tsan.sh [BUILD_DIR]          (default: build/tsan)
#   TSAN_SUITES="unit integration" (default both); TSAN_REGEX narrows ctest -R within them;
#   JOBS=2 (build and ctest parallelism); TSAN_TARGETS="unit_gossip_engine_test mesh ..." builds
#   only those (default: everything).
# A data race fails the test that hit it: halt_on_error makes the process exit 66, and the
# integration harness fails a test whose daemon's output holds a ThreadSanitizer report.
# Results (what ran, what it found) are recorded in docs/testing.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="${1:-$repo/build/tsan}"
jobs="${JOBS:-2}"
suites="${TSAN_SUITES:-unit integration}"
flags="-fsanitize=thread -g -O1 -fno-omit-frame-pointer"

export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$repo}" CCACHE_NOHASHDIR=1
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMESH_SANITIZE=OFF \
  -DMESH_WERROR=OFF -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread
read -r -a targets <<<"${TSAN_TARGETS:-all}"
cmake --build "$build" -j"$jobs" --target "${targets[@]}"

# second_deadlock_stack: both stacks of a lock-order inversion. history_size: older accesses
# kept for the "previous access" stack (7 is the maximum).
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=7 ${TSAN_OPTIONS:-}"
status=0
for suite in $suites; do
  case "$suite" in
    unit) regex='^unit\.' ;;  # the core's unit tests (plugins' have their own names)
    integration) regex='^integration\.' ;;
    *) echo "unknown suite $suite (unit, integration)" >&2; exit 2 ;;
  esac
  echo "== TSan: $suite tests"
  pattern="$regex"
  if [ -n "${TSAN_REGEX:-}" ]; then
    # Both filters: ctest takes one -R, so the suite's prefix is checked on the list instead.
    names="$(ctest --test-dir "$build" -N -R "$TSAN_REGEX" | awk '/Test +#/ {print $3}' |
             grep -E "$regex" | paste -sd '|' || true)"
    [ -z "$names" ] && { echo "no $suite test matches $TSAN_REGEX"; continue; }
    pattern="^($names)\$"
  fi
  ctest --test-dir "$build" -R "$pattern" -LE bench -j"$jobs" --output-on-failure \
    --timeout 1800 --output-junit "$build/tsan-$suite.xml" || status=1
done
exit $status

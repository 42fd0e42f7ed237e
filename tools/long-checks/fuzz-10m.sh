#!/usr/bin/env bash
# Every fuzz target of tests/fuzz/run.sh for at least 10 million executions each (outside CI:
# at a few thousand executions a second that is hours per target). The build and the run are
# run.sh's own; this only asks it for a number of runs instead of a time.
#   tools/long-checks/fuzz-10m.sh [OUT_DIR]        (default: build-fuzz-10m)
#   FUZZ_RUNS=10000000 per target; FUZZ_MAX_SECONDS=86400 per target as a backstop;
#   FUZZ_TARGETS="fuzz_ci_cron ..." runs only those; FUZZ_JOBS targets at a time (default: cores).
# Exit status is non-zero if a target fails to build, finds a crash, or stops short of the runs.
# Results (targets, executions, speed, findings) are recorded in docs/testing.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/build-fuzz-10m}"
runs="${FUZZ_RUNS:-10000000}"

status=0
FUZZ_RUNS="$runs" FUZZ_SECONDS="${FUZZ_MAX_SECONDS:-86400}" "$repo/tests/fuzz/run.sh" "$out" ||
  status=$?

# run.sh's summaries say how many inputs each target executed; a target stopped by the time
# backstop before the runs counts as a failure here.
echo "== executions (wanted $runs each)"
for summary in "$out"/*.summary; do
  target="$(basename "$summary" .summary)"
  if [ -n "${FUZZ_TARGETS:-}" ] && ! grep -qw "$target" <<<"$FUZZ_TARGETS"; then continue; fi
  done_runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$summary" | tail -1)"
  speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$summary" | tail -1)"
  printf '%-28s %12s runs %8s/s\n' "$target" "${done_runs:-?}" "${speed:-?}"
  if [ -z "$done_runs" ] || [ "$done_runs" -lt "$runs" ]; then
    echo "!! $target stopped short of $runs runs" >&2
    status=1
  fi
done
exit $status

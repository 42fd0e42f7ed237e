#!/usr/bin/env bash
# The team bench at the sizes of issue #16 (10 and 50 real daemons on this machine): joins, idle
# CPU and RSS per daemon, push -> every node, with the 50-node figures as ratios to the 10-node
# ones. Outside CI (about 5 minutes on 2 cores); the CTest entry bench.team runs 5 and 10.
#   tools/long-checks/team50.sh [BUILD_DIR]     (default: build/test, already built)
#   MESH_BENCH_TEAM="10 50", MESH_BENCH_TEAM_IDLE_S=20 override the sizes and the idle window.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:-$here/../../build/test}"
# 50 daemons hold about 50 x 40 descriptors each way, plus git children.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
MESH_BENCH_TEAM="${MESH_BENCH_TEAM:-10 50}" MESH_BENCH_TEAM_IDLE_S="${MESH_BENCH_TEAM_IDLE_S:-20}" \
  "$build/tests/bench/bench_team"

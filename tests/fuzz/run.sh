#!/usr/bin/env bash
# Builds the libFuzzer targets straight from the sources they need and runs each for a bounded
# time. Exit status is non-zero if a target fails to build or finds a crash.
#   tests/fuzz/run.sh [OUT_DIR]     (binaries, corpora, logs and crash files; default build-fuzz)
#   FUZZ_SECONDS=30 per target; FUZZ_TARGETS="fuzz_issue_ops ..." runs only those.
#   FUZZ_RUNS=N stops each target after N executions (FUZZ_SECONDS still caps the time):
#   tools/long-checks/fuzz-10m.sh runs every target this way for 10 million.
#   Seeds in tests/fuzz/seeds/<target>/ are read, never written.
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
       -I"$repo/core/gossip/src" -I"$repo/plugins/replication/src"
       -I"$repo/plugins/updater/src" -I"$repo/plugins/issues/src" -I"$repo/plugins/ci/src"
       -I"$repo/core/jobs/src" -I"$repo/core/config/include" -I"$repo/sdk/include" -I"$out/gen"
       -DTOML_HEADER_ONLY=1 "-DTOML_ASSERT(expr)=((void)0)"
       -DMESH_UPDATER_ARCH="\"$(uname -m)\"")
libs=(-lsodium -lcrypto -lz -larchive -lyaml-cpp -lboost_json -lboost_url)
updater="$repo/plugins/updater/src"
common=("$repo/core/base/src/encoding.cpp" "$repo/core/base/src/files.cpp"
        "$repo/core/identity/src/identity.cpp" "$repo/core/identity/src/x509_build.cpp"
        "$repo/core/gossip/src/wire.cpp")

ci="$repo/plugins/ci/src"
ci_pipeline="$ci/pipeline_parser.cpp $ci/yaml_walk.cpp $ci/branch_glob.cpp $ci/cron.cpp $ci/dag.cpp
             $ci/duration.cpp $ci/names.cpp $ci/text.cpp $ci/states.cpp"
ci_records="$ci/records_json.cpp $ci/crypto.cpp $ci/ids.cpp $ci/names.cpp $ci/text.cpp
            $ci/states.cpp $ci/run_fold.cpp $ci/run_book.cpp $ci/dag.cpp"

declare -A sources=(
  [fuzz_event_decode]="$repo/core/gossip/src/event.cpp"
  [fuzz_token_parse]="$repo/core/gossip/src/token.cpp"
  [fuzz_link_decode]="$repo/core/gossip/src/link_protocol.cpp $repo/core/gossip/src/event.cpp"
  [fuzz_repl_names]="$repo/plugins/replication/src/names.cpp"
  [fuzz_updater_minisig]="$updater/minisign.cpp $updater/digest.cpp $updater/fsutil.cpp $updater/errors.cpp"
  [fuzz_updater_release]="$updater/release.cpp $updater/semver.cpp $updater/urls.cpp $updater/digest.cpp $updater/fsutil.cpp $updater/errors.cpp"
  [fuzz_updater_archive]="$updater/archive.cpp $updater/archive_rules.cpp $updater/fsutil.cpp $updater/errors.cpp"
  [fuzz_issue_ops]="$(ls "$repo"/plugins/issues/src/*.cpp | grep -v '/plugin\.cpp$' | tr '\n' ' ')"
  [fuzz_repl_smart_http]="$repo/plugins/replication/src/smart_http.cpp"
  [fuzz_repl_pkt_line]="$repo/plugins/replication/src/receive_commands.cpp $repo/plugins/replication/src/sideband.cpp"
  [fuzz_ci_pipeline]="$ci_pipeline"
  [fuzz_ci_cron]="$ci/cron.cpp"
  [fuzz_ci_records]="$ci_records"
  [fuzz_ci_masker]="$repo/core/jobs/src/secret_masker.cpp"
  [fuzz_updater_peer_http]="$updater/peer_http.cpp $updater/errors.cpp"
  [fuzz_config_load]="$repo/core/config/src/config.cpp $repo/core/config/src/gossip_table.cpp $repo/core/config/src/toml_prescan.cpp"
)

# toml++ is compiled into fuzz_config_load (header-only, so its parser is instrumented) with its
# internal assertions off, as in Debian's libtomlplusplus.so, which the daemon uses (GCC-built,
# so its TOML_ASSERT_ASSUME is a no-op too): toml++ 3.3.0 asserts a precondition it then checks
# anyway ("[# x]", "[[[1]]]": upstream tomlplusplus PR #301), and with assertions on every run
# stops there. config_test checks that those inputs get a normal file:line error.
# Largest interesting input per target: an event; a token; a whole link message (256 KiB).
# Names: a ref is at most 255 bytes, so a little over that finds the length checks.
# Updater: a signature file is at most 16 KiB; release JSON and archives are capped for speed.
# Issue ops: a whole event payload (64 KiB) and a little more. Smart HTTP: header values and
# queries (Git-Protocol is at most 256). pkt-line: two maximal packets.
# CI: a pipeline well past the interesting size (the 256 KiB cap has a unit test), a cron line
# past its 128-byte cap, a few records, a few secrets and a text.
declare -A max_len=([fuzz_event_decode]=70000 [fuzz_token_parse]=70000 [fuzz_link_decode]=262200
                    [fuzz_repl_names]=300 [fuzz_updater_minisig]=17000
                    [fuzz_updater_release]=65536 [fuzz_updater_archive]=65536
                    [fuzz_issue_ops]=70000 [fuzz_repl_smart_http]=1200
                    [fuzz_repl_pkt_line]=140000 [fuzz_ci_pipeline]=16384 [fuzz_ci_cron]=160
                    [fuzz_ci_records]=16384 [fuzz_ci_masker]=600
                    [fuzz_updater_peer_http]=20000 [fuzz_config_load]=16384)

status=0
targets=(fuzz_event_decode fuzz_token_parse fuzz_link_decode fuzz_repl_names
         fuzz_updater_minisig fuzz_updater_release fuzz_updater_archive fuzz_updater_peer_http
         fuzz_issue_ops
         fuzz_repl_smart_http fuzz_repl_pkt_line fuzz_ci_pipeline fuzz_ci_cron fuzz_ci_records
         fuzz_ci_masker fuzz_config_load)
# FUZZ_TARGETS="fuzz_ci_cron fuzz_ci_pipeline" runs only those.
read -r -a targets <<<"${FUZZ_TARGETS:-${targets[*]}}"
# Each source is compiled once into $out/obj (through ccache when it is installed: the sources
# are shared between targets, and CI rebuilds from a fresh clone), then each target is linked.
compiler=("$cxx")
command -v ccache >/dev/null && compiler=(ccache "$cxx")
mkdir -p "$out/obj" "$out/crashes" "$out/gen"
# The config loader embeds config/mesh.toml as CMake does (core/config/src/default_toml.hpp.in);
# rewritten only when it changes, and config.cpp's object is rebuilt then.
gen_header="$out/gen/default_toml.hpp"
{
  echo '#pragma once'
  echo 'namespace mesh::config::detail {'
  printf 'inline constexpr char kDefaultToml[] = R"mesh_toml('
  cat "$repo/config/mesh.toml"
  echo ')mesh_toml";'
  echo '}  // namespace mesh::config::detail'
} >"$gen_header.new"
if cmp -s "$gen_header.new" "$gen_header"; then rm "$gen_header.new"; else mv "$gen_header.new" "$gen_header"; fi
object_of() {  # source -> object path (relative to the repo, so clones share ccache entries)
  local rel="${1#"$repo"/}"
  echo "$out/obj/${rel//\//_}.o"
}
# toml++ 3.3.0 (Debian 12) reaches __builtin_unreachable() in its Unicode whitespace table for
# some non-ASCII input (upstream issues #190 and #295, fixed after 3.3.0 by PR #305, which
# returns false there): UBSan's unreachable check is off for fuzz_config_load's objects, every
# other check stays on. The loader refuses the common trigger (non-ASCII outside strings and
# comments, core/config/src/toml_prescan.hpp) itself.
declare -A target_flags=([fuzz_config_load]="-fno-sanitize=unreachable")
for target in "${targets[@]}"; do
  echo "== build $target"
  read -r -a extra <<<"${target_flags[$target]:-}"
  objects=()
  for src in "$here/$target.cpp" ${sources[$target]} "${common[@]}"; do
    obj="$(object_of "$src")"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] ||
       { [[ "$src" == */config.cpp ]] && [ "$gen_header" -nt "$obj" ]; }; then
      (cd "$repo" && "${compiler[@]}" "${flags[@]}" "${extra[@]}" -c "${src#"$repo"/}" -o "$obj")
    fi
    objects+=("$obj")
  done
  "$cxx" "${flags[@]}" "${extra[@]}" -o "$out/$target" "${objects[@]}" "${libs[@]}"
done

# Runs one target for $seconds; its summary lines go to stdout, the whole log to a file.
run_target() {
  local target="$1" rc=0
  local corpus="$out/corpus-$target"
  mkdir -p "$corpus"
  # -timeout: one input running 20 s is a hang and fails the target (libFuzzer's default is
  # 1200 s, and -max_total_time is only checked between inputs); `timeout` is the backstop.
  local runs=()
  [ -n "${FUZZ_RUNS:-}" ] && runs=(-runs="$FUZZ_RUNS")
  timeout --kill-after=10 $((seconds + 120)) \
    "$out/$target" -max_total_time="$seconds" "${runs[@]}" -timeout=20 \
    -max_len="${max_len[$target]}" \
    -print_final_stats=1 -artifact_prefix="$out/crashes/$target-" "$corpus" "$here/seeds/$target" \
    >"$out/$target.log" 2>&1 || rc=$?
  {
    echo "== $target (${FUZZ_RUNS:+${FUZZ_RUNS} runs, at most }${seconds}s)"
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec)|ERROR|SUMMARY' \
      "$out/$target.log" || true
  } >"$out/$target.summary"
  if [ "$rc" -ne 0 ]; then
    echo "!! $target failed (exit $rc); see $out/$target.log and $out/crashes/" >>"$out/$target.summary"
  fi
  return "$rc"
}

# FUZZ_JOBS targets at a time (default: the number of cores).
jobs="${FUZZ_JOBS:-$(nproc)}"
for target in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  rm -f "$out/$target.summary"
  run_target "$target" &
done
wait || true
# Statuses come from the summaries (wait -n has already collected some of the exit codes).
for target in "${targets[@]}"; do
  if [ ! -f "$out/$target.summary" ]; then
    echo "!! $target left no summary" >&2
    status=1
    continue
  fi
  cat "$out/$target.summary"
  grep -q '^!!' "$out/$target.summary" && status=1
done
exit $status

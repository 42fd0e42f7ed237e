#!/usr/bin/env bash
# Issue #16 in real network namespaces (root): three daemons A, B, C, each in its own
# namespace, with veth links A-B and A-C only (A does not forward, so B and C have no route to
# each other). Shown: a push to B reaches C through A and a push to C reaches B; then C is
# restarted listening on its own loopback only (nobody can dial it: an outbound-only laptop),
# and its push still reaches A and B; A and B never dial C's announced 127.0.0.1 (another
# host's loopback). Prints the time from each push to each mirror. CTest runs it as
# integration.netns_line (CI runs as root); without root it exits 77, which CTest counts as
# skipped (replication_networks_test covers the same logic through proxies, as any user).
#   tests/integration/netns_line.sh [BUILD_DIR]     (default: build/test, already built)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$(cd "${1:-$here/../../build/test}" && pwd)"
mesh="$build/cli/mesh"
[ -x "$mesh" ] || { echo "no $mesh: build first" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "skipped: needs root (ip netns)" >&2; exit 77; }
work="$(mktemp -d /tmp/mesh-netns.XXXXXX)"
tag="m$$"
ns() { echo "$tag-$1"; }

cleanup() {
  for n in a b c; do
    ip netns exec "$(ns $n)" "$mesh" --root "$work/$n" stop >/dev/null 2>&1 || true
    ip netns del "$(ns $n)" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

for n in a b c; do
  ip netns add "$(ns $n)"
  ip -n "$(ns $n)" link set lo up
done
# veth names are at most 15 bytes.
ip link add "${tag}ab" type veth peer name "${tag}ba"
ip link add "${tag}ac" type veth peer name "${tag}ca"
ip link set "${tag}ab" netns "$(ns a)"; ip link set "${tag}ba" netns "$(ns b)"
ip link set "${tag}ac" netns "$(ns a)"; ip link set "${tag}ca" netns "$(ns c)"
ip -n "$(ns a)" addr add 10.77.1.1/24 dev "${tag}ab"; ip -n "$(ns a)" link set "${tag}ab" up
ip -n "$(ns b)" addr add 10.77.1.2/24 dev "${tag}ba"; ip -n "$(ns b)" link set "${tag}ba" up
ip -n "$(ns a)" addr add 10.77.2.1/24 dev "${tag}ac"; ip -n "$(ns a)" link set "${tag}ac" up
ip -n "$(ns c)" addr add 10.77.2.2/24 dev "${tag}ca"; ip -n "$(ns c)" link set "${tag}ca" up

config() {  # name listen
  mkdir -p "$work/$1"
  cat >"$work/$1/mesh.toml" <<EOF
[node]
name = "$1"
[http]
listen = "$2"
[plugins]
enabled = ["replication"]
paths = ["$build/plugins"]
[discovery]
enabled = false
EOF
}
in_ns() { local n=$1; shift; ip netns exec "$(ns $n)" "$@"; }
m() { local n=$1; shift; in_ns "$n" "$mesh" --root "$work/$n" "$@"; }
token() { m a --json invite | jq -r .token; }
up_count() { m "$1" --json peers | jq '[.[] | select(.state == "up")] | length'; }
both_up() { [ "$(up_count "$1")" = 2 ]; }
reach_is() { [ "$(m "$1" --json peers | jq -r ".[] | select(.name==\"$2\") | .reach")" = "$3" ]; }
now_ms() { date +%s%3N; }
wait_for() {  # description, command...: polls every 50 ms, 60 s at most
  local what=$1; shift
  for _ in $(seq 1200); do "$@" && return 0; sleep 0.05; done
  echo "FAILED: $what" >&2
  for n in a b c; do echo "== $n"; m "$n" peers || true; tail -20 "$work/$n/logs/"*.log || true; done
  exit 1
}
mirror_main() { cat "$work/$1/repos/app.git/refs/heads/main" 2>/dev/null || true; }
has_tip() { [ "$(mirror_main "$1")" = "$2" ]; }

config a 0.0.0.0:7979; config b 0.0.0.0:7979; config c 0.0.0.0:7979
for n in a b c; do m "$n" start --detach >/dev/null; done
m b join "$(token)" >/dev/null
m c join "$(token)" >/dev/null
for n in a b c; do wait_for "$n sees both up" both_up "$n"; done
echo "paired; B and C reach each other: B->C $(m b --json peers | jq -r '.[] | select(.name=="c") | .reach')"

export HOME="$work/home" GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"
g() { git -c user.name=n -c user.email=n@example.com -c http.sslVerify=false -C "$work/src" "$@"; }
git init -q -b main "$work/src"
push_timed() {  # node: commit, push to it, print ms to each mirror
  local to=$1 tip t0
  echo "$RANDOM" >"$work/src/f"; g add f; g commit -q -m "to $to"; tip=$(g rev-parse HEAD)
  t0=$(now_ms)
  in_ns "$to" env HOME="$HOME" git -c http.sslVerify=false -C "$work/src" push -q \
    "https://localhost:7979/app.git" main 2>"$work/push.err"
  local out="push to $to:"
  for n in a b c; do
    wait_for "$n has the push to $to" has_tip "$n" "$tip"
    out="$out $n $(($(now_ms) - t0)) ms;"
  done
  echo "$out $(grep "mesh:" "$work/push.err" | sed "s/^remote: mesh: //" | tr -s " " | tr "\n" " ")"
}
push_timed a
push_timed b
push_timed c

# C outbound only: it listens on its own loopback; A and B cannot dial it.
m c stop >/dev/null
config c 127.0.0.1:7979
m c start --detach >/dev/null
for n in a b c; do wait_for "$n sees both up again" both_up "$n"; done
wait_for "c linked to a" reach_is c a direct
push_timed c
push_timed b
if grep -h "not the expected member" "$work"/a/logs/*.log "$work"/b/logs/*.log; then
  echo "FAILED: a node dialled another host's loopback address" >&2
  exit 1
fi
for n in a b c; do
  if grep -h "diverged" "$work/$n/logs/"*.log; then echo "FAILED: divergence on $n" >&2; exit 1; fi
done
# Sanitizer builds: a report in a daemon's stderr fails the run (as the C++ harness does).
if grep -l "AddressSanitizer\|LeakSanitizer\|runtime error:" "$work"/*/logs/daemon.out 2>/dev/null; then
  echo "FAILED: a sanitizer report in daemon.out" >&2
  exit 1
fi
offers=$(grep -hc "sent the objects" "$work"/c/logs/*.log | paste -sd+ | bc)
echo "ok: every push reached every node; no loopback dial across hosts, no divergence;" \
  "c sent its objects itself $offers times (it cannot be dialled after its restart)"

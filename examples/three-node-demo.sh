#!/usr/bin/env bash
# Three mesh nodes on this machine, paired, replicating a repo: start, pair, push to one, see it
# on all three, stop. Everything lives in a temp dir that is removed at the end.
#
#   examples/three-node-demo.sh            # uses `mesh` from PATH, else build/cli/mesh
#   MESH=/path/to/mesh examples/three-node-demo.sh
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
MESH="${MESH:-$(command -v mesh || echo "$here/build/cli/mesh")}"
[ -x "$MESH" ] || { echo "error: no mesh binary (build it, or set MESH=...)" >&2; exit 1; }
command -v git >/dev/null || { echo "error: git is needed" >&2; exit 1; }

demo="$(mktemp -d /tmp/mesh-demo.XXXXXX)"
nodes=(alice bob carol)
cleanup() {
  for n in "${nodes[@]}"; do "$MESH" --root "$demo/$n" stop >/dev/null 2>&1 || true; done
  rm -rf "$demo"
}
trap cleanup EXIT

# A private git configuration: the demo never touches yours.
export HOME="$demo/home" GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"
git config --global user.name demo
git config --global user.email demo@example.com
git config --global init.defaultBranch main

step() { printf '\n==> %s\n' "$*"; }

step "starting three nodes on 127.0.0.1 (roots under $demo)"
for n in "${nodes[@]}"; do
  "$MESH" --root "$demo/$n" init --name "$n" >/dev/null
  # Keep the demo's discovery beacons on loopback instead of the LAN.
  sed -i 's/^targets = \[\]/targets = ["127.255.255.255"]/; s/^multicast_if = ""/multicast_if = "127.0.0.1"/' \
    "$demo/$n/mesh.toml"
  "$MESH" --root "$demo/$n" start --listen 127.0.0.1:0 --detach
done
port() { "$MESH" --root "$demo/$1" --json status | sed -n 's/.*"listen":"[^"]*:\([0-9]*\)".*/\1/p'; }

step "pairing: alice invites bob, bob invites carol"
"$MESH" --root "$demo/bob" join "$("$MESH" --root "$demo/alice" --json invite | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')"
"$MESH" --root "$demo/carol" join "$("$MESH" --root "$demo/bob" --json invite | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')"
for _ in $(seq 1 100); do
  # grep finds nothing until the first link is up: under pipefail that must not end the demo.
  ups=$("$MESH" --root "$demo/carol" --json peers | { grep -o '"state":"up"' || true; } | wc -l)
  [ "$ups" -eq 2 ] && break
  sleep 0.1
done
"$MESH" --root "$demo/carol" peers

step "pushing a sample repo to alice"
work="$demo/work"
git init -q "$work"
for i in 1 2 3; do
  echo "line $i" >>"$work/README"
  git -C "$work" add README
  git -C "$work" commit -q -m "commit $i"
done
url="https://localhost:$(port alice)/demo-app.git"
# sslVerify off for exactly this URL (what `mesh ssl` does for your own node).
git -C "$work" -c "http.https://localhost:$(port alice).sslVerify=false" push "$url" main
want=$(git -C "$work" rev-parse HEAD)

step "waiting until every node has main at ${want:0:12}"
for n in "${nodes[@]}"; do
  for _ in $(seq 1 100); do
    "$MESH" --root "$demo/$n" --json repos | grep -q "$want" && break
    sleep 0.1
  done
  printf '%-6s ' "$n:"
  "$MESH" --root "$demo/$n" --json repos | grep -q "$want" && echo "has demo-app main = ${want:0:12}" || {
    echo "missing"; exit 1; }
done

step "cloning from carol"
git -c "http.https://localhost:$(port carol).sslVerify=false" clone -q \
  "https://localhost:$(port carol)/demo-app.git" "$demo/clone"
git -C "$demo/clone" log --oneline

step "mesh repos on bob"
"$MESH" --root "$demo/bob" repos

step "stopping the nodes"

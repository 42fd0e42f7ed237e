#!/usr/bin/env bash
# Runs the README's quick start, taken from README.md itself so that the two cannot drift:
# the block between <!-- quickstart:begin --> and <!-- quickstart:end --> on alice, then the
# block between <!-- quickstart-teammate:begin/end --> on bob and on carol. Three local nodes
# with temp roots and private HOMEs; what differs from a real machine is substituted:
#   - the `./install.sh` line is skipped (the build under test is `mesh` on PATH);
#   - 7979 becomes each node's own port (picked free, then written to its mesh.toml);
#   - `mesh1.…` becomes a fresh token from alice's `mesh invite`;
#   - beacons stay on loopback (the tests never send to the machine's networks).
# Before a teammate line that clones, it waits (with a deadline) until that node has the repo:
# replication is asynchronous, and a person would not clone in the same millisecond.
#
#   MESH=/path/to/mesh tests/integration/readme_quickstart.sh [README.md]
set -euo pipefail

here="$(cd "$(dirname "$0")/../.." && pwd)"
readme="${1:-$here/README.md}"
MESH="${MESH:-$here/build/cli/mesh}"
[ -x "$MESH" ] || { echo "error: no mesh binary at $MESH (set MESH=...)" >&2; exit 1; }
command -v git >/dev/null || { echo "error: git is needed" >&2; exit 1; }

# The fenced sh block between two marker comments.
block() {
  awk -v begin="<!-- $1:begin -->" -v end="<!-- $1:end -->" '
    $0 == begin { inside = 1; next }
    $0 == end { inside = 0 }
    inside && /^```/ { fence = !fence; next }
    inside && fence { print }' "$readme"
}
main_block="$(block quickstart)"
mate_block="$(block quickstart-teammate)"
[ -n "$main_block" ] || { echo "error: no quickstart block in $readme" >&2; exit 1; }
[ -n "$mate_block" ] || { echo "error: no quickstart-teammate block in $readme" >&2; exit 1; }

work="$(mktemp -d /tmp/mesh-quickstart.XXXXXX)"
nodes=(alice bob carol)
cleanup() {
  local rc=$?
  for n in "${nodes[@]}"; do "$MESH" --root "$work/$n/root" stop >/dev/null 2>&1 || true; done
  if [ "$rc" -eq 0 ]; then rm -rf "$work"; else echo "kept $work for inspection" >&2; fi
}
trap cleanup EXIT

# `mesh` on PATH is the binary under test.
mkdir -p "$work/bin"
printf '#!/bin/sh\nexec "%s" "$@"\n' "$MESH" >"$work/bin/mesh"
chmod +x "$work/bin/mesh"

# A node: root, HOME and working directory of its own, a free port in its mesh.toml.
declare -A port
prepare() {
  local n="$1" root="$work/$1/root"
  mkdir -p "$work/$n/home" "$work/$n/cwd"
  "$MESH" --root "$root" init --name "$n" >/dev/null
  # Port 0 picks a free port; keep it for the README's own `mesh start`.
  port[$n]="$("$MESH" --root "$root" --json start --listen 127.0.0.1:0 --detach |
    sed -n 's/.*"listen":"127\.0\.0\.1:\([0-9]*\)".*/\1/p')"
  "$MESH" --root "$root" stop >/dev/null
  [ -n "${port[$n]}" ] || { echo "error: no port for $n" >&2; exit 1; }
  sed -i "s/^listen = .*/listen = \"127.0.0.1:${port[$n]}\"/" "$root/mesh.toml"
  sed -i 's/^targets = \[\]/targets = ["127.255.255.255"]/; s/^multicast_if = ""/multicast_if = "127.0.0.1"/' \
    "$root/mesh.toml"
}

# Runs README lines as one shell script for node $1 (stdin: the lines).
run_as() {
  local n="$1"
  {
    echo 'set -euo pipefail'
    grep -v '^\./install\.sh' | sed "s/7979/${port[$n]}/g"
  } >"$work/$n/script.sh"
  echo "==> $n runs:" && sed '1d' "$work/$n/script.sh" | sed 's/^/    /'
  (cd "$work/$n/cwd" &&
    # A new user's shell has no GIT_SSL_CAINFO; some machines (this CI's) export one, and git
    # lets it override the CA file `mesh ssl` configures (mesh ssl says so when it sees it).
    env -u GIT_SSL_CAINFO -u GIT_SSL_NO_VERIFY \
      HOME="$work/$n/home" MESH_ROOT="$work/$n/root" PATH="$work/bin:$PATH" \
      GIT_CONFIG_NOSYSTEM=1 bash "$work/$n/script.sh")
}

has_repo() {  # node, oid
  "$MESH" --root "$work/$1/root" --json repos 2>/dev/null | grep -q "\"refs/heads/main\":\"$2\""
}

for n in "${nodes[@]}"; do prepare "$n"; done

printf '%s\n' "$main_block" | run_as alice
want="$(git -C "$work/alice/cwd/my-app" rev-parse HEAD)"
[ "$(git -C "$work/alice/cwd/my-app-copy" rev-parse HEAD)" = "$want" ] ||
  { echo "error: alice's http clone is not at $want" >&2; exit 1; }

for n in bob carol; do
  token="$("$MESH" --root "$work/alice/root" --json invite | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')"
  [ -n "$token" ] || { echo "error: alice made no token" >&2; exit 1; }
  # The clone line waits for replication first (see the top of this file).
  mate="$(printf '%s\n' "$mate_block" | awk -v wait="$work/wait-$n.sh" '
    /git clone/ { print "bash " wait }
    { print }')"
  cat >"$work/wait-$n.sh" <<EOF
for _ in \$(seq 1 600); do
  "$MESH" --root "$work/$n/root" --json repos 2>/dev/null | grep -q '"refs/heads/main":"$want"' && exit 0
  sleep 0.1
done
echo "error: $n never got my-app at $want" >&2; exit 1
EOF
  printf '%s\n' "$mate" | sed "s/mesh1\.…/$token/" | run_as "$n"
  [ "$(git -C "$work/$n/cwd/my-app" rev-parse HEAD)" = "$want" ] ||
    { echo "error: $n's clone is not at $want" >&2; exit 1; }
done

# Every node has the repo, and sees the other two.
for n in "${nodes[@]}"; do
  has_repo "$n" "$want" || { echo "error: $n lacks my-app at $want" >&2; exit 1; }
  peers="$("$MESH" --root "$work/$n/root" --json peers | grep -o '"id":' | wc -l)"
  [ "$peers" -eq 2 ] || { echo "error: $n lists $peers peers, not 2" >&2; exit 1; }
done
echo "==> the README quick start works: my-app main = ${want:0:12} on alice, bob and carol"

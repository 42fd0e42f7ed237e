#!/usr/bin/env bash
# The releases `mesh update` is tested against (tests/integration/update_test.cpp and
# tests/bench/update_bench.cpp), made the way a maintainer makes them (docs/releasing.md):
#   - this build tree's own version, packaged with cpack;
#   - the same sources at a bumped version (MAJOR+1.0.0), configured in a sibling build tree
#     with the same compiler, build type and flags, so that ccache serves every object whose
#     flags do not carry MESH_VERSION, then packaged;
#   - a throwaway minisign key pair (and a second one, "other"), and release directories
#     written by tools/release/make-release.sh, signed with the first key.
#
#   update_fixture.sh BUILD_DIR SOURCE_DIR OUT_DIR
#
# Writes OUT_DIR/fixture.env (CURRENT, BUMPED, ARCH, BUILD_SECONDS) last, so its presence
# means the whole fixture is there.
set -euo pipefail

build="$(cd "$1" && pwd)"
src="$(cd "$2" && pwd)"
out="$3"
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt" | head -1; }

current="$("$build/cli/mesh" --version | sed 's/^mesh //')"
major="${current%%.*}"
bumped="$((major + 1)).0.0"
fixture_build="${build}-update-fixture"  # a sibling: same depth, so ccache's relative paths match

rm -rf "$out"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
start=$(date +%s)
cmake -S "$src" -B "$fixture_build" -G "$(cache CMAKE_GENERATOR)" \
  -DCMAKE_BUILD_TYPE="$(cache CMAKE_BUILD_TYPE)" \
  -DCMAKE_C_COMPILER="$(cache CMAKE_C_COMPILER)" -DCMAKE_CXX_COMPILER="$(cache CMAKE_CXX_COMPILER)" \
  -DMESH_SANITIZE="$(cache MESH_SANITIZE)" -DMESH_WERROR="$(cache MESH_WERROR)" \
  -DCMAKE_INSTALL_PREFIX="$(cache CMAKE_INSTALL_PREFIX)" \
  -DMESH_TESTS=OFF -DMESH_VERSION="$bumped" >"$out/configure.log"
cmake --build "$fixture_build" -j "$(nproc 2>/dev/null || echo 2)" >"$out/build.log"
build_seconds=$(( $(date +%s) - start ))

(cd "$fixture_build" && cpack -G TGZ -B "$out/pkg-bumped" >"$out/cpack-bumped.log")
(cd "$build" && cpack -G TGZ -B "$out/pkg-current" >"$out/cpack-current.log")
rm -rf "$out"/pkg-*/_CPack_Packages
arch="$(ls "$out/pkg-current" | sed -n "s/^mesh-$current-linux-\(.*\)\.tar\.gz$/\1/p")"
[ -n "$arch" ] || { echo "no current archive in $out/pkg-current" >&2; exit 1; }

for k in release other; do
  minisign -G -W -p "$out/$k.pub" -s "$out/$k.key" >/dev/null
done
"$src/tools/release/make-release.sh" --version "$bumped" --key "$out/release.key" \
  --pub "$out/release.pub" --out "$out/release" \
  --archive "$out/pkg-bumped/mesh-$bumped-linux-$arch.tar.gz" >"$out/release.log"
"$src/tools/release/make-release.sh" --version "$current" --key "$out/release.key" \
  --pub "$out/release.pub" --out "$out/release-current" \
  --archive "$out/pkg-current/mesh-$current-linux-$arch.tar.gz" >>"$out/release.log"

printf 'CURRENT=%s\nBUMPED=%s\nARCH=%s\nBUILD_SECONDS=%s\n' \
  "$current" "$bumped" "$arch" "$build_seconds" >"$out/fixture.env"
echo "update fixture: $current and $bumped ($arch) in $out; the bumped build took ${build_seconds} s"

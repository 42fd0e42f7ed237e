#!/usr/bin/env bash
# Builds the packages from a build tree into a temporary directory and checks what they hold
# (CTest: package_contents). Lists the tarball as it goes.
#   tools/release/check-package.sh BUILD_DIR VERSION ARCH INSTALL_PREFIX [PACKAGE_CHECK]
# PACKAGE_CHECK (updater_package_check): signs the tarball with a throwaway minisign key, then
# verifies and unpacks it with the updater's own code, as `mesh update` will.
# Needs: cpack, tar, sha256sum, minisign; for the .deb also dpkg-deb, dpkg-shlibdeps
# (dpkg-dev), file.
set -euo pipefail

build="${1:?build dir}" version="${2:?version}" arch="${3:?arch}" prefix="${4:?install prefix}"
package_check="${5:-}"
fail() { echo "FAIL: $*" >&2; exit 1; }
trap 'echo "FAIL: check-package.sh line $LINENO: $BASH_COMMAND" >&2' ERR
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# --- tarball ---------------------------------------------------------------------------------
stem="mesh-$version-linux-$arch"
cpack -G TGZ --config "$build/CPackConfig.cmake" -B "$tmp" >"$tmp/tgz.log" 2>&1 ||
  { cat "$tmp/tgz.log"; fail "cpack -G TGZ"; }
tgz="$tmp/$stem.tar.gz"
[ -f "$tgz" ] || fail "cpack made no $stem.tar.gz: $(ls "$tmp")"
echo "== $stem.tar.gz ($(stat -c %s "$tgz") bytes)"
tar -tvzf "$tgz"
tar -tzf "$tgz" >"$tmp/names"

# One top-level directory; nothing absolute, no "..", no setuid bits, no hard links or devices.
bad="$(grep -v "^$stem/" "$tmp/names" || true)"
[ -z "$bad" ] || fail "entries outside $stem/: $bad"
! grep -q '/\.\./\|/\.\.$' "$tmp/names" || fail "entries with .."
tar -tvzf "$tgz" | awk '{print substr($1,1,1), $1}' | while read -r type mode; do
  case "$type" in -|d|l) ;; *) fail "entry of type '$type'";; esac
  [[ "$mode" != *[sStT]* ]] || fail "setuid/setgid/sticky mode $mode"
done

has() { grep -qx "$stem/$1" "$tmp/names" || fail "no $1 in the tarball"; }
has bin/mesh
has include/mesh/plugin.h
has include/mesh/plugin.hpp
has share/mesh/mesh.toml
has share/mesh/secrets.example.yml
has share/mesh/mesh.service
has lib/systemd/user/mesh.service
grep -qE "^$stem/lib[^/]*(/[^/]+)?/cmake/meshSDK/meshSDKConfig.cmake$" "$tmp/names" || fail "no meshSDKConfig.cmake"
plugins_dir="$(sed -n "s|^$stem/\(.*mesh/plugins\)/replication\.so$|\1|p" "$tmp/names")"
[ -n "$plugins_dir" ] || fail "no bundled replication plugin"

# The binary runs from the unpacked tree and reports the configured version; every manifest
# carries the same version and the sha256 of the .so beside it.
mkdir "$tmp/x"
tar -xzf "$tgz" -C "$tmp/x"
root="$tmp/x/$stem"
[ -x "$root/bin/mesh" ] || fail "bin/mesh is not executable"
got="$("$root/bin/mesh" --version)"
[ "$got" = "mesh $version" ] || fail "mesh --version says '$got', not 'mesh $version'"
n=0
for json in "$root/$plugins_dir"/*.json; do
  so="${json%.json}.so"
  [ -f "$so" ] || fail "$(basename "$json") without its .so"
  grep -q "\"version\": \"$version\"" "$json" || fail "$(basename "$json") is not version $version: $(cat "$json")"
  sum="$(sha256sum "$so" | cut -d' ' -f1)"
  grep -q "\"sha256\": \"$sum\"" "$json" || fail "$(basename "$json") sha256 does not match $(basename "$so")"
  n=$((n + 1))
done
echo "== tarball ok: $(wc -l <"$tmp/names") entries, $n plugin manifests at version $version"

if [ -n "$package_check" ]; then
  minisign -G -W -p "$tmp/k.pub" -s "$tmp/k.sec" >/dev/null
  minisign -S -s "$tmp/k.sec" -m "$tgz" >/dev/null
  "$package_check" "$tgz" "$tmp/k.pub" "$tmp/versions/$version" || fail "the updater refuses the package"
  got="$("$tmp/versions/$version/bin/mesh" --version)"
  [ "$got" = "mesh $version" ] || fail "the unpacked binary says '$got'"
  echo "== the updater verifies and unpacks the tarball; the unpacked mesh runs"
fi

# --- .deb --------------------------------------------------------------------------------
for tool in dpkg-deb dpkg-shlibdeps file; do
  command -v "$tool" >/dev/null || fail "$tool is needed to build and check the .deb (apt-get install dpkg-dev file)"
done
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp" >"$tmp/deb.log" 2>&1 ||
  { cat "$tmp/deb.log"; fail "cpack -G DEB"; }
deb="$(ls "$tmp"/*.deb)"
echo "== $(basename "$deb")"
dpkg-deb -f "$deb" Package Version Architecture Depends
deb_version="$(echo "$version" | sed -E 's/^([0-9]+\.[0-9]+\.[0-9]+)-/\1~/')"
[ "$(dpkg-deb -f "$deb" Version)" = "$deb_version" ] || fail "the .deb is not version $deb_version"
[ "$(dpkg-deb -f "$deb" Architecture)" = "$(dpkg --print-architecture)" ] || fail "wrong architecture"
depends="$(dpkg-deb -f "$deb" Depends)"
echo "$depends" | tr ',' '\n' | sed 's/^ *//; s/ .*//' >"$tmp/depends"
dpkg-deb -c "$deb" | awk '{print $NF}' >"$tmp/deb-names"
p="${prefix#/}"
grep -qx "./$p/bin/mesh" "$tmp/deb-names" || fail "the .deb has no ./$p/bin/mesh"
# The unit starts the binary where the .deb puts it.
dpkg-deb -x "$deb" "$tmp/d"
grep -qx "ExecStart=$prefix/bin/mesh.*" "$tmp/d/$p/lib/systemd/user/mesh.service" ||
  fail "mesh.service does not start $prefix/bin/mesh"
# Every shared library the binary and the plugins load comes from a package in Depends.
# Only ELF files: the bash completion is also called "mesh", and readelf fails on it.
find "$tmp/d" -type f \( -name mesh -o -name '*.so' \) -exec sh -c 'head -c4 "$1" | grep -q ELF' _ {} \; \
  -print >"$tmp/elves"
[ -s "$tmp/elves" ] || fail "no ELF files in the .deb"
xargs readelf -d <"$tmp/elves" >"$tmp/dynamic"
needed="$(sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' "$tmp/dynamic" | sort -u)"
# Files, not pipes into an early-exiting reader: under pipefail a SIGPIPE'd writer fails the run.
ldconfig -p >"$tmp/ldconfig"
for lib in $needed; do
  path="$(awk -v l="$lib" '$1 == l && /x86-64|AArch64|64bit/ {print $NF; exit}' "$tmp/ldconfig")"
  [ -n "$path" ] || path="$(awk -v l="$lib" '$1 == l {print $NF; exit}' "$tmp/ldconfig")"
  [ -n "$path" ] || fail "cannot find $lib"
  real="$(readlink -f "$path")"
  owner="$(dpkg -S "$path" 2>/dev/null || dpkg -S "$real" 2>/dev/null || dpkg -S "/usr$path" 2>/dev/null || true)"
  pkg="${owner%%:*}"
  [ -n "$pkg" ] || fail "$lib ($path) belongs to no Debian package"
  # The package itself, or a name it provides (libspdlog1.10 provides libspdlog1.10-fmt9).
  names="$pkg $(dpkg-query -W -f='${Provides}' "$pkg" 2>/dev/null | tr ',' '\n' | sed 's/^ *//; s/ .*//')"
  found=0
  for n in $names; do
    grep -qx "$n" "$tmp/depends" && found=1
  done
  [ "$found" = 1 ] || fail "$lib comes from $pkg, which is not in Depends: $depends"
done
grep -qx git "$tmp/depends" || fail "git is not in Depends"
echo "== deb ok: $(wc -l <"$tmp/deb-names") entries; every NEEDED library's package is in Depends"

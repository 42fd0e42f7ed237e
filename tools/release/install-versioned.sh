#!/usr/bin/env bash
# Installs a build tree in the layout `mesh update` manages (docs/updates.md):
#   PREFIX/lib/mesh/versions/<version>/   the installed tree (cmake --install)
#   PREFIX/lib/mesh/current  -> versions/<version>
#   PREFIX/lib/mesh/previous -> the version current pointed at before, if another one
#   PREFIX/bin/mesh          -> ../lib/mesh/current/bin/mesh
# so that updates install side by side and switch one link. Used by install.sh and by the
# update tests (tests/integration/update_test.cpp), so both get the same layout.
#
#   tools/release/install-versioned.sh BUILD_DIR PREFIX
#
# Reinstalling a version replaces its tree as a whole (a daemon running from it keeps the
# files it has open). A plain install from an older install.sh (a regular PREFIX/bin/mesh) is
# switched to the links; its PREFIX/lib/mesh/plugins is no longer used.
set -euo pipefail

build="$(cd "${1:?usage: install-versioned.sh BUILD_DIR PREFIX}" && pwd)"
prefix="${2:?usage: install-versioned.sh BUILD_DIR PREFIX}"
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"
version="$("$build/cli/mesh" --version | sed 's/^mesh //')"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]*)?$ ]] ||
  { echo "install-versioned: '$version' is not a version" >&2; exit 1; }

lib="$prefix/lib/mesh"
mkdir -p "$lib/versions" "$prefix/bin"
staging="$lib/versions/.staging-$version-$$"
trap 'rm -rf "$staging"' EXIT
cmake --install "$build" --prefix "$staging" >/dev/null
[ -x "$staging/bin/mesh" ] || { echo "install-versioned: no bin/mesh installed" >&2; exit 1; }

dest="$lib/versions/$version"
if [ -e "$dest" ]; then
  old="$lib/versions/.replaced-$version-$$"
  mv -T "$dest" "$old"
  mv -T "$staging" "$dest"
  rm -rf "$old"
else
  mv -T "$staging" "$dest"
fi

was="$(readlink "$lib/current" 2>/dev/null || true)"
if [ -n "$was" ] && [ "$was" != "versions/$version" ] && [ -d "$lib/$was" ]; then
  ln -sfn "$was" "$lib/previous.new" && mv -Tf "$lib/previous.new" "$lib/previous"
fi
ln -sfn "versions/$version" "$lib/current.new" && mv -Tf "$lib/current.new" "$lib/current"
if [ -e "$prefix/bin/mesh" ] && [ ! -L "$prefix/bin/mesh" ] && [ -d "$lib/plugins" ]; then
  echo "note: $prefix/bin/mesh was a plain install; it now points at $lib/current" \
       "(the old $lib/plugins is no longer used and may be removed)"
fi
ln -sfn "../lib/mesh/current/bin/mesh" "$prefix/bin/mesh.new" && mv -Tf "$prefix/bin/mesh.new" "$prefix/bin/mesh"

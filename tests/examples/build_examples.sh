#!/usr/bin/env bash
# Builds every plugin in examples/ the way a third party would: against the SDK *installed*
# from this build tree (cmake --install --component sdk), never against the source tree, then
# runs each example's own tests. Usage: build_examples.sh <mesh build dir> <mesh source dir>
set -euo pipefail
build="$(cd "$1" && pwd)"
src="$(cd "$2" && pwd)"
prefix="$build/sdk-prefix"
rm -rf "$prefix"
cmake --install "$build" --component sdk --prefix "$prefix" >/dev/null
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
for ex in custom-plugin runner-plugin; do
  out="$build/examples/$ex"
  echo "== examples/$ex against $prefix"
  cmake -S "$src/examples/$ex" -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_PREFIX_PATH="$prefix" "${launcher[@]}" >/dev/null
  cmake --build "$out"
  if [ -f "$out/CTestTestfile.cmake" ]; then
    ctest --test-dir "$out" --output-on-failure
  fi
  ls "$out"/*.so "$out"/*.json
done
# Nothing from the source tree's sdk/ may have been used: the install is what third parties get.
if grep -rq "$src/sdk/include" "$build/examples" --include=*.ninja 2>/dev/null; then
  echo "error: an example was built against the source tree's SDK headers" >&2
  exit 1
fi
echo "examples built against the installed SDK"

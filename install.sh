#!/usr/bin/env bash
# Installs mesh on Debian 12: system packages (only the missing ones), build, install.
#   ./install.sh                  build and install into /usr/local (root) or ~/.local
#   ./install.sh --prefix DIR     install into DIR
#   ./install.sh --test           build and run the whole test suite (plus the sanitizer build)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mode=install
prefix=""
jobs="$(nproc 2>/dev/null || echo 2)"

usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --test) mode=test ;;
    --prefix) shift; prefix="${1:?--prefix needs a directory}" ;;
    --prefix=*) prefix="${1#--prefix=}" ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

# Build and runtime dependencies (PLATFORM.md): Boost 1.81, not Debian's default 1.74.
build_pkgs=(g++ cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-program-options1.81-dev libboost-json1.81-dev
  libgit2-dev libsodium-dev libtomlplusplus-dev libyaml-cpp-dev libspdlog-dev libssl-dev
  zlib1g-dev libgtest-dev libgmock-dev)
# What the tests drive for real: curl and git clients, clang + libFuzzer for the fuzz targets.
test_pkgs=(curl git clang-14 libfuzzer-14-dev libclang-rt-14-dev procps)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

configure_build() {  # dir, extra cmake args...
  local dir="$1"; shift
  cmake -S "$here" -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

if [ "$mode" = test ]; then
  install_missing "${build_pkgs[@]}" "${test_pkgs[@]}"
  # Share the compiler cache between clones of the tree (CI builds a fresh clone each time).
  export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}" CCACHE_BASEDIR="$here" CCACHE_NOHASHDIR=1
  echo "==> build (RelWithDebInfo, -Werror) and test"
  configure_build "$here/build/test" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMESH_WERROR=ON
  (cd "$here/build/test" && ctest -j "$jobs" --output-on-failure --timeout 600)
  echo "==> sanitizer build (ASan+UBSan) and test"
  configure_build "$here/build/asan" -DCMAKE_BUILD_TYPE=Debug -DMESH_WERROR=ON -DMESH_SANITIZE=ON
  (cd "$here/build/asan" && ASAN_OPTIONS=detect_leaks=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest -j "$jobs" --output-on-failure --timeout 900 --label-exclude bench)
  if [ -x "$here/tests/fuzz/run.sh" ]; then
    echo "==> fuzz targets (bounded)"
    FUZZ_SECONDS="${FUZZ_SECONDS:-20}" "$here/tests/fuzz/run.sh" "$here/build/fuzz"
  fi
  echo "==> all tests passed"
  exit 0
fi

install_missing "${build_pkgs[@]}"
if [ -z "$prefix" ]; then
  if [ "$(id -u)" = 0 ]; then prefix=/usr/local; else prefix="$HOME/.local"; fi
fi
echo "==> build (Release)"
configure_build "$here/build/release" -DCMAKE_BUILD_TYPE=Release -DMESH_TESTS=OFF \
  -DCMAKE_INSTALL_PREFIX="$prefix"
echo "==> install into $prefix"
if [ -w "$prefix" ] || { [ ! -e "$prefix" ] && mkdir -p "$prefix" 2>/dev/null; }; then
  cmake --install "$here/build/release" >/dev/null
else
  as_root cmake --install "$here/build/release" >/dev/null
fi
echo "$("$prefix/bin/mesh" --version) installed: $prefix/bin/mesh"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "note: $prefix/bin is not on your PATH; add it with:"
     echo "  export PATH=\"$prefix/bin:\$PATH\"" ;;
esac

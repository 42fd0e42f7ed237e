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
  libboost1.81-dev libboost-program-options1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libgit2-dev libsodium-dev libtomlplusplus-dev libyaml-cpp-dev libspdlog-dev libssl-dev
  zlib1g-dev libgtest-dev libgmock-dev
  libkainjow-mustache-dev libcmark-gfm-dev libcmark-gfm-extensions-dev libjs-sortable
  libarchive-dev libcurl4-openssl-dev)
# What the tests drive for real: curl, git and pygit2 (libgit2/mbedTLS) clients, clang +
# libFuzzer for the fuzz targets, podman (the Docker API the docker runner is tested against)
# with runc and a busybox rootfs for a local image, Chromium for the browser tests, minisign
# for signed test releases, iproute2 for network-namespace topologies.
test_pkgs=(curl git python3-pygit2 clang-14 libfuzzer-14-dev libclang-rt-14-dev procps
  podman runc busybox-static chromium minisign iproute2 dpkg-dev file openssl)

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
  # Node.js for the browser tests and the docker CLI for the docker runner, unless the machine
  # already has them (some images ship newer ones outside Debian's packages).
  command -v node >/dev/null && command -v npm >/dev/null || install_missing nodejs npm
  command -v docker >/dev/null || install_missing docker.io
  if [ -f "$here/tests/browser/package-lock.json" ]; then
    echo "==> browser test packages (playwright-core; the browser is Debian's chromium)"
    npm ci --prefix "$here/tests/browser" --no-audit --no-fund --loglevel=error >/dev/null
  fi
  # Share the compiler cache between clones of the tree (CI builds a fresh clone each time).
  export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}" CCACHE_BASEDIR="$here" CCACHE_NOHASHDIR=1
  echo "==> build (RelWithDebInfo, -Werror) and test"
  configure_build "$here/build/test" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMESH_WERROR=ON
  (cd "$here/build/test" && ctest -j "$jobs" --output-on-failure --timeout 600)
  # Under the sanitizers, everything but what only costs time there (docs/testing.md, "CI time"):
  # the benches; the update end-to-end test, which needs a second, version-bumped build of the
  # whole tree (updater_unit and every daemon test, which load the updater, cover it); the cron
  # test, two minutes of waiting for the clock (ci_unit and fuzz_ci_cron cover the schedule
  # code); and the browser tests, whose daemon side the curl-driven integration tests cover.
  # tools/long-checks/asan-all.sh runs all of them under the sanitizers.
  echo "==> sanitizer build (ASan+UBSan) and test"
  configure_build "$here/build/asan" -DCMAKE_BUILD_TYPE=Debug -DMESH_WERROR=ON -DMESH_SANITIZE=ON
  (cd "$here/build/asan" && ASAN_OPTIONS=detect_leaks=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest -j "$jobs" --output-on-failure --timeout 900 --label-exclude 'bench|browser' \
      --exclude-regex '^integration\.(update_(fixture|test)|ci_cron_test)$')
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
# Side by side under $prefix/lib/mesh/versions/<version>/, with $prefix/bin/mesh a link to the
# current one: the layout `mesh update` switches atomically (docs/updates.md).
echo "==> install into $prefix"
if [ -w "$prefix" ] || { [ ! -e "$prefix" ] && mkdir -p "$prefix" 2>/dev/null; }; then
  "$here/tools/release/install-versioned.sh" "$here/build/release" "$prefix"
else
  as_root "$here/tools/release/install-versioned.sh" "$here/build/release" "$prefix"
fi
echo "$("$prefix/bin/mesh" --version) installed: $prefix/bin/mesh"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "note: $prefix/bin is not on your PATH; add it with:"
     echo "  export PATH=\"$prefix/bin:\$PATH\"" ;;
esac

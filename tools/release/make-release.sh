#!/usr/bin/env bash
# Writes a release directory: served by any static HTTP server, it is a complete release source
# for `mesh update` (docs/releasing.md, docs/updates.md).
#
#   tools/release/make-release.sh --version X.Y.Z --key SECRET.key --out DIR
#                                 (--build BUILD_DIR | --archive mesh-X.Y.Z-linux-ARCH.tar.gz)
#                                 [--deb] [--base-url URL] [--pub PUBLIC.pub] [--no-latest]
#
#   --build DIR     run `cpack -G TGZ` (and DEB with --deb) in a build tree configured with
#                   -DMESH_VERSION=X.Y.Z
#   --archive FILE  use an archive made earlier instead
#   --key FILE      the minisign secret key; minisign asks for its password unless it has none
#   --pub FILE      the release public key: every signature is verified with it after signing
#   --base-url URL  absolute download URLs (URL/download/vX.Y.Z/NAME); default: relative ones,
#                   so the directory works wherever it is served
#   --no-latest     do not point releases/latest at this version (a patch for an old series)
#
# Layout written (GitHub's releases API shape, so the updater reads both the same way):
#   DIR/download/vX.Y.Z/mesh-X.Y.Z-linux-ARCH.tar.gz          the archive
#   DIR/download/vX.Y.Z/mesh-X.Y.Z-linux-ARCH.tar.gz.minisig  `minisign -S` signature
#   DIR/releases/tags/vX.Y.Z                                  release JSON
#   DIR/releases/latest                                       the same, for the newest release
# A published version is immutable: the script refuses to replace an archive that differs.
set -euo pipefail

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "make-release: $*" >&2; exit 1; }

version="" key="" out="" build="" archive="" base_url="" pub="" deb=0 latest=1
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version="${2:?}"; shift ;;
    --key) key="${2:?}"; shift ;;
    --out) out="${2:?}"; shift ;;
    --build) build="${2:?}"; shift ;;
    --archive) archive="${2:?}"; shift ;;
    --base-url) base_url="${2:?}"; shift ;;
    --pub) pub="${2:?}"; shift ;;
    --deb) deb=1 ;;
    --no-latest) latest=0 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument $1" ;;
  esac
  shift
done

[ -n "$version" ] && [ -n "$key" ] && [ -n "$out" ] || { usage >&2; die "--version, --key and --out are required"; }
if [ -n "$build" ] && [ -n "$archive" ] || [ -z "$build" ] && [ -z "$archive" ]; then
  die "give exactly one of --build and --archive"
fi
id='(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)'
semver="^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-$id(\.$id)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?\$"
[[ "$version" =~ $semver ]] || die "'$version' is not a semantic version (X.Y.Z[-pre][+build], no leading v)"
[ ${#version} -le 64 ] || die "the version is longer than 64 characters"
[ -f "$key" ] || die "no secret key at $key"
[ -z "$pub" ] || [ -f "$pub" ] || die "no public key at $pub"
if [ -n "$base_url" ]; then
  base_url="${base_url%/}"
  [[ "$base_url" =~ ^https?://[A-Za-z0-9._~:/@!\$\&\(\)*+,\;=%-]+$ ]] || die "--base-url '$base_url' is not a plain http(s) URL"
fi
command -v minisign >/dev/null || die "minisign is not installed (apt-get install minisign)"
tag="v$version"
prerelease=false
[[ "$version" == *-* ]] && prerelease=true

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
assets=()

if [ -n "$build" ]; then
  config="$build/CPackConfig.cmake"
  [ -f "$config" ] || die "$build is not a configured build tree (no CPackConfig.cmake)"
  built_version="$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$config")"
  [ "$built_version" = "$version" ] || die "$build was configured for version '$built_version', not $version (cmake -DMESH_VERSION=$version)"
  echo "==> cpack -G TGZ in $build"
  cpack -G TGZ --config "$config" -B "$stage" >"$stage/cpack-tgz.log" 2>&1 || { cat "$stage/cpack-tgz.log" >&2; die "cpack -G TGZ failed"; }
  archive="$(ls "$stage"/mesh-"$version"-linux-*.tar.gz)"
  if [ "$deb" = 1 ]; then
    echo "==> cpack -G DEB in $build"
    cpack -G DEB --config "$config" -B "$stage" >"$stage/cpack-deb.log" 2>&1 || { cat "$stage/cpack-deb.log" >&2; die "cpack -G DEB failed"; }
    assets+=("$(ls "$stage"/*.deb)")
  fi
fi
[ -f "$archive" ] || die "no archive at $archive"
name="$(basename "$archive")"
[[ "$name" =~ ^mesh-(.+)-linux-([a-z0-9_]+)\.tar\.gz$ ]] || die "'$name' is not named mesh-<version>-linux-<arch>.tar.gz"
[ "${BASH_REMATCH[1]}" = "$version" ] || die "'$name' is not version $version"
# One top-level directory, named like the archive: what the updater will insist on.
tops="$(tar -tzf "$archive" | cut -d/ -f1 | sed 's|^\./||' | sort -u)"
[ "$tops" = "${name%.tar.gz}" ] || die "$name must hold exactly one top-level directory ${name%.tar.gz}/ (found: $(echo $tops))"
assets=("$archive" "${assets[@]}")

dest="$out/download/$tag"
mkdir -p "$dest" "$out/releases/tags"
for f in "${assets[@]}"; do
  n="$(basename "$f")"
  if [ -e "$dest/$n" ]; then
    cmp -s "$f" "$dest/$n" || die "$dest/$n exists with other content: a published release is never replaced"
    continue
  fi
  cp "$f" "$dest/$n.tmp" && mv "$dest/$n.tmp" "$dest/$n"
done
for f in "${assets[@]}"; do
  n="$(basename "$f")"
  echo "==> minisign -S $n"
  # Plain `minisign -S`: the trusted comment names the file, which is what the updater checks.
  minisign -S -s "$key" -m "$dest/$n"
  if [ -n "$pub" ]; then
    minisign -Vq -p "$pub" -m "$dest/$n" >/dev/null || die "the signature of $n does not verify with $pub: wrong key pair?"
  fi
done

# The release JSON, for releases/tags/<tag> (rel = ../../) and releases/latest (rel = ../).
asset_json() {  # rel
  local rel="$1" first=1 n size sum url
  for f in "${assets[@]}"; do
    for n in "$(basename "$f")" "$(basename "$f").minisig"; do
      size="$(stat -c %s "$dest/$n")"
      sum="$(sha256sum "$dest/$n" | cut -d' ' -f1)"
      if [ -n "$base_url" ]; then url="$base_url/download/$tag/$n"; else url="${rel}download/$tag/$n"; fi
      case "$n" in
        *.minisig) ctype="text/plain" ;; *.deb) ctype="application/vnd.debian.binary-package" ;;
        *) ctype="application/gzip" ;;
      esac
      [ $first = 1 ] || printf ',\n'
      first=0
      printf '    {"name": "%s", "size": %s, "content_type": "%s", "digest": "sha256:%s",\n     "browser_download_url": "%s"}' \
        "$n" "$size" "$ctype" "$sum" "$url"
    done
  done
}
release_json() {  # rel
  printf '{\n  "tag_name": "%s",\n  "name": "mesh %s",\n  "draft": false,\n  "prerelease": %s,\n' "$tag" "$version" "$prerelease"
  printf '  "published_at": "%s",\n  "assets": [\n%s\n  ]\n}\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(asset_json "$1")"
}
write_atomic() {  # file, content
  printf '%s' "$2" >"$1.tmp" && mv "$1.tmp" "$1"
}
write_atomic "$out/releases/tags/$tag" "$(release_json ../../)"$'\n'
echo "==> wrote $out/releases/tags/$tag"

# releases/latest moves forward only, and never to a pre-release (GitHub's rule too).
if [ "$latest" = 1 ] && [ "$prerelease" = false ]; then
  current="$(sed -n 's/^  "tag_name": "v\(.*\)",$/\1/p' "$out/releases/latest" 2>/dev/null || true)"
  newer=1
  if [ -n "$current" ] && [ "$current" != "$version" ]; then
    # Release versions only (no pre-release): comparing MAJOR.MINOR.PATCH numerically is exact.
    highest="$(printf '%s\n%s\n' "${current%%+*}" "${version%%+*}" | sort -t. -k1,1n -k2,2n -k3,3n | tail -1)"
    [ "$highest" = "${version%%+*}" ] || newer=0
  fi
  if [ "$newer" = 1 ]; then
    write_atomic "$out/releases/latest" "$(release_json ../)"$'\n'
    echo "==> wrote $out/releases/latest"
  else
    echo "==> releases/latest stays at v$current (newer than $version)"
  fi
fi

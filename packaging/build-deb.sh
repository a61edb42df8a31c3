#!/usr/bin/env bash
# Builds the Debian package: exports the source tree (the files git tracks, plus new ones it does not
# ignore, so build directories stay out) to a temporary directory, places packaging/debian there as
# debian/, runs `dpkg-buildpackage -us -uc -b` (tests are not built: CI runs them on its own builds)
# and copies the .deb (and its -dbgsym and build log) into OUTPUT_DIR (default build-deb/ in the
# source tree, which git ignores). Installs the build tools it needs.
#   bash packaging/build-deb.sh [OUTPUT_DIR]
#   apt-get install ./build-deb/rtmpt-gateway_*.deb
set -euo pipefail
out=${1:-$(dirname "$0")/../build-deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
root=$(pwd)

bash packaging/install-deps.sh

# The package version is the project's: debian/changelog must say the same as meson.build.
project_version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" meson.build | head -n 1)
deb_version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
if [ "$project_version" != "$deb_version" ]; then
  echo "build-deb: meson.build says version $project_version, packaging/debian/changelog $deb_version;" \
    "add a changelog entry (dch -v $project_version)" >&2
  exit 1
fi

work=$(mktemp -d /tmp/rtmpt-gateway-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
src="$work/rtmpt-gateway-$deb_version"
mkdir -p "$src"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # Tracked files as they are in the work tree (deleted ones skipped), and untracked ones not ignored.
  git -C "$root" ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do if [ -e "$root/$f" ]; then printf '%s\0' "$f"; fi; done |
    tar -C "$root" --null -T - -cf - | tar -C "$src" -xf -
else
  tar -C "$root" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$src" -xf -
fi
rm -rf "$src/debian"
cp -r "$src/packaging/debian" "$src/debian"

echo "build-deb: dpkg-buildpackage -us -uc -b in $src"
(cd "$src" && DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -us -uc -b) \
  >"$work/build.log" 2>&1 || {
  tail -n 80 "$work/build.log" >&2
  echo "build-deb: dpkg-buildpackage failed" >&2
  exit 1
}
grep -E "^dpkg-deb: building package" "$work/build.log" || true
cp "$work/build.log" "$out/rtmpt-gateway_${deb_version}_$(dpkg --print-architecture).build"
for f in "$work"/*.deb; do
  cp "$f" "$out/"
  echo "build-deb: $out/$(basename "$f")"
done

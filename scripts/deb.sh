#!/bin/bash
# make deb: builds the Debian package libnginx-mod-http-evbus into build/
# (debian/, debhelper and dh_nginx; the module is compiled by
# scripts/build.sh) and runs lintian on it.  See docs/packaging.md.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build
stage=$out/deb
cd "$top"

# one version: the module's, debian/changelog's and CHANGELOG.md's newest
ver=$(sed -n 's/^#define NGX_EVBUS_VERSION *"\(.*\)"$/\1/p' \
      src/ngx_evbus_version.h)
deb_ver=$(dpkg-parsechangelog -l debian/changelog -S Version)
md_ver=$(sed -n 's/^## \([0-9][^ ]*\).*/\1/p' CHANGELOG.md | head -1)
if [ -z "$ver" ] || [ "$ver" != "$deb_ver" ] || [ "$ver" != "$md_ver" ]; then
    echo "version mismatch: src/ngx_evbus_version.h '$ver'," \
         "debian/changelog '$deb_ver', CHANGELOG.md '$md_ver'" >&2
    exit 1
fi

# build from a copy, so the checkout gets no debhelper droppings and the
# native source tarball holds no build/, .cache/ or run/
src=$stage/libnginx-mod-http-evbus-$ver
rm -rf "$stage"
mkdir -p "$src"
tar -c --exclude=./.git --exclude=./build --exclude=./.cache --exclude=./run \
    --exclude=./t/tmp --exclude=./bench/results --exclude='*.o' -f - . \
    | tar -x -C "$src"

(cd "$src" && dpkg-buildpackage -us -uc) > "$stage/build.log" 2>&1 || {
    tail -50 "$stage/build.log" >&2
    echo "dpkg-buildpackage failed; full log: $stage/build.log" >&2
    exit 1
}

arch=$(dpkg-architecture -q DEB_HOST_ARCH)
changes=$stage/libnginx-mod-http-evbus_${ver}_$arch.changes
pkg=libnginx-mod-http-evbus_${ver}_$arch.deb

rm -f "$out"/libnginx-mod-http-evbus_*.deb
cp "$stage/$pkg" "$out/$pkg"

# warnings and errors fail the build; what is left (info, pedantic) is
# printed; overrides are explained in debian/*lintian-overrides
lintian --info --display-info --pedantic --fail-on error,warning \
    "$changes" 2>&1 | tee "$stage/lintian.log"

echo "built $out/$pkg"
dpkg-deb -I "$out/$pkg" | sed -n '/Package:/,$p'
dpkg-deb -c "$out/$pkg" | awk '{print "  " $NF}'

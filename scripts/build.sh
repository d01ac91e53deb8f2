#!/bin/bash
# Builds the dynamic module against the configured header tree of
# Debian's nginx-dev (or any nginx source tree given as $1).
set -euo pipefail

ngx_src=$1 build=$2 cc_opt=$3 ld_opt=$4 out=$5
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$build/nginx

mkdir -p "$build"

# EVBUS_NGX_CONF_FLAGS=1 (the Debian package): configure with the flags
# Debian's nginx itself was built with (nginx-dev's conf_flags), not only
# the two that binary compatibility needs.
conf_flags=(--with-compat --with-threads)
if [ "${EVBUS_NGX_CONF_FLAGS:-0}" = 1 ]; then
    # shellcheck disable=SC1091
    . "$ngx_src/conf_flags"
    conf_flags=("${NGX_CONF_FLAGS[@]}")
fi
stamp="$ngx_src|$cc_opt|$ld_opt|${conf_flags[*]}"

if [ ! -f "$tree/.configured" ] || [ "$top/config" -nt "$tree/.configured" ] \
   || [ "$(cat "$tree/.configured")" != "$stamp" ]
then
    rm -rf "$tree"
    cp -r "$ngx_src" "$tree"
    (cd "$tree" && ./configure "${conf_flags[@]}" \
        --add-dynamic-module="$top" \
        --with-cc-opt="-Wall -Wextra -Wno-unused-parameter $cc_opt" \
        --with-ld-opt="$ld_opt" > "$build/configure.log" 2>&1) || {
        cat "$build/configure.log" >&2
        exit 1
    }
    echo "$stamp" > "$tree/.configured"
fi

make -s -C "$tree" -f objs/Makefile modules
install -m 0755 "$tree/objs/ngx_http_evbus_module.so" "$out.tmp"

# The module loads only into an nginx with the same signature: Debian's
# by default, or the one built from another tree ($EVBUS_NGINX, e.g.
# nginx.org's mainline built from the tree given as $1; docs/mainline.md).
nginx_bin=${EVBUS_NGINX:-/usr/sbin/nginx}
if [ -n "${EVBUS_NGINX:-}" ] && [ ! -x "$nginx_bin" ]; then
    echo "EVBUS_NGINX=$nginx_bin is not an executable" >&2
    exit 1
fi
want=$(strings "$nginx_bin" 2>/dev/null | grep -m1 '^8,4,8,' || true)
have=$(strings "$out.tmp" | grep -m1 '^8,4,8,' || true)
if [ -n "$want" ] && [ "$want" != "$have" ]; then
    echo "module signature $have differs from $nginx_bin's $want" >&2
    if [ -z "${EVBUS_NGINX:-}" ]; then
        echo "(built against $ngx_src: set EVBUS_NGINX to the nginx" \
             "built from that tree)" >&2
    fi
    rm -f "$out.tmp"
    exit 1
fi
mv -f "$out.tmp" "$out"
echo "built $out"

#!/bin/bash
# Installs the Debian packages a target needs, only when some are missing.
set -euo pipefail

build="gcc make nginx nginx-dev librdkafka-dev libyajl-dev libxxhash-dev
       libpcre2-dev zlib1g-dev libssl-dev binutils"
test="kcat curl perl libjson-pp-perl xxhash openjdk-17-jre-headless maven"
bench="wrk kcat curl"
fuzz="clang libclang-rt-14-dev"
deb="build-essential debhelper dpkg-dev fakeroot lintian"

case "${1:-build}" in
    build) want=$build ;;
    test)  want="$build $test" ;;
    bench) want="$build $test $bench" ;;
    fuzz)  want="$build $fuzz" ;;
    deb)   want="$build $deb" ;;
    all)   want="$build $test $bench $fuzz $deb" ;;
    *)     echo "usage: $0 build|test|bench|fuzz|deb|all" >&2; exit 2 ;;
esac

missing=
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
        || missing="$missing $p"
done

[ -z "$missing" ] && exit 0

echo "installing:$missing"
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null

#!/bin/bash
# Installs the Debian packages a make target needs, only when some are
# missing: build (make, make unit), run (make run: a broker needs java and
# maven, the demo kcat, curl and perl), test (make test, test-asan,
# test-cluster), browser (the browser SDK's test: Chromium and Node.js,
# part of test), bench, bench-core, fuzz, all.
set -euo pipefail

build="gcc make nginx nginx-dev librdkafka-dev libyajl-dev libxxhash-dev
       libpcre2-dev zlib1g-dev libssl-dev binutils"
run="kcat curl perl libjson-pp-perl openjdk-17-jre-headless maven"
test="xxhash strace prometheus nodejs"
command -v npm >/dev/null || test="$test npm"    # t/71: analytics-node
bench="wrk"
core="valgrind"
fuzz="clang libclang-rt-14-dev"
deb="build-essential debhelper dpkg-dev fakeroot lintian"
# Node.js with npm (Debian's nodejs has no npm; other builds of nodejs
# bring their own, and Debian's npm would conflict with them)
browser="chromium nodejs"
command -v npm >/dev/null || browser="$browser npm"

case "${1:-build}" in
    build) want=$build ;;
    run)   want="$build $run" ;;
    test)  want="$build $run $test $browser" ;;
    browser) want=$browser ;;
    bench) want="$build $run $bench" ;;
    bench-core) want="$build $core" ;;
    fuzz)  want="$build $fuzz" ;;
    deb)   want="$build $deb" ;;
    all)   want="$build $run $test $browser $bench $core $fuzz $deb" ;;
    *)     echo "usage: $0 build|run|test|browser|bench|bench-core|fuzz|deb|all" >&2
           exit 2 ;;
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

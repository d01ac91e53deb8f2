#!/bin/bash
# Builds every unit test program of the event core (t/unit/test_*.c) with
# ASan and UBSan into the given directory, linked with the core's sources,
# runs them and prints one TAP stream: each program is a subtest, its own
# TAP indented, then "ok N - test_NAME" or "not ok N - test_NAME (why)".
# make test runs this once, as t/00-unit.t; make unit runs it directly.
#
#   scripts/unit.sh [dir [NAME]]    NAME (e.g. event): only t/unit/test_NAME.c,
#                                   its own TAP as is
#
# The core's sources and libraries come from the Makefile (CORE_SRCS,
# CORE_LIBS), through EVBUS_CORE_SRCS / EVBUS_CORE_LIBS or make itself.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-build/unit}
only=${2:-}

cd "$top" || exit 1
mkdir -p "$out" || exit 1

srcs=${EVBUS_CORE_SRCS:-$(make -s --no-print-directory -C "$top" core-sources)}
libs=${EVBUS_CORE_LIBS:-$(make -s --no-print-directory -C "$top" core-libs)}
[ -n "$srcs" ] || { echo "unit: no core sources (make core-sources)" >&2; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# build NAME: t/unit/test_NAME.c into $out/test_NAME; compiler errors on
# stderr
build() {
    # shellcheck disable=SC2086
    ${CC:-gcc} -Wall -Wextra -Werror -g -O1 -fno-omit-frame-pointer \
        -fsanitize=address,undefined -fno-sanitize-recover=all \
        -I src -I t/unit $srcs "t/unit/test_$1.c" $libs -o "$out/test_$1"
}

if [ -n "$only" ]; then
    [ -f "t/unit/test_$only.c" ] || { echo "unit: no t/unit/test_$only.c" >&2; exit 1; }
    build "$only" || exit 1
    exec "$out/test_$only"
fi

names=()
for f in t/unit/test_*.c; do
    [ -e "$f" ] || continue
    f=${f#t/unit/test_}
    names+=("${f%.c}")
done
[ "${#names[@]}" -gt 0 ] || { echo "unit: no t/unit/test_*.c" >&2; exit 1; }

echo "1..${#names[@]}"
rc=0 i=0
for name in "${names[@]}"; do
    i=$((i + 1))
    echo "# Subtest: test_$name"
    if ! build "$name"; then
        echo "not ok $i - test_$name (does not build)"
        rc=1
        continue
    fi
    # the program's TAP indented; its stderr (sanitizer reports) as is
    "$out/test_$name" | tee "$out/test_$name.tap" | sed 's/^/    /'
    st=${PIPESTATUS[0]}
    if [ "$st" = 0 ]; then
        echo "ok $i - test_$name"
    else
        failed=$(sed -n 's/^not ok \([0-9]*\).*/\1/p' "$out/test_$name.tap" \
                 | head -20 | tr '\n' ' ')
        echo "not ok $i - test_$name (exit status $st${failed:+; failed: ${failed% }})"
        rc=1
    fi
done
exit $rc

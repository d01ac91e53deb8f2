#!/bin/sh

# Builds the unit tests of the event core, of the schemas and of the spool
# records with ASan and UBSan into the given directory, runs them and
# prints their TAP.
# usage: unit.sh [dir [event|schema|spool_record]]; without a name all run,
# one after the other, and the exit status says whether all passed.

set -e

out=${1:-build/unit}
only=${2:-}

cd "$(dirname "$0")/.."
mkdir -p "$out"

build() {
    case $1 in
    spool_record) srcs=src/ngx_evbus_spool_record.c ;;
    *) srcs="src/ngx_evbus_event.c src/ngx_evbus_schema.c src/ngx_evbus_uuid.c"
    esac

    ${CC:-gcc} -Wall -Wextra -Werror -g -O1 -fno-omit-frame-pointer \
        -fsanitize=address,undefined -fno-sanitize-recover=all \
        -I src $srcs "t/unit/test_$1.c" \
        -lyajl -lpcre2-8 -o "$out/test_$1"
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [ -n "$only" ]; then
    build "$only"
    exec "$out/test_$only"
fi

build event
build schema
build spool_record

rc=0
"$out/test_event" || rc=1
"$out/test_schema" || rc=1
"$out/test_spool_record" || rc=1
exit $rc

#!/bin/sh

# Builds the unit tests of the event core with ASan and UBSan into the
# given directory, runs them and prints their TAP.

set -e

out=${1:-build/unit}

cd "$(dirname "$0")/.."
mkdir -p "$out"

${CC:-gcc} -Wall -Wextra -Werror -g -O1 -fno-omit-frame-pointer \
    -fsanitize=address,undefined -fno-sanitize-recover=all \
    -I src src/ngx_evbus_event.c src/ngx_evbus_uuid.c t/unit/*.c \
    -lyajl -o "$out/test_event"

ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
exec "$out/test_event"

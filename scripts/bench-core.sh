#!/bin/sh

# Instruction counts of the event core alone (t/unit/bench_core.c):
# batches of 100 purchase events without schemas, with schemas, and with
# schemas and JIT-compiled patterns, under callgrind; not part of make test.
# usage: bench-core.sh [dir [batches]]; CFLAGS as nginx builds (-O) unless
# BENCH_CFLAGS says otherwise.

set -e

out=${1:-build/bench-core}
batches=${2:-20}

cd "$(dirname "$0")/.."
mkdir -p "$out"

${CC:-gcc} -Wall -Wextra -Werror -g ${BENCH_CFLAGS:--O} \
    -I src src/ngx_evbus_event.c src/ngx_evbus_schema.c \
    src/ngx_evbus_uuid.c src/ngx_evbus_json.c t/unit/bench_core.c \
    -lyajl -lpcre2-8 -o "$out/bench_core"

"$out/bench_core" noschema 2000
"$out/bench_core" schema 2000
BENCH_JIT=1 "$out/bench_core" schema 2000

if ! command -v valgrind > /dev/null; then
    echo "no valgrind: no instruction counts" >&2
    exit 0
fi

for mode in noschema schema schema-jit; do
    jit=0
    arg=$mode

    if [ "$mode" = schema-jit ]; then
        jit=1
        arg=schema
    fi

    BENCH_JIT=$jit valgrind --tool=callgrind --toggle-collect=run_batches \
        --callgrind-out-file="$out/callgrind.$mode" \
        "$out/bench_core" "$arg" "$batches" > /dev/null 2>&1

    ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$out/callgrind.$mode")
    echo "$mode: $((ir / (batches * 100))) instructions an event"
done

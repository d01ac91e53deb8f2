#!/bin/sh

# Builds the libFuzzer target of the event core (split, validate against
# conf-examples/schemas, enrich) with clang and ASan/UBSan, and runs it for
# FUZZ_TIME seconds (default 60) from the seed corpus in fuzz/corpus.
# New inputs go to build/fuzz/corpus, crashes to build/fuzz/: turn each
# into a regression test in t/unit/test_schema.c (test_fuzz_regressions).

set -e

cd "$(dirname "$0")/.."

out=build/fuzz
time=${FUZZ_TIME:-60}
cc=${FUZZ_CC:-clang-14}

command -v "$cc" >/dev/null 2>&1 || cc=clang
command -v "$cc" >/dev/null 2>&1 || {
    echo "fuzz: clang is required: apt-get install clang libclang-rt-14-dev" >&2
    exit 1
}

mkdir -p "$out/corpus"

"$cc" -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I src -I t/unit src/ngx_evbus_event.c src/ngx_evbus_schema.c \
    src/ngx_evbus_uuid.c src/ngx_evbus_json.c \
    fuzz/fuzz_event.c -lyajl -lpcre2-8 -o "$out/fuzz_event"

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

exec "$out/fuzz_event" -max_total_time="$time" -max_len=65536 \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/" "$out/corpus" fuzz/corpus

#!/bin/sh

# Builds the libFuzzer targets with clang and ASan/UBSan and runs them for
# FUZZ_TIME seconds in all (default 60): three quarters to the event core
# (split, validate against conf-examples/schemas, enrich; seeds in
# fuzz/corpus), a quarter to the spool record decoder (torn and corrupt
# spool files; seeds in fuzz/corpus_spool_record).
# New inputs go to build/fuzz/corpus*, crashes to build/fuzz/: turn each
# into a regression test in t/unit/test_schema.c (test_fuzz_regressions)
# or t/unit/test_spool_record.c.

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

mkdir -p "$out/corpus" "$out/corpus_spool_record"

"$cc" -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I src -I t/unit src/ngx_evbus_event.c src/ngx_evbus_schema.c src/ngx_evbus_uuid.c \
    fuzz/fuzz_event.c -lyajl -lpcre2-8 -o "$out/fuzz_event"

"$cc" -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I src src/ngx_evbus_spool_record.c fuzz/fuzz_spool_record.c \
    -o "$out/fuzz_spool_record"

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

record_time=$((time / 4))
[ "$record_time" -ge 5 ] || record_time=5
event_time=$((time - record_time))
[ "$event_time" -ge 5 ] || event_time=5

"$out/fuzz_event" -max_total_time="$event_time" -max_len=65536 \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/" "$out/corpus" fuzz/corpus

exec "$out/fuzz_spool_record" -max_total_time="$record_time" \
    -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/spool_record-" "$out/corpus_spool_record" \
    fuzz/corpus_spool_record

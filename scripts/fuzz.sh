#!/bin/bash
# make fuzz: builds every libFuzzer target fuzz/fuzz_NAME.c with clang and
# ASan/UBSan, linked with the event core's sources (the Makefile's
# CORE_SRCS), and for each one:
#   1. runs its regression inputs once (inputs that crashed it before):
#      any failure stops here;
#   2. fuzzes from its seed corpus for its share of FUZZ_TIME seconds
#      (default 60 in all, split evenly between the targets, at least 10
#      each); new inputs go to build/fuzz/NAME/corpus, and a crash, timeout
#      or out-of-memory input is kept in the regressions directory, to be
#      committed with its fix (and a named unit test).
#
# Layout: fuzz/fuzz_event.c keeps its inputs at the top of fuzz/corpus/ and
# fuzz/regressions/ (t/unit/test_schema.c replays them); any other target
# fuzz/fuzz_NAME.c uses fuzz/corpus/NAME/ and fuzz/regressions/NAME/.
#
#   scripts/fuzz.sh [NAME...]     only these targets (default: all)
#   FUZZ_TIME=20 make fuzz
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

out=build/fuzz
time=${FUZZ_TIME:-60}
cc=${FUZZ_CC:-clang-14}

command -v "$cc" >/dev/null 2>&1 || cc=clang
command -v "$cc" >/dev/null 2>&1 || {
    echo "fuzz: clang is required: scripts/deps.sh fuzz" >&2
    exit 1
}

srcs=${EVBUS_CORE_SRCS:-$(make -s --no-print-directory -C "$top" core-sources)}
libs=${EVBUS_CORE_LIBS:-$(make -s --no-print-directory -C "$top" core-libs)}

names=("$@")
if [ "${#names[@]}" = 0 ]; then
    for f in fuzz/fuzz_*.c; do
        [ -e "$f" ] || continue
        f=${f#fuzz/fuzz_}
        names+=("${f%.c}")
    done
fi
[ "${#names[@]}" -gt 0 ] || { echo "fuzz: no fuzz/fuzz_*.c" >&2; exit 1; }

each=$((time / ${#names[@]}))
[ "$each" -ge 10 ] || each=10

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for name in "${names[@]}"; do
    [ -f "fuzz/fuzz_$name.c" ] || { echo "fuzz: no fuzz/fuzz_$name.c" >&2; exit 1; }
    if [ "$name" = event ]; then
        seeds=fuzz/corpus regs=fuzz/regressions
    else
        seeds=fuzz/corpus/$name regs=fuzz/regressions/$name
    fi
    work=$out/$name
    bin=$work/fuzz_$name
    mkdir -p "$work/corpus" "$regs"

    echo "fuzz: building $bin"
    # shellcheck disable=SC2086
    "$cc" -g -O1 -fno-omit-frame-pointer \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -I src -I t/unit $srcs "fuzz/fuzz_$name.c" $libs -o "$bin"

    # the regression inputs: files at the top of $regs (not README)
    regressions=()
    for f in "$regs"/*; do
        [ -f "$f" ] && [ "${f##*/}" != README ] && regressions+=("$f")
    done
    if [ "${#regressions[@]}" -gt 0 ]; then
        echo "fuzz: $name: ${#regressions[@]} regression inputs from $regs/"
        "$bin" -timeout=10 -rss_limit_mb=2048 "${regressions[@]}" \
            >"$work/regressions.log" 2>&1 || {
            cat "$work/regressions.log" >&2
            echo "fuzz: $name: a regression input in $regs/ fails again" >&2
            exit 1
        }
    fi

    # the seeds (files at the top of $seeds) join the working corpus, so
    # libFuzzer reads no other target's subdirectory
    find "$seeds" -maxdepth 1 -type f ! -name README \
        -exec cp -f -t "$work/corpus" {} + 2>/dev/null || true

    echo "fuzz: $name: ${each} s from $seeds/ ($(ls "$work/corpus" | wc -l)" \
         "inputs); crashes go to $regs/"
    "$bin" -max_total_time="$each" -max_len=65536 \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$regs/" "$work/corpus" || {
        echo "fuzz: $name failed: the input is in $regs/ (commit it with" \
             "the fix)" >&2
        exit 1
    }
done

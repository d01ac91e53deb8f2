#!/bin/bash
# The whole suite with the module built with AddressSanitizer and
# UndefinedBehaviorSanitizer, loaded into Debian's nginx with the
# sanitizer runtimes preloaded.  Reports reach error.log (nginx sends a
# daemon's stderr there), where every test file looks for them.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build/asan

asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)

for lib in "$asan" "$ubsan"; do
    if [ ! -e "$lib" ]; then
        echo "test-asan: $lib not found (apt-get install gcc)" >&2
        exit 1
    fi
done

make -s -C "$top" module BUILD="$build" \
    EVBUS_CC_OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
    EVBUS_LD_OPT="-fsanitize=address,undefined"

export EVBUS_MODULE=$build/ngx_http_evbus_module.so
export EVBUS_PRELOAD="$asan $ubsan"
# nginx frees its pools at exit but not every cycle allocation: leaks are
# not what this run looks for; memory errors and undefined behaviour are
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

exec "$top/scripts/test.sh" "$@"

#!/bin/bash
# Integration tests (make test): runs t/*.t with prove against a Kafka broker
# on 127.0.0.1:$KAFKA_PORT.  When none answers there, starts one with
# scripts/kafka.sh and stops it again at exit (only the one it started).
#
#   scripts/test.sh                 all of t/
#   scripts/test.sh t/01-ingest.t   some tests
#   TEST_VERBOSE=1 scripts/test.sh  prove -v
#   PROVE_ARGS='-j2' ...            extra prove options
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

export KAFKA_PORT=${KAFKA_PORT:-9092}
export EVBUS_BROKERS=${EVBUS_BROKERS:-127.0.0.1:$KAFKA_PORT}
export EVBUS_MODULE=${EVBUS_MODULE:-$REPO/build/ngx_http_evbus_module.so}
export EVBUS_KAFKA_SH=$REPO/scripts/kafka.sh
# Tests that need a broker must not skip for want of one under this script.
export EVBUS_REQUIRE_KAFKA=1

[ -f "$EVBUS_MODULE" ] || { echo "test: $EVBUS_MODULE not built (make module)" >&2; exit 1; }
command -v prove >/dev/null || { echo "test: prove not found (scripts/deps.sh test)" >&2; exit 1; }
command -v kcat >/dev/null || { echo "test: kcat not found (scripts/deps.sh test)" >&2; exit 1; }

answers() {
    timeout 10 kcat -b "$EVBUS_BROKERS" -L -t evbus-test-warmup -m 3 2>/dev/null | grep -q ' broker '
}

started_kafka=0
finish() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$started_kafka" = 1 ]; then
        "$EVBUS_KAFKA_SH" stop || true
    fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if answers; then
    echo "test: using the Kafka broker at $EVBUS_BROKERS"
else
    # A broker of ours already running (e.g. still starting) is not ours
    # to stop afterwards.
    "$EVBUS_KAFKA_SH" pid >/dev/null 2>&1 || started_kafka=1
    "$EVBUS_KAFKA_SH" start
fi

# A broker that has just started answers metadata requests before it is
# quick at creating topics: the first tests would otherwise pay for it
# (an evbus_ack kafka request timing out on a cold broker). One message,
# flushed, to an auto-created topic.
echo warm | timeout 60 kcat -b "$EVBUS_BROKERS" -P -t evbus-test-warmup \
    -X message.timeout.ms=50000 2>/dev/null \
    || echo "test: warning: the broker did not take a first message" >&2

args=(-r --timer)
[ "${TEST_VERBOSE:-0}" = 1 ] && args+=(-v)
# shellcheck disable=SC2206
args+=(${PROVE_ARGS:-})
[ $# -gt 0 ] || set -- t/

t0=$SECONDS
rc=0
prove "${args[@]}" "$@" || rc=$?
echo "test: prove exited $rc after $((SECONDS - t0)) s"
exit "$rc"

#!/bin/bash
# Benchmark part "ack": evbus_ack kafka (the answer waits for the broker's
# acknowledgement), one nginx instance per linger.ms in BENCH_ACK_LINGERS
# (an http-level producer setting), BENCH_ACK_CONNECTIONS connections.
# Rows: ack-kafka-l<N>; compared with the http part's evbus-single.
# Run alone: scripts/bench/ack.sh; every part: scripts/bench.sh.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_part_ack() {
    local l
    for l in $BENCH_ACK_LINGERS; do
        hr
        start_nginx "ack-l$l" nginx.conf.in "$BROKER" \
            "${BENCH_KAFKA_PROPERTIES:-} linger.ms=$l"
        TOPIC[ack-l$l/ack]=bench-ack-l$l-$RUNID
        SCEN_CONNECTIONS=$BENCH_ACK_CONNECTIONS
        scenario_wrk "ack-kafka-l$l" "ack kafka, linger.ms=$l, single" /ack \
            single click "${TOPIC[ack-l$l/ack]}"
        SCEN_CONNECTIONS=$BENCH_CONNECTIONS
        check_instance /ack
    done
}

[ "${BASH_SOURCE[0]}" != "$0" ] || bench_run ack

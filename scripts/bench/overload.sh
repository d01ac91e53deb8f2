#!/bin/bash
# Benchmark part "overload": Kafka (librdkafka's mock cluster, its broker's
# RTT raised) takes about half of what the clients offer; a 90% low
# (impression) / 10% high (purchase) stream, one event per request, goes to
# /prio (evbus_priority, default evbus_shed) and then to /plain (no
# priorities), instance "overload".  Rows overload-prio and
# overload-plain, and for each: the share of high and of low events
# admitted (from evbus_events_total per type) and the p99 latency of the
# admitted requests (nginx's $request_time of the 2xx answers).
#
# The throttle: each worker's producer sends one request at a time
# (max.in.flight.requests.per.connection=1) of at most BATCH messages
# (batch.num.messages) to a broker that answers after RTT ms, so Kafka
# takes at most workers x BATCH / RTT messages a second; RTT is set from
# the rate measured with the broker unthrottled.  The queue is small
# (queue.buffering.max.messages=QMAX) so that it fills within seconds.
# BENCH_OVERLOAD=0 skips it.
# Run alone: scripts/bench/overload.sh; every part: scripts/bench.sh.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OVL_BATCH=${OVL_BATCH:-200}
OVL_QMAX=${OVL_QMAX:-5000}
declare -gA OV

# the mock cluster, a coprocess: commands on its stdin, "ok" on its stdout
mock_cmd() {
    local r
    echo "$1" >&"${MOCK[1]}"
    read -r -t 10 r <&"${MOCK[0]}" || r=
    [ "$r" = ok ] || die "mock cluster: \"$1\" answered \"$r\""
}

# metric deltas of one run, per type: accepted, refused (rejected + shed)
ovl_counts() {
    local t
    fetch_metrics
    for t in purchase impression; do
        echo "$(metric "evbus_events_total{event_type=\"$t\",outcome=\"accepted\"}")" \
             "$(( $(metric "evbus_events_total{event_type=\"$t\",outcome=\"rejected\"}") \
                + $(metric "evbus_events_total{event_type=\"$t\",outcome=\"shed\"}") ))"
    done | tr '\n' ' '
    echo
}

# p99 of $request_time (ms) over the 2xx lines of an access log after
# line $2
ovl_p99() {
    tail -n +"$(($2 + 1))" "$1" | awk '$1 ~ /^2/ { print $2 * 1000 }' \
        | sort -n | awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "-"; exit }
            i = int(NR * 0.99); if (i < 1) i = 1; printf "%.1f", v[i] }'
}

# Kafka at most half of the last run_wrk's rate: the broker's RTT for
# 2 workers x OVL_BATCH messages per request
ovl_throttle() {
    local offered rtt
    offered=$(awk -v n="${W[requests]}" -v d="${W[duration_us]}" \
        'BEGIN { printf "%.0f", n / (d / 1e6) }')
    rtt=$(awk -v o="$offered" -v b="$OVL_BATCH" \
        'BEGIN { r = 2 * b * 1000 / (o / 2); printf "%d", r < 1 ? 1 : r + 0.5 }')
    mock_cmd "rtt 1 $rtt"
    OV[$1-rate]=$offered
    OV[$1-rtt]=$rtt
    say "$1: offered $(num "$offered") events/s; broker RTT $rtt ms: Kafka" \
        "takes at most $(num $((2 * OVL_BATCH * 1000 / rtt))) events/s"
}

ovl_run() {
    local name=$1 loc=$2 what=$3 c0 c1 l0 a
    local pa0 pr0 ia0 ir0 pa1 pr1 ia1 ir1
    SCEN_CONNECTIONS=$BENCH_CONNECTIONS
    hr
    say "$name: ${BENCH_OVERLOAD_FILL}s of load first, to fill the queue"
    run_wrk "$loc" single mix "$RUNID-$name-f" "$BENCH_OVERLOAD_FILL"
    # the rate offered under overload (refusals are cheaper than produce
    # calls): throttle Kafka to half of it, then fill again
    ovl_throttle "$name"
    run_wrk "$loc" single mix "$RUNID-$name-g" 2
    read -r pa0 pr0 ia0 ir0 < <(ovl_counts)
    l0=$(wc -l <"$IPREFIX/${loc#/}.log")
    SCEN_WARMUP=1
    scenario_wrk "$name" "$what" "$loc" single mix
    SCEN_WARMUP=$BENCH_WARMUP
    read -r pa1 pr1 ia1 ir1 < <(ovl_counts)
    OV[$name-high]=$(awk -v a=$((pa1 - pa0)) -v r=$((pr1 - pr0)) \
        'BEGIN { printf "%.1f", a + r ? 100 * a / (a + r) : 0 }')
    OV[$name-low]=$(awk -v a=$((ia1 - ia0)) -v r=$((ir1 - ir0)) \
        'BEGIN { printf "%.1f", a + r ? 100 * a / (a + r) : 0 }')
    OV[$name-admitted]=$(( (pa1 - pa0) + (ia1 - ia0) ))
    OV[$name-offered]=$(( (pa1 - pa0) + (pr1 - pr0) + (ia1 - ia0) + (ir1 - ir0) ))
    OV[$name-p99]=$(ovl_p99 "$IPREFIX/${loc#/}.log" "$l0")
    OV[$name-all]=$(awk -v a="${OV[$name-admitted]}" -v o="${OV[$name-offered]}" \
        'BEGIN { printf "%.1f", o ? 100 * a / o : 0 }')
    say "$name: high admitted ${OV[$name-high]}%, low admitted" \
        "${OV[$name-low]}% ($(num "${OV[$name-admitted]}") of" \
        "$(num "${OV[$name-offered]}") events, warm-up included);" \
        "p99 of the admitted requests ${OV[$name-p99]} ms"
    # drain the queue before the next run
    a=$(wait_topic "${TOPIC[$INST$loc]}" "${ACCEPTED[$INST$loc]}")
}

bench_part_overload() {
    local bin mockline boot a
    hr
    if [ "$BENCH_OVERLOAD" != 1 ]; then
        say "overload rows skipped: BENCH_OVERLOAD=$BENCH_OVERLOAD"
        return 0
    fi
    bin=$PREFIX/mock-cluster
    "$REPO/tools/mock-cluster/build.sh" "$bin" >/dev/null \
        || die "cannot build tools/mock-cluster"
    coproc MOCK { exec "$bin" 1 "bench-ovl-prio-$RUNID" 1 \
                                "bench-ovl-plain-$RUNID" 1; }
    read -r -t 10 mockline <&"${MOCK[0]}" || mockline=
    boot=${mockline#bootstraps }
    [ "$boot" != "$mockline" ] || die "mock cluster said: $mockline"
    say "mock cluster at $boot"

    # the helpers (topic counts) read the mock cluster from here on
    local BROKER=$boot
    TOPIC[overload/prio]=bench-ovl-prio-$RUNID
    TOPIC[overload/plain]=bench-ovl-plain-$RUNID

    start_nginx overload nginx-overload.conf.in "$boot" \
        "${BENCH_KAFKA_PROPERTIES:-} max.in.flight.requests.per.connection=1 batch.num.messages=$OVL_BATCH queue.buffering.max.messages=$OVL_QMAX message.timeout.ms=120000"

    # Kafka unthrottled first: the starting point of the throttle
    run_wrk /plain single mix "$RUNID-ovl-cal" 3
    say "unthrottled: 2xx for ${W[ok]} of ${W[responses]} requests"
    ovl_throttle calibration
    a=$(wait_topic "${TOPIC[overload/plain]}" "${ACCEPTED[overload/plain]}")

    EXPECT_503=1
    ovl_run overload-prio /prio "Kafka at 1/2, priorities"
    ovl_run overload-plain /plain "Kafka at 1/2, no priorities"
    EXPECT_503=0

    mock_cmd "rtt 1 0"
    check_instance /prio /plain
    echo "quit" >&"${MOCK[1]}"
    wait "$MOCK_PID" 2>/dev/null || true
}

report_overload() {
    local n p
    echo "  overload (Kafka throttled to about half of the offered rate;" \
         "90% low / 10% high, one event per request):"
    for n in overload-prio overload-plain; do
        p=${OV[$n-p99]}
        [ "$p" != 0.0 ] || p="<1"
        printf '    %-19s high admitted %5s%%, low %5s%%, all %5s%%;' \
            "$( [ $n = overload-prio ] && echo "with priorities:" \
                || echo "without priorities:")" \
            "${OV[$n-high]}" "${OV[$n-low]}" "${OV[$n-all]}"
        echo " p99 of admitted requests $p ms in nginx (\$request_time)," \
             "$(ms "${R_P99[$n]}") ms at the client (all requests)"
    done
}

[ "${BASH_SOURCE[0]}" != "$0" ] || bench_run overload

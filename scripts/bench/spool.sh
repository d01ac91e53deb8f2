#!/bin/bash
# Benchmark part "spool": with the brokers on a closed port, how fast the
# workers write accepted events to the spool (rows spool-single,
# spool-batch, instance "spool"), then (BENCH_REPLAY=1) how fast a
# restarted nginx with the real broker replays them into Kafka (row
# spool-replay, instance "spool-replay"); BENCH_SPOOL=0 skips it.
# Run alone: scripts/bench/spool.sh; every part: scripts/bench.sh.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# bytes and number of the spool files
spool_files() {
    local n=0 bytes=0 f
    for f in "$SPOOL_DIR"/*.spool; do
        [ -e "$f" ] || continue
        n=$((n + 1))
        bytes=$((bytes + $(stat -c %s "$f")))
    done
    echo "$n $bytes"
}

# Spool-write throughput while Kafka is down, then (BENCH_REPLAY=1) the
# replay into the real broker by a restarted nginx.
scenario_spool() {
    local key=spool/spool i n w0 w1 avail nzero files bytes name
    SPOOL_DIR=$PREFIX/spool-data
    mkdir -p "$SPOOL_DIR"
    for i in 1 2 3 4 5 6 7 8 9 10; do
        DEAD_PORT=$((20000 + RANDOM % 30000))
        port_open "$DEAD_PORT" || break
    done
    TOPIC[$key]=bench-spool-$RUNID
    hr
    say "spool: Kafka down (evbus_brokers 127.0.0.1:$DEAD_PORT, a closed port)," \
        "evbus_unavailable_after 1s, evbus_spool $SPOOL_DIR max_size=2g fsync=batch"
    start_nginx spool nginx-spool.conf.in "127.0.0.1:$DEAD_PORT" \
        "${BENCH_KAFKA_PROPERTIES:-}"

    # The first events wait in librdkafka's queue; once a worker has had
    # messages waiting for evbus_unavailable_after with none delivered, its
    # new events go to the spool.  Post until every worker says so.
    local t0=$SECONDS ok=0
    while [ $((SECONDS - t0)) -lt 20 ]; do
        run_wrk /spool single click "$RUNID-spool-u" 1
        sleep 1.1    # the gauges are refreshed every second
        fetch_metrics
        nzero=$(awk '/^evbus_kafka_available\{/ { n++; if ($NF == 0) z++ }
                     END { print (n >= 2 && z == n) ? 1 : 0 }' <<<"$METRICS")
        if [ "$nzero" = 1 ]; then ok=1; break; fi
    done
    [ "$ok" = 1 ] || die "spool: the workers still report Kafka available after 20 s" \
                         "($(grep '^evbus_kafka_available' <<<"$METRICS" | tr '\n' ' '))"
    SP[memory]=$(metric 'evbus_kafka_queue_messages{')
    SP[prewritten]=$(metric 'evbus_spool_records_total{op="written"}')
    say "Kafka unavailable in every worker after $((SECONDS - t0)) s:" \
        "$(num "${ACCEPTED[$key]}") events accepted so far," \
        "$(num "${SP[memory]}") in librdkafka's queues," \
        "$(num "${SP[prewritten]}") written to the spool"

    SCEN_WARMUP=$BENCH_SPOOL_WARMUP SCEN_DURATION=$BENCH_SPOOL_DURATION
    for name in spool-single spool-batch; do
        fetch_metrics; w0=$(metric 'evbus_spool_records_total{op="written"}')
        scenario_wrk "$name" "Kafka down, ${name#spool-}" /spool "${name#spool-}" click
        fetch_metrics; w1=$(metric 'evbus_spool_records_total{op="written"}')
        read -r files bytes < <(spool_files)
        SP[$name-written]=$((w1 - w0))
        say "$name: $(num "${R_ACC[$name]}") events accepted (warm-up included)," \
            "$(num $((w1 - w0))) spool records written; spool files: $files," \
            "$(num "$bytes") bytes" \
            "($(awk -v b="$bytes" -v n="$w1" 'BEGIN { printf "%.0f", n ? b / n : 0 }')" \
            "bytes per record)"
        if [ $((w1 - w0)) -lt "${R_ACC[$name]}" ]; then
            anomaly "$name: only $((w1 - w0)) spool records written for" \
                    "${R_ACC[$name]} accepted events (the rest queued in memory?)"
        fi
    done
    SCEN_WARMUP=$BENCH_WARMUP SCEN_DURATION=$BENCH_DURATION
    fetch_metrics
    SP[written]=$(metric 'evbus_spool_records_total{op="written"}')
    SP[memory]=$(metric 'evbus_kafka_queue_messages{')
    SP[lost]=$(metric 'evbus_lost_total')
    SP[unqueued]=$(metric 'evbus_events_unqueued_total')
    # at quit, what waits in librdkafka's queues is spooled after
    # evbus_flush_timeout (1s)
    stop_nginx
    local produced delivered failed
    read -r produced delivered failed < <(producer_counters)
    read -r files bytes < <(spool_files)
    SP[files]=$files
    SP[bytes]=$bytes
    SP[produced]=$produced
    # records in the spool: written while running + the queued ones spooled
    # at exit (nothing was delivered: the broker port is closed)
    SP[records]=$((SP[written] + produced - delivered))
    if grep -q 'and are lost' "$IPREFIX/error.log"; then
        anomaly "spool: events lost at exit: $(grep -m1 'and are lost' "$IPREFIX/error.log" | cut -c1-200)"
        SP[records]=$((SP[records] - $(grep -o '[0-9]* events were not delivered' "$IPREFIX/error.log" | awk '{ s += $1 } END { print s + 0 }')))
    fi
    hr
    say "spool check: accepted $(num "${ACCEPTED[$key]}") (all spool-instance" \
        "requests), spool records $(num "${SP[records]}") = $(num "${SP[written]}")" \
        "written while running + $(num "$produced") queued in memory and spooled at" \
        "exit; $files files, $(num "$bytes") bytes; lost $(num "${SP[lost]}")," \
        "503-refused $(num "${SP[unqueued]}")"
    if [ "${SP[records]}" -lt "${ACCEPTED[$key]}" ]; then
        anomaly "spool: MISSING $((ACCEPTED[$key] - SP[records])) accepted events" \
                "are neither in the spool nor were they queued"
        FAIL=1
    fi
    [ "${SP[lost]}" = 0 ] || anomaly "spool: evbus_lost_total ${SP[lost]}"

    [ "$BENCH_REPLAY" = 1 ] || return 0

    # Replay: the same configuration with the real broker; the new workers
    # claim the files at start.  Timed from the start command until the
    # workers' delivery reports cover every record (metrics, polled every
    # 0.2 s), and until the last record was read from the spool.
    hr
    say "spool replay: nginx with the same spool, evbus_brokers $BROKER"
    local ts tr td now r d lr=-1 ld=-1 stable=0
    ts=$(date +%s.%N)
    start_nginx spool-replay nginx-spool.conf.in "$BROKER" "${BENCH_KAFKA_PROPERTIES:-}"
    tr=$ts td=$ts
    t0=$SECONDS
    while [ $((SECONDS - t0)) -lt "$BENCH_REPLAY_WAIT" ]; do
        fetch_metrics
        now=$(date +%s.%N)
        r=$(metric 'evbus_spool_records_total{op="replayed"}')
        d=$(metric 'evbus_kafka_messages_total{result="delivered"}')
        stable=$((stable + 1))
        [ "$r" = "$lr" ] || { tr=$now; lr=$r; stable=0; }
        [ "$d" = "$ld" ] || { td=$now; ld=$d; stable=0; }
        # done: every record delivered, or no progress for 5 s
        [ "$d" -ge "${SP[records]}" ] && break
        [ "$stable" -ge 25 ] && break
        sleep 0.2
    done
    SP[replayed]=$r
    SP[replay_delivered]=$d
    SP[replay_read_s]=$(awk -v a="$ts" -v b="$tr" 'BEGIN { printf "%.2f", b - a }')
    SP[replay_s]=$(awk -v a="$ts" -v b="$td" 'BEGIN { printf "%.2f", b - a }')
    name=spool-replay
    SCENARIOS+=("$name")
    R_LABEL[$name]="replay into Kafka (restart)"
    R_EPS[$name]=$(awk -v n="$d" -v a="$ts" -v b="$td" \
        'BEGIN { if (b > a) printf "%.0f", n / (b - a); else print 0 }')
    say "replay: $(num "$r") of $(num "${SP[records]}") records read from the" \
        "spool after ${SP[replay_read_s]} s, $(num "$d") delivered after" \
        "${SP[replay_s]} s (from the start of nginx) = $(num "${R_EPS[$name]}")" \
        "events/s; $(grep -c 'evbus: replaying' "$IPREFIX/error.log") files" \
        "claimed by $(grep 'evbus: replaying' "$IPREFIX/error.log" \
                      | awk '{ print $3 }' | sort -u | wc -l) of 2 workers"
    if [ "$d" -lt "${SP[records]}" ]; then
        anomaly "spool replay: $d of ${SP[records]} records delivered after" \
                "$((SECONDS - t0)) s ($r replayed)"
    fi
    n=$(wait_topic "${TOPIC[$key]}" "${ACCEPTED[$key]}")
    read -r files bytes < <(spool_files)
    stop_nginx
    read -r produced delivered failed < <(producer_counters)
    n=$(topic_count "${TOPIC[$key]}")
    SP[inkafka]=$n
    local want=${ACCEPTED[$key]} status
    if [ "$n" -lt "$want" ]; then
        status="MISSING $((want - n))"
        FAIL=1
        anomaly "spool replay: ${TOPIC[$key]} holds $n messages for $want accepted events"
    elif [ "$n" -eq "$want" ]; then
        status=OK
    else
        status="OK, $((n - want)) more than accepted"
        if [ $((n - want)) -gt "${INFLIGHT[$key]:-0}" ]; then
            status+=" (DUPLICATES? only ${INFLIGHT[$key]:-0} events were in flight)"
            anomaly "${TOPIC[$key]}: $((n - want)) more messages than accepted events"
        else
            status+=" (<= ${INFLIGHT[$key]} events in requests in flight when wrk stopped)"
        fi
    fi
    echo "  /spool    accepted $(num "$want"), in Kafka after the replay $(num "$n"):" \
         "$status   [${TOPIC[$key]}]"
    echo "  replay producers (error.log at exit): produced $(num "$produced")," \
         "delivered $(num "$delivered"), failed $(num "$failed");" \
         "spool files left: $files ($(num "$bytes") bytes)"
    [ "$failed" = 0 ] || anomaly "spool-replay: $failed deliveries failed"
    [ "$delivered" = "$produced" ] || \
        anomaly "spool-replay: producers: $produced produced but $delivered delivered"
}

bench_part_spool() {
    if [ "$BENCH_SPOOL" != 1 ]; then
        hr
        say "spool rows skipped: BENCH_SPOOL=$BENCH_SPOOL"
        return 0
    fi
    scenario_spool
}

[ "${BASH_SOURCE[0]}" != "$0" ] || bench_run spool

#!/bin/bash
# Benchmark part "memory": what a worker holds when Kafka is unreachable
# and its queue is full.  The brokers are on a closed port and
# evbus_unavailable_after is long, so 100-event batches (wrk, BENCH_BATCH
# events of BENCH_EVENT_SIZE bytes) fill each worker's librdkafka queue up
# to queue.buffering.max.kbytes (BENCH_MEMORY_KBYTES, the module's default)
# until the module refuses (instance "memory": 503) or spools (instance
# "memory-spool") what does not fit.  Rows memory-nospool, memory-spool:
# each worker's RSS (VmRSS, and the peak VmHWM) at rest and with its queue
# full, against the configured bytes; the goal is RSS <= configured +
# 20 MiB.  Nothing reaches Kafka here: what was queued is lost (no spool)
# or spooled at quit.
# Run alone: scripts/bench/memory.sh (environment: scripts/bench/lib.sh);
# every part: scripts/bench.sh (make bench).

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MEMORY_GOAL_MB=20

# "pid rss_kb hwm_kb" of each worker
worker_memory() {
    local p
    for p in $(nginx_workers); do
        awk -v p="$p" '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 }
                       END { print p, r, h }' "/proc/$p/status" 2>/dev/null
    done
}

# the queue gauges of every worker, "n n"
queue_gauges() {
    fetch_metrics
    awk '/^evbus_kafka_queue_messages\{/ { printf "%s ", $NF }' <<<"$METRICS"
}

scenario_memory() {
    local name=$1 inst=$2 loc=/memory key round g0 g1 full w0 w1
    local conf_kb=$BENCH_MEMORY_KBYTES spooled=0 refused=0 p r h
    local -A rest_rss

    hr
    say "$name: Kafka unreachable (evbus_brokers 127.0.0.1:$DEAD_PORT)," \
        "queue.buffering.max.kbytes $conf_kb per worker" \
        "$( [ "$inst" = memory-spool ] && echo ", evbus_spool $SPOOL_DIR")"
    start_nginx "$inst" nginx-memory.conf.in "127.0.0.1:$DEAD_PORT" \
        "queue.buffering.max.kbytes=$conf_kb ${BENCH_KAFKA_PROPERTIES:-}"
    LOG_EXPECTED[$inst]="127\.0\.0\.1:$DEAD_PORT|[Cc]onnection refused|brokers are down|not queued: Local: Queue full|Purged in queue|are lost"
    key=$INST$loc
    TOPIC[$key]=bench-memory-$RUNID

    sleep 1
    while read -r p r h; do rest_rss[$p]=$r; done < <(worker_memory)
    say "$name: workers at rest: $(worker_memory | awk '{ printf "%s %.1f MiB; ", $1, $2 / 1024 }')"

    # batches until every worker's queue stops growing: full
    fetch_metrics
    w0=$(metric 'evbus_spool_records_total{op="written"}')
    g0=$(queue_gauges)
    SCEN_CONNECTIONS=8
    for ((round = 1; round <= 20; round++)); do
        EXPECT_503=1 run_wrk "$loc" batch click "$RUNID-$name-$round" 1
        refused=$((refused + W[non2xx]))
        sleep 1.1    # the gauges are refreshed every second
        g1=$(queue_gauges)
        say "$name round $round: ${W[accepted]} events accepted, ${W[non2xx]}" \
            "requests refused; queues: $g1"
        if [ "$g1" = "$g0" ] && [ "$(awk '{ print (NF >= 2 && $1 > 0 && $2 > 0) }' \
                                      <<<"$g1")" = 1 ]
        then
            break
        fi
        g0=$g1
    done
    SCEN_CONNECTIONS=$BENCH_CONNECTIONS
    [ "$round" -le 20 ] || anomaly "$name: the queues still grew after 20 rounds"
    sleep 2
    fetch_metrics
    w1=$(metric 'evbus_spool_records_total{op="written"}')
    spooled=$((w1 - w0))

    # the worker whose RSS is highest
    full=$(worker_memory | sort -k2 -n | tail -1)
    read -r p r h <<<"$full"
    MEM[$name]=$(awk -v r="$r" -v h="$h" -v rest="${rest_rss[$p]:-0}" \
        -v c="$conf_kb" -v goal="$MEMORY_GOAL_MB" -v q="$(echo $g1 | sed 's/ / and /g')" \
        -v sp="$spooled" -v ref="$refused" -v nm="$name" 'BEGIN {
        over = (r - c) / 1024
        printf "    %-14s %s messages queued; fullest worker RSS %.1f MiB" \
               " at rest, %.1f MiB full (peak %.1f): configured %+.1f MiB, %s",
               nm ":", q, rest / 1024, r / 1024, h / 1024, over,
               over <= goal ? "goal met" : "GOAL MISSED"
        if (sp > 0) printf "; %d events spooled", sp
        if (ref > 0) printf "; %d requests refused (503)", ref
    }')
    say "$(sed 's/^ *//' <<<"${MEM[$name]}")"
    [ "$(awk -v r="$r" -v c="$conf_kb" -v g="$MEMORY_GOAL_MB" \
         'BEGIN { print (r - c) / 1024 <= g }')" = 1 ] \
        || anomaly "$name: worker RSS $((r / 1024)) MiB, more than the" \
                   "configured $((conf_kb / 1024)) MiB + $MEMORY_GOAL_MB MiB"
    if [ "$inst" = memory-spool ] && [ "$spooled" -le 0 ]; then
        anomaly "$name: nothing was spooled with the queues full"
    fi
    stop_nginx
}


bench_part_memory() {
    declare -gA MEM
    local i
    [ "$BENCH_MEMORY" = 1 ] || { say "memory part skipped (BENCH_MEMORY=0)"; return 0; }
    if [ -z "$DEAD_PORT" ]; then
        for i in 1 2 3 4 5 6 7 8 9 10; do
            DEAD_PORT=$((20000 + RANDOM % 30000))
            port_open "$DEAD_PORT" || break
        done
    fi
    scenario_memory memory-nospool memory
    SPOOL_DIR=$PREFIX/memory-spool-data
    mkdir -p "$SPOOL_DIR"
    scenario_memory memory-spool memory-spool
    MEMORY_REPORT="  memory (Kafka unreachable, batches of $BENCH_BATCH events until the queues are full; per worker:"
    MEMORY_REPORT+=$'\n'"    queue.buffering.max.kbytes $BENCH_MEMORY_KBYTES = $((BENCH_MEMORY_KBYTES / 1024)) MiB; goal: RSS <= configured + $MEMORY_GOAL_MB MiB)"
    MEMORY_REPORT+=$'\n'"${MEM[memory-nospool]}"$'\n'"${MEM[memory-spool]}"
}

[ "${BASH_SOURCE[0]}" != "$0" ] || bench_run memory

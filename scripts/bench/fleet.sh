#!/bin/bash
# Benchmark part "fleet": what N producers cost the broker (docs/fleet.md).
# Each nginx worker holds its own librdkafka producer and its own broker
# connections, so an edge fleet of E servers x W workers is E x W producers
# to every broker.  For each N of BENCH_FLEET_NS an instance with
# worker_processes N (bench/nginx-fleet.conf.in, the module's producer
# defaults, "listen ... reuseport"):
#   - up: the time until every worker has started its producer and holds
#     its connection to the broker;
#   - idle (BENCH_FLEET_IDLE s, no traffic): the broker JVM's CPU (from
#     /proc/PID/stat), its RSS and heap, the nginx workers' CPU;
#   - busy (BENCH_FLEET_BUSY s): wrk, BENCH_FLEET_CONNS connections per
#     worker, each waiting so that every worker gets about BENCH_FLEET_RATE
#     single 300-byte events/s; the broker's CPU, the record batches it
#     stored (counted in its log segments: one per partition and produce
#     request), its CPU per batch; row fleet-N of the table;
#   - reload (N = BENCH_FLEET_RELOAD_N, under the same load): the workers'
#     connections to the broker sampled every 0.05 s around a SIGHUP.
# Before the first row: 20,000 one-message produce requests to warm the
# broker's JIT up (not measured), BENCH_FLEET_IDLE s of the broker without
# any producer of this part (the baseline), and 100,000 messages in large
# batches by kcat with the module's settings (the broker's CPU per event
# when batching works, for comparison).  A full GC before each memory sample (live heap)
# only on a broker this run started (BENCH_FLEET_GC): run it against a
# private broker for clean figures,
#   KAFKA_PORT=9392 KAFKA_DIR=/tmp/evbus-fleet-kafka scripts/bench/fleet.sh
# (started and stopped by the script), since on a shared broker other
# clients' traffic lands in its CPU.
# Run alone: scripts/bench/fleet.sh (environment: scripts/bench/lib.sh);
# every part: scripts/bench.sh (make bench).

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
declare -F count_batches >/dev/null || . "$REPO/scripts/bench/lowrate.sh"

# Results, keyed by N (0: the baseline without nginx).
declare -A F_UP F_CONN F_IDLE_K F_IDLE_NG F_RSS_I F_HEAP_I F_BUSY_K F_BUSY_NG
declare -A F_RSS_B F_HEAP_B F_CONN_B F_EPS F_BATCH F_US_BATCH F_WORKERS
declare -A F_LOAD F_OTHER F_NGX_PSS
FLEET_KPID=
FLEET_GC=0
FLEET_RELOAD=
F_REF=


fleet_broker_pid() {
    local pid
    pid=$(kafka_pid)
    [ -n "$pid" ] || pid=$(ss -tlnpH "( sport = :$KAFKA_PORT )" 2>/dev/null \
                           | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
    echo "$pid"
}

# user+system clock ticks of some processes (one awk: a few hundred pids);
# "comm" of nginx and java has no space, so utime and stime are $14, $15
fleet_ticks() {
    [ $# -gt 0 ] || { echo 0; return; }
    (cd /proc && cat $(printf '%s/stat ' "$@") 2>/dev/null) \
        | awk '{ s += $14 + $15 } END { print s + 0 }'
}

fleet_workers() {
    local master
    master=$(nginx_master) || return 0
    [ -n "$master" ] && pgrep -P "$master" || true
}

# established connections to the broker's port held by the master's
# children (workers, old ones in a reload included)
fleet_conns() {
    ss -tnpH state established "( dport = :$KAFKA_PORT )" 2>/dev/null \
        | awk -v pids="$(fleet_workers | tr '\n' ' ')" '
            BEGIN { n = split(pids, a, " "); for (i = 1; i <= n; i++) p[a[i]] = 1 }
            {
                s = $0
                while (match(s, /pid=[0-9]+/)) {
                    if (substr(s, RSTART + 4, RLENGTH - 4) in p) { c++; break }
                    s = substr(s, RSTART + RLENGTH)
                }
            }
            END { print c + 0 }'
}

fleet_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$FLEET_KPID/status" 2>/dev/null; }

# the broker's heap (KB): after a full GC when allowed, the old
# generation (what survived it: the live heap; eden refills at once);
# otherwise all in use, garbage included (survivors + eden + old)
fleet_heap_kb() {
    command -v jstat >/dev/null || return 0
    if [ "$FLEET_GC" = 1 ]; then
        jcmd "$FLEET_KPID" GC.run >/dev/null 2>&1 || true
        jstat -gc "$FLEET_KPID" 2>/dev/null \
            | awk 'NR == 2 { printf "%.0f\n", $8 }'
        return
    fi
    jstat -gc "$FLEET_KPID" 2>/dev/null \
        | awk 'NR == 2 { printf "%.0f\n", $3 + $4 + $6 + $8 }'
}

# the nginx workers' memory (KB): the sum of their proportional set sizes
# (shared pages counted once over all of them)
fleet_ngx_pss_kb() {
    local w
    w=$(fleet_workers)
    [ -n "$w" ] || { echo 0; return; }
    (cd /proc && cat $(printf '%s/smaps_rollup ' $w) 2>/dev/null) \
        | awk '/^Pss:/ { s += $2 } END { print s + 0 }'
}

fleet_data_dir() {
    local f
    f=$(tr '\0' '\n' <"/proc/$FLEET_KPID/cmdline" 2>/dev/null \
        | grep 'server\.properties$' | tail -1) || true
    [ -n "$f" ] && [ -r "$f" ] || return 0
    sed -n 's/^log\.dirs=//p' "$f" | head -1
}

# fleet_mark: "broker-ticks nginx-ticks machine-busy machine-total time"
fleet_mark() {
    echo "$(fleet_ticks "$FLEET_KPID") $(fleet_ticks $(fleet_workers))" \
         "$(machine_ticks) $(date +%s.%N)"
}

# fleet_pct MARK0 MARK1 FIELD: % of one cpu of field 1 (broker) or 2 (nginx)
fleet_pct() {
    awk -v a="$1" -v b="$2" -v f="$3" -v hz="$CLK_TCK" 'BEGIN {
        split(a, x, " "); split(b, y, " ");
        printf "%.1f", 100 * (y[f] - x[f]) / hz / (y[5] - x[5]) }'
}

# % of one cpu used by neither the broker nor nginx (wrk, other work)
fleet_other() {
    awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" 'BEGIN {
        split(a, x, " "); split(b, y, " ");
        printf "%.0f", 100 * ((y[3] - x[3]) - (y[1] - x[1]) - (y[2] - x[2])) \
                       / hz / (y[5] - x[5]) }'
}

fleet_check_broker() {
    local pid
    pid=$(fleet_broker_pid)
    if [ "$pid" != "$FLEET_KPID" ]; then
        anomaly "fleet: the broker's pid changed ($FLEET_KPID -> ${pid:-none})" \
                "during the run: its figures are not comparable"
        FLEET_KPID=$pid
    fi
}

# fleet_kcat TOPIC N PROPERTY...: N 300-byte messages to TOPIC with kcat
fleet_kcat() {
    local topic=$1 n=$2 p args=()
    shift 2
    for p in "$@"; do args+=(-X "$p"); done
    awk -v n="$n" 'BEGIN {
        pad = sprintf("%280s", ""); gsub(/ /, "x", pad);
        for (i = 1; i <= n; i++)
            printf "{\"event_type\":\"click\",\"n\":%08d,\"p\":\"%s\"}\n", i, pad }' \
        | kcat -b "$BROKER" -P -t "$topic" "${args[@]}" 2>"$PREFIX/fleet-kcat.err" \
        || { cat "$PREFIX/fleet-kcat.err"; die "kcat could not produce to $topic"; }
}

# A fresh broker compiles its produce path (JIT threads count in its CPU)
# during its first requests: one-message batches, not measured.
fleet_warmup() {
    hr
    say "fleet warm-up: 20,000 one-message produce requests (kcat), then 5 s"
    fleet_kcat "bench-fleet-warmup-$RUNID" 20000 linger.ms=0 batch.num.messages=1
    sleep 5
}

# The broker's CPU per event when events come in large batches: the
# module's producer settings in kcat, 100,000 messages.
fleet_reference() {
    local topic=bench-fleet-kcat-$RUNID m0 m1 dir b n=100000
    hr
    say "fleet reference: $(num $n) messages in large batches (kcat, the" \
        "module's producer settings: ${KCAT_PROPS[*]})"
    echo '{}' | kcat -b "$BROKER" -P -t "$topic" >/dev/null 2>&1 || true
    wait_topic "$topic" 1 >/dev/null
    m0=$(fleet_mark)
    fleet_kcat "$topic" "$n" "${KCAT_PROPS[@]}"
    wait_topic "$topic" $((n + 1)) >/dev/null
    m1=$(fleet_mark)
    dir=$(fleet_data_dir)
    b=0
    [ -z "$dir" ] || b=$(count_batches "$dir" "$topic")
    F_REF=$(awk -v a="$m0" -v c="$m1" -v n="$n" -v b="$b" -v hz="$CLK_TCK" \
        -v idle="${F_IDLE_K[0]}" 'BEGIN {
        split(a, x, " "); split(c, y, " "); wall = y[5] - x[5];
        busy = (y[1] - x[1]) / hz - idle / 100 * wall;
        printf "%d events in %d record batches (%.0f events each) in %.1f s:" \
               " %.1f us of broker CPU per event, %.0f per batch", n, b,
               b ? n / b : 0, wall, 1e6 * busy / n, b ? 1e6 * busy / b : 0 }')
    say "reference: $F_REF"
}

fleet_baseline() {
    local m0 m1
    hr
    say "fleet baseline: the broker for ${BENCH_FLEET_IDLE}s without the" \
        "fleet's nginx (pid $FLEET_KPID, full GC before memory samples:" \
        "$([ "$FLEET_GC" = 1 ] && echo yes || echo "no: a shared broker"))"
    m0=$(fleet_mark)
    sleep "$BENCH_FLEET_IDLE"
    m1=$(fleet_mark)
    F_IDLE_K[0]=$(fleet_pct "$m0" "$m1" 1)
    F_HEAP_I[0]=$(fleet_heap_kb)
    F_RSS_I[0]=$(fleet_rss_kb)
    F_CONN[0]=0
    F_OTHER[0]=$(fleet_other "$m0" "$m1")
    F_LOAD[0]=$(cut -d' ' -f1 /proc/loadavg)
    say "baseline: broker ${F_IDLE_K[0]}% of one cpu, RSS" \
        "$((F_RSS_I[0] / 1024)) MB, heap ${F_HEAP_I[0]:-?} KB"
}

# the connections around a reload under load, sampled every 0.1 s by a
# background job while wrk runs in the foreground
fleet_reload() {
    local n=$1 name=$2 samples=$PREFIX/$2-reload.txt secs=14
    hr
    say "fleet reload: $n workers under load, SIGHUP after 3 s, connections" \
        "to the broker sampled every 0.05 s"
    # all the established connections to the broker's port (no -p: a
    # scan of every process's fds takes too long for a 0.05 s period):
    # other clients of a shared broker are in "before" too
    (
        master=$(nginx_master)
        t0=$(date +%s%N)
        reloaded=0
        while :; do
            t=$(( ($(date +%s%N) - t0) / 1000000 ))
            [ "$t" -lt $((secs * 1000 - 1000)) ] || break
            if [ "$reloaded" = 0 ] && [ "$t" -ge 3000 ]; then
                kill -HUP "$master"
                reloaded=$t
                echo "reload $t"
            fi
            echo "$t $(ss -tnH state established "( dport = :$KAFKA_PORT )" \
                       | wc -l) $(pgrep -c -P "$master")"
            sleep 0.05
        done
    ) >"$samples" &
    local job=$!
    EXPECT_SOCKET_ERRORS=1
    run_wrk /fleet single click "$RUNID-$name-r" "$secs"
    EXPECT_SOCKET_ERRORS=0
    wait "$job" || true
    local errs=$((W[err_connect] + W[err_read] + W[err_write] + W[err_timeout]))
    FLEET_RELOAD=$(awk -v n="$n" -v errs="$errs" '
        $1 == "reload" { r = $2; next }
        r == "" { before = $2; bprocs = $3; next }
        {
            if ($2 > peak) { peak = $2; tpeak = $1 - r; procs = $3 }
            if (peak > before && back == "" && $2 <= before) back = $1 - r
            if (first == "" && $2 > before) first = $1 - r
            if ($3 > bprocs) rose = 1
            if (rose && gone == "" && $3 <= bprocs) gone = $1 - r
        }
        END {
            printf "%d workers: %d connections to the broker (from all its" \
                   " clients) before the reload, %d at the" \
                   " peak (%d ms after SIGHUP, %d processes), back to %d" \
                   " %s, the old workers gone %s; %d new connections in" \
                   " %d ms; %d socket errors at the client (keep-alive" \
                   " connections closed by the old workers)",
                   n, before, peak, tpeak, procs, before,
                   back == "" ? "not within the sampling" : "after " back " ms",
                   gone == "" ? "not within the sampling" : "after " gone " ms",
                   peak - before, tpeak - first + 50, errs
        }' "$samples")
    say "reload: $FLEET_RELOAD"
}

fleet_row() {
    local n=$1 name=fleet-$1 m0 m1 i p c t0 t1 up b0 b1 dir topic
    local per_conn_ms=$((BENCH_FLEET_CONNS * 1000 / BENCH_FLEET_RATE))
    hr
    fleet_check_broker
    TOPIC[$name/fleet]=bench-$name-$RUNID
    topic=${TOPIC[$name/fleet]}
    t0=$(date +%s.%N)
    INST_WORKERS=$n start_nginx "$name" nginx-fleet.conf.in "$BROKER" \
        "${BENCH_KAFKA_PROPERTIES:-}"
    for ((i = 0; i < 900; i++)); do
        p=$(grep -c 'evbus: producer started' "$IPREFIX/error.log" || true)
        c=$(fleet_conns)
        [ "$p" -ge "$n" ] && [ "$c" -ge "$n" ] && break
        sleep 0.1
    done
    t1=$(date +%s.%N)
    F_UP[$n]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    say "$p of $n producers started, $c connections to the broker," \
        "${F_UP[$n]} s after the start command"
    [ "$p" -ge "$n" ] || anomaly "$name: only $p of $n producers started"
    sleep 2

    # idle
    m0=$(fleet_mark)
    sleep "$BENCH_FLEET_IDLE"
    m1=$(fleet_mark)
    F_CONN[$n]=$(fleet_conns)
    F_IDLE_K[$n]=$(fleet_pct "$m0" "$m1" 1)
    F_IDLE_NG[$n]=$(fleet_pct "$m0" "$m1" 2)
    F_HEAP_I[$n]=$(fleet_heap_kb)
    F_RSS_I[$n]=$(fleet_rss_kb)
    F_NGX_PSS[$n]=$(fleet_ngx_pss_kb)
    say "idle ${BENCH_FLEET_IDLE}s: ${F_CONN[$n]} connections; broker" \
        "${F_IDLE_K[$n]}% of one cpu, RSS $((F_RSS_I[$n] / 1024)) MB, heap" \
        "${F_HEAP_I[$n]:-?} KB; nginx workers ${F_IDLE_NG[$n]}%, PSS" \
        "$((F_NGX_PSS[$n] / 1024)) MB"

    # busy: every worker about BENCH_FLEET_RATE events/s
    dir=$(fleet_data_dir)
    b0=0
    [ -z "$dir" ] || b0=$(count_batches "$dir" "$topic")
    SCENARIOS+=("$name")
    R_LOC[$name]=/fleet
    R_LABEL[$name]="$n workers, ~$BENCH_FLEET_RATE ev/s each"
    SCEN_CONNECTIONS=$((n * BENCH_FLEET_CONNS))
    [ "$SCEN_CONNECTIONS" -ge "$BENCH_THREADS" ] || SCEN_CONNECTIONS=$BENCH_THREADS
    export BENCH_DELAY_MS=$per_conn_ms
    say "busy ${BENCH_FLEET_BUSY}s: $SCEN_CONNECTIONS connections, each" \
        "waiting $per_conn_ms ms before each request"
    m0=$(fleet_mark)
    run_wrk /fleet single click "$RUNID-$name-m" "$BENCH_FLEET_BUSY"
    m1=$(fleet_mark)
    F_CONN_B[$n]=$(fleet_conns)
    F_BUSY_K[$n]=$(fleet_pct "$m0" "$m1" 1)
    F_BUSY_NG[$n]=$(fleet_pct "$m0" "$m1" 2)
    F_OTHER[$n]=$(fleet_other "$m0" "$m1")
    F_LOAD[$n]=$(cut -d' ' -f1 /proc/loadavg)
    R_RPS[$name]=$(awk -v r="${W[requests]}" -v d="${W[duration_us]}" \
        'BEGIN { printf "%.0f", r / (d / 1e6) }')
    R_EPS[$name]=${R_RPS[$name]}
    F_EPS[$n]=${R_RPS[$name]}
    R_P50[$name]=${W[p50_us]}
    R_P99[$name]=${W[p99_us]}
    R_US[$name]=$(awk -v a="$m0" -v b="$m1" -v hz="$CLK_TCK" -v r="${W[requests]}" \
        'BEGIN { split(a, x, " "); split(b, y, " ");
                 printf "%.1f", r ? 1e6 * (y[2] - x[2]) / hz / r : 0 }')
    R_CPU[$name]="nginx workers ${F_BUSY_NG[$n]}%, kafka ${F_BUSY_K[$n]}%, others (wrk included) ${F_OTHER[$n]}% of one cpu"
    wait_topic "$topic" "${ACCEPTED[$name/fleet]}" >/dev/null
    F_HEAP_B[$n]=$(fleet_heap_kb)
    F_RSS_B[$n]=$(fleet_rss_kb)
    if [ -n "$dir" ]; then
        b1=$(count_batches "$dir" "$topic")
        F_BATCH[$n]=$(awk -v b=$((b1 - b0)) -v a="$m0" -v c="$m1" 'BEGIN {
            split(a, x, " "); split(c, y, " "); printf "%.0f", b / (y[5] - x[5]) }')
        F_US_BATCH[$n]=$(awk -v b=$((b1 - b0)) -v a="$m0" -v c="$m1" \
            -v idle="${F_IDLE_K[$n]}" -v hz="$CLK_TCK" 'BEGIN {
            split(a, x, " "); split(c, y, " ");
            busy = (y[1] - x[1]) / hz - idle / 100 * (y[5] - x[5]);
            printf "%.0f", b ? 1e6 * busy / b : 0 }')
    fi
    say "busy: $(num "${F_EPS[$n]}") events/s, broker ${F_BUSY_K[$n]}% of one" \
        "cpu, ${F_BATCH[$n]:-?} record batches/s" \
        "(${F_US_BATCH[$n]:-?} us of broker CPU each, its idle share" \
        "subtracted), ${F_CONN_B[$n]} connections"

    if [ "$n" = "${BENCH_FLEET_RELOAD_N:-}" ]; then
        fleet_reload "$n" "$name"
    fi
    unset BENCH_DELAY_MS
    SCEN_CONNECTIONS=$BENCH_CONNECTIONS

    check_instance /fleet
    # the first N workers' exit lines (before a reload's new generation)
    F_WORKERS[$n]=$(awk -v n="$n" '/evbus: producer stopped:/ {
            if (++k > n) exit
            for (i = 1; i < NF; i++) if ($(i + 1) ~ /^produced/ && $i > 0) w++
        } END { print w + 0 }' "$IPREFIX/error.log")
}


bench_part_fleet() {
    local n
    if [ "$BENCH_FLEET" != 1 ]; then
        say "fleet rows: not run (BENCH_FLEET=$BENCH_FLEET)"
        return
    fi
    FLEET_KPID=$(fleet_broker_pid)
    [ -n "$FLEET_KPID" ] || die "fleet: no pid listening on 127.0.0.1:$KAFKA_PORT"
    case "$BENCH_FLEET_GC" in
        1) FLEET_GC=1 ;;
        auto) FLEET_GC=$KAFKA_STARTED ;;
        *) FLEET_GC=0 ;;
    esac
    fleet_warmup
    fleet_baseline
    fleet_reference
    for n in $BENCH_FLEET_NS; do
        fleet_row "$n"
    done
    fleet_check_broker
}

report_fleet() {
    local n b=0 rss heap
    echo
    echo "  fleet: N nginx workers = N producers, one broker" \
         "(pid $FLEET_KPID$([ "$KAFKA_STARTED" = 1 ] && echo ", started by this run" \
         || echo ", not started by this run: other clients' traffic, if any, is in its CPU"));" \
         "heap: $([ "$FLEET_GC" = 1 ] && echo "live (old generation after a full GC)" \
         || echo "in use, garbage included (no GC forced on a broker this run did not start)")"
    echo "    ngx MB: PSS of all the workers (idle)"
    printf '    %5s %6s %6s | %-42s | %-52s | %s\n' "" "" "" "idle" \
        "busy (~$BENCH_FLEET_RATE events/s per worker)" ""
    printf '    %5s %6s %6s | %6s %7s %8s %8s %8s | %7s %5s %8s %6s %7s %8s %8s | %5s %5s\n' \
        N conns "up s" "kafka%" "RSS MB" "heap MB" "ngx%" "ngx MB" \
        "ev/s" "wkrs" "batch/s" "kafka%" "us/bat" "RSS MB" "heap MB" "load" "oth%"
    for n in 0 $BENCH_FLEET_NS; do
        [ -n "${F_IDLE_K[$n]:-}" ] || continue
        printf '    %5s %6s %6s | %6s %7s %8s %8s %8s | %7s %5s %8s %6s %7s %8s %8s | %5s %5s\n' \
            "$n" "${F_CONN[$n]:--}" "${F_UP[$n]:--}" "${F_IDLE_K[$n]}" \
            "$(fleet_mb "${F_RSS_I[$n]:-}")" "$(fleet_mb "${F_HEAP_I[$n]:-}")" \
            "${F_IDLE_NG[$n]:--}" "$(fleet_mb "${F_NGX_PSS[$n]:-}")" \
            "$(num "${F_EPS[$n]:-}")" \
            "${F_WORKERS[$n]:--}" "${F_BATCH[$n]:--}" "${F_BUSY_K[$n]:--}" \
            "${F_US_BATCH[$n]:--}" "$(fleet_mb "${F_RSS_B[$n]:-}")" \
            "$(fleet_mb "${F_HEAP_B[$n]:-}")" "${F_LOAD[$n]:--}" \
            "${F_OTHER[$n]:--}"
    done
    # per connection: the largest N against the baseline (the live heap
    # when a GC was forced; RSS moves with the heap pages the JVM touches,
    # not with connections)
    for n in $BENCH_FLEET_NS; do
        [ -n "${F_CONN[$n]:-}" ] && [ "$n" -gt "$b" ] && b=$n
    done
    if [ "$b" != 0 ] && [ "${F_CONN[$b]:-0}" -gt 0 ]; then
        heap=-
        [ -z "${F_HEAP_I[$b]:-}" ] || [ -z "${F_HEAP_I[0]:-}" ] || \
        heap=$(awk -v a="${F_HEAP_I[0]}" -v c="${F_HEAP_I[$b]}" -v k="${F_CONN[$b]}" \
            'BEGIN { printf "%.1f", (c - a) / k }')
        echo "    per idle connection at N=$b against the baseline: heap" \
             "$heap KB$([ "$FLEET_GC" = 1 ] || echo " (not live: no GC forced)")," \
             "broker CPU $(awk -v a="${F_IDLE_K[0]}" -v c="${F_IDLE_K[$b]}" \
                -v k="${F_CONN[$b]}" 'BEGIN { printf "%.4f", (c - a) / k }')% of" \
             "one cpu; nginx $(awk -v p="${F_NGX_PSS[$b]:-0}" -v k="$b" \
                'BEGIN { printf "%.1f", p / k / 1024 }') MB PSS and" \
             "$(awk -v c="${F_IDLE_NG[$b]:-0}" -v k="$b" \
                'BEGIN { printf "%.3f", c / k }')% of one cpu per idle worker"
    fi
    [ -z "$F_REF" ] || echo "    large batches (kcat): $F_REF"
    [ -z "$FLEET_RELOAD" ] || echo "    reload: $FLEET_RELOAD"
    echo "    (kafka%, ngx%, oth%: % of one cpu; us/bat: broker CPU per record" \
         "batch stored, its idle share subtracted; wkrs: workers that produced)"
}

fleet_mb() {
    [ -n "${1:-}" ] || { echo -; return; }
    awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'
}

[ "${BASH_SOURCE[0]}" != "$0" ] || bench_run fleet

#!/bin/bash
# ngx_evbus throughput benchmark: one nginx (2 workers) with the module, one
# Kafka broker, wrk as the client, kcat as the raw-producer reference.
# See docs/bench.md for what is measured and how to read the results.
#
#   make bench            (installs wrk/kcat/curl if missing, then this)
#   scripts/bench.sh      (module already built: build/ngx_http_evbus_module.so)
#
# Environment (defaults in brackets):
#   KAFKA_PORT            broker port [9092]; started with scripts/kafka.sh
#                         when nothing answers there (and stopped at the end)
#   NGINX                 nginx binary [/usr/sbin/nginx]
#   MODULE                module .so [build/ngx_http_evbus_module.so]
#   BENCH_DURATION        seconds per measured wrk run [10]
#   BENCH_WARMUP          seconds of warm-up before each run [3]
#   BENCH_THREADS         wrk threads [2]
#   BENCH_CONNECTIONS     wrk connections [50]
#   BENCH_EVENT_SIZE      bytes per event object [300]
#   BENCH_BATCH           events per batched request [100]
#   BENCH_KCAT_N          messages for the kcat reference [500000]
#   BENCH_FLUSH_WAIT      max seconds to wait for the events to reach Kafka [30]
#   BENCH_DEDUP           1: also consume the bench topics and count distinct
#                         event_ids (keys) [0]
#   BENCH_KEEP            1: keep the temporary prefix (config, logs) [0]
#   BENCH_NOISE_PCT       flag a scenario as NOISY when other processes used
#                         more than this % of one cpu during it [25]
#   BENCH_KAFKA_PROPERTIES  extra evbus_kafka_property lines for the module,
#                         "name=value name=value" (e.g. "linger.ms=20") []
#
# Output: stdout, also written to build/bench/latest.txt (and nginx's error
# log to build/bench/latest-error.log).  Exit status: 0 when every accepted
# event is in Kafka, 1 when some are missing or the bench could not run.
#
# Adding a scenario: add a location to bench/nginx.conf.in, then call
# scenario_wrk (HTTP) or a new scenario_* function from main(); results
# go into the R_* arrays and the table in report().
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$REPO/build
OUT=$BUILD/bench
LATEST=$OUT/latest.txt

NGINX=${NGINX:-/usr/sbin/nginx}
MODULE=${MODULE:-$BUILD/ngx_http_evbus_module.so}
KAFKA_PORT=${KAFKA_PORT:-9092}
BROKER=127.0.0.1:$KAFKA_PORT
BENCH_DURATION=${BENCH_DURATION:-10}
BENCH_WARMUP=${BENCH_WARMUP:-3}
BENCH_THREADS=${BENCH_THREADS:-2}
BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-50}
BENCH_EVENT_SIZE=${BENCH_EVENT_SIZE:-300}
BENCH_BATCH=${BENCH_BATCH:-100}
BENCH_KCAT_N=${BENCH_KCAT_N:-500000}
BENCH_FLUSH_WAIT=${BENCH_FLUSH_WAIT:-30}
BENCH_DEDUP=${BENCH_DEDUP:-0}
BENCH_KEEP=${BENCH_KEEP:-0}

# The module's producer defaults (src/ngx_evbus_kafka.c) that matter for
# throughput; kcat gets the same ones so the comparison is like for like.
KCAT_PROPS=(acks=all compression.type=lz4 linger.ms=5
            enable.idempotence=false queue.buffering.max.messages=100000
            queue.buffering.max.kbytes=65536 message.timeout.ms=120000)

RUNID=$(date +%Y%m%d%H%M%S)-$$
PREFIX=$OUT/run-$RUNID
LUA=$REPO/bench/post.lua
CLK_TCK=$(getconf CLK_TCK)

KAFKA_STARTED=0
NGINX_PORT=
FAIL=0
ANOMALIES=()

# Results, keyed by scenario name.
declare -A R_RPS R_EPS R_P50 R_P99 R_LOC R_CPU R_US R_OTHER
# Per location: events accepted (2xx, from the module's answers, warm-ups
# included), requests still in flight when wrk stopped, topic.
declare -A ACCEPTED INFLIGHT TOPIC
SCENARIOS=()

say()  { echo "bench: $*"; }
die()  { echo "bench: ERROR: $*" >&2; exit 1; }
anomaly() { ANOMALIES+=("$*"); echo "bench: ANOMALY: $*"; }
hr()   { printf '%.0s-' {1..72}; echo; }

# ---------------------------------------------------------------- helpers

# us -> ms with 2 decimals
ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }
# a / b with d decimals ("-" when b is 0 or empty)
ratio() {
    awk -v a="${1:-0}" -v b="${2:-0}" -v d="${3:-2}" \
        'BEGIN { if (b + 0 == 0) print "-"; else printf "%.*f", d, a / b }'
}
# thousands separators for integers
num() {
    local n=${1%.*} out=''
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "${1:--}"; return; }
    while [ ${#n} -gt 3 ]; do out=",${n: -3}$out"; n=${n:0:${#n}-3}; done
    echo "$n$out"
}

port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

kafka_answers() {
    local out
    out=$(timeout 10 kcat -b "$BROKER" -L -m 3 2>/dev/null) || return 1
    grep -q "^ *broker .* at" <<<"$out"
}

# Sum of the end offsets of all partitions of a topic (topics are new for
# every run, so the start offsets are 0): the number of messages.
topic_count() {
    local topic=$1 parts args=() p out
    parts=$(timeout 15 kcat -b "$BROKER" -L -t "$topic" 2>/dev/null \
            | sed -n 's/^ *partition \([0-9]*\),.*/\1/p') || true
    [ -n "$parts" ] || { echo 0; return; }
    for p in $parts; do args+=(-t "$topic:$p:-1"); done
    out=$(timeout 15 kcat -b "$BROKER" -Q "${args[@]}" 2>/dev/null) || true
    awk '/ offset / { s += $NF } END { print s + 0 }' <<<"$out"
}

# Wait (bounded) until a topic holds at least $2 messages and stops growing;
# prints the count.
wait_topic() {
    local topic=$1 want=$2 t0=$SECONDS n last=-1
    while :; do
        n=$(topic_count "$topic")
        if [ "$n" -ge "$want" ] && [ "$n" = "$last" ]; then break; fi
        [ $((SECONDS - t0)) -lt "$BENCH_FLUSH_WAIT" ] || break
        last=$n
        sleep 0.5
    done
    echo "$n"
}

# busy and total clock ticks of the whole machine (all cpus), from /proc/stat
machine_ticks() {
    awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i;
                   print t - $5 - $6, t }' /proc/stat
}

# CPU time (clock ticks, user+system) of a list of pids
cpu_ticks() {
    local pid s sum=0 f
    for pid in "$@"; do
        s=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        # fields after "(comm) ": state ppid ... utime is field 14 overall
        read -ra f <<<"${s##*) }"
        sum=$((sum + f[11] + f[12]))
    done
    echo "$sum"
}

nginx_master() { cat "$PREFIX/nginx.pid" 2>/dev/null; }

nginx_workers() {
    local master d s f
    master=$(nginx_master) || return 0
    for d in /proc/[0-9]*; do
        s=$(cat "$d/stat" 2>/dev/null) || continue
        read -ra f <<<"${s##*) }"
        if [ "${f[1]}" = "$master" ]; then echo "${d#/proc/}"; fi
    done
    return 0
}

kafka_pid() {
    "$REPO/scripts/kafka.sh" pid 2>/dev/null || true
}

# ----------------------------------------------------------- environment

machine_info() {
    local cpu mem
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
    mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    echo "date:        $(date -u '+%F %T UTC')"
    echo "host:        $(uname -srm)"
    echo "cpus:        $(nproc) x ${cpu:-unknown}"
    echo "memory:      $mem"
    echo "load avg:    $(cut -d' ' -f1-3 /proc/loadavg) (before the run)"
    echo "nginx:       $("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
    echo "librdkafka:  $(dpkg-query -W -f='${Version}' librdkafka1 2>/dev/null || echo '?') (package librdkafka1)"
    echo "kcat:        $(dpkg-query -W -f='${Version}' kcat 2>/dev/null || echo '?')"
    echo "wrk:         $(wrk -v 2>&1 | head -1 | awk '{print $2}')"
    local kj
    kj=$(ls "$REPO"/.cache/kafka/libs/kafka_2.13-*.jar 2>/dev/null | head -1)
    kj=${kj##*/kafka_2.13-}
    echo "kafka:       ${kj%.jar}${kj:+ }broker 127.0.0.1:$KAFKA_PORT"
    echo "module:      $MODULE ($(stat -c '%y' "$MODULE" | cut -d. -f1))"
    echo "git:         $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')"
    echo "run id:      $RUNID"
}

ensure_kafka() {
    if kafka_answers; then
        say "Kafka answers on $BROKER"
        return
    fi
    say "Kafka not answering on $BROKER: starting it (scripts/kafka.sh start)"
    KAFKA_PORT=$KAFKA_PORT "$REPO/scripts/kafka.sh" start
    KAFKA_STARTED=1
    kafka_answers || die "Kafka still not answering on $BROKER"
}

render_conf() {
    local user_line='' props=''
    [ "$(id -u)" = 0 ] && user_line='user root root;'
    # extra producer properties: BENCH_KAFKA_PROPERTIES="linger.ms=10 ..."
    local kv
    for kv in ${BENCH_KAFKA_PROPERTIES:-}; do
        props+="    evbus_kafka_property ${kv%%=*} ${kv#*=};"$'\n'
    done
    local body_buffer=$(( (BENCH_BATCH * (BENCH_EVENT_SIZE + 1) / 1024 + 2) ))k
    awk -v module="$MODULE" -v user="$user_line" -v prefix="$PREFIX" \
        -v kport="$KAFKA_PORT" -v port="$NGINX_PORT" -v runid="$RUNID" \
        -v bb="$body_buffer" -v props="$props" '
        {
            gsub(/@MODULE@/, module); gsub(/@USER_LINE@/, user);
            gsub(/@PREFIX@/, prefix); gsub(/@KAFKA_PORT@/, kport);
            gsub(/@PORT@/, port); gsub(/@RUNID@/, runid);
            gsub(/@BODY_BUFFER@/, bb); gsub(/@KAFKA_PROPERTIES@/, props);
            print
        }' "$REPO/bench/nginx.conf.in" >"$PREFIX/nginx.conf"
}

start_nginx() {
    local try i
    mkdir -p "$PREFIX"
    for try in 1 2 3 4 5; do
        NGINX_PORT=$((20000 + RANDOM % 30000))
        port_open "$NGINX_PORT" && continue
        render_conf
        if ! "$NGINX" -p "$PREFIX" -c "$PREFIX/nginx.conf" -e "$PREFIX/error.log" \
                -t -q 2>"$PREFIX/conf-test.log"; then
            cat "$PREFIX/conf-test.log" >&2
            die "nginx -t failed for $PREFIX/nginx.conf"
        fi
        "$NGINX" -p "$PREFIX" -c "$PREFIX/nginx.conf" -e "$PREFIX/error.log" \
            2>"$PREFIX/start.log" || {
            grep -q 'Address already in use' "$PREFIX/start.log" && continue
            cat "$PREFIX/start.log" >&2
            die "nginx did not start"
        }
        for ((i = 0; i < 50; i++)); do
            [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
                 "http://127.0.0.1:$NGINX_PORT/r202")" = 202 ] && break
            sleep 0.1
        done
        [ "$i" -lt 50 ] || die "nginx not answering on port $NGINX_PORT"
        # both workers' producers up
        for ((i = 0; i < 50; i++)); do
            [ "$(grep -c 'evbus: producer started' "$PREFIX/error.log")" -ge 2 ] && break
            sleep 0.1
        done
        say "nginx started (master $(nginx_master), workers" \
            "$(nginx_workers | tr '\n' ' ')) on 127.0.0.1:$NGINX_PORT," \
            "prefix $PREFIX"
        grep -m1 -o 'producer started (librdkafka [^)]*)' "$PREFIX/error.log" \
            | sed 's/^/bench: /' || true
        return
    done
    die "no free port for nginx after 5 tries"
}

stop_nginx() {
    local master i
    master=$(nginx_master) || return 0
    [ -n "$master" ] && [ -d "/proc/$master" ] || return 0
    kill -QUIT "$master" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        [ -d "/proc/$master" ] || return 0
        sleep 0.1
    done
    say "nginx master $master did not quit in 15 s: SIGTERM"
    kill -TERM "$master" 2>/dev/null || true
    sleep 1
    kill -KILL "$master" 2>/dev/null || true
}

cleanup() {
    set +e
    trap '' PIPE INT TERM
    stop_nginx
    if [ -f "$PREFIX/error.log" ]; then
        cp -f "$PREFIX/error.log" "$OUT/latest-error.log" 2>/dev/null
    fi
    if [ "$BENCH_KEEP" = 1 ]; then
        say "kept $PREFIX"
    else
        rm -rf "$PREFIX"
    fi
    if [ "$KAFKA_STARTED" = 1 ]; then
        say "stopping the Kafka broker this run started"
        "$REPO/scripts/kafka.sh" stop
    fi
}

# ------------------------------------------------------------- scenarios

# Runs wrk once; sets the associative array W from the BENCHRESULT line and
# adds the event counts to the location's totals.  $1 location, $2 body
# mode (single|batch), $3 tag, $4 seconds, $5 "show" to print wrk's output.
declare -A W
run_wrk() {
    local loc=$1 mode=$2 tag=$3 secs=$4 show=${5:-} out kv line t0 t1
    local url="http://127.0.0.1:$NGINX_PORT$loc"
    out=$(wrk -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" -d"${secs}s" \
              --timeout 5s --latency -s "$LUA" "$url" \
              -- "$mode" "$tag" "$BENCH_BATCH" "$BENCH_EVENT_SIZE" 2>&1) \
        || { echo "$out"; die "wrk failed on $loc"; }
    line=$(grep '^BENCHRESULT ' <<<"$out") || { echo "$out"; die "no BENCHRESULT from wrk"; }
    W=()
    for kv in ${line#BENCHRESULT }; do W[${kv%%=*}]=${kv#*=}; done
    if [ "$show" = show ]; then
        grep -v '^BENCH' <<<"$out" | sed 's/^/    /'
    fi
    ACCEPTED[$loc]=$(( ${ACCEPTED[$loc]:-0} + W[accepted] ))
    # events of requests sent but not answered when wrk stopped: the
    # module may have accepted them (wrk closes the connections at the end)
    local per=1
    [ "$mode" = batch ] && per=$BENCH_BATCH
    INFLIGHT[$loc]=$(( ${INFLIGHT[$loc]:-0} + (W[sent] - W[responses]) * per ))
    local errs=$((W[err_connect] + W[err_read] + W[err_write] + W[err_timeout]))
    if [ "${W[non2xx]}" -gt 0 ]; then
        anomaly "$loc ($tag): ${W[non2xx]} non-2xx responses; first:" \
                "$(grep '^BENCHFIRSTBAD ' <<<"$out" | cut -d' ' -f2-)"
    fi
    if [ "${W[rejected]}" -gt 0 ]; then
        anomaly "$loc ($tag): ${W[rejected]} events rejected in 2xx answers"
    fi
    if [ "$errs" -gt 0 ]; then
        anomaly "$loc ($tag): socket errors connect ${W[err_connect]}" \
                "read ${W[err_read]} write ${W[err_write]}" \
                "timeout ${W[err_timeout]}"
    fi
}

# CPU time (clock ticks) of this shell's waited-for children (wrk), from
# the `times` builtin (getrusage), into CHILD_TICKS: not in a $(...)
# subshell, which would have no children of its own
child_ticks() {
    times >"$PREFIX/times.txt"
    CHILD_TICKS=$(awk -v hz="$CLK_TCK" 'NR == 2 {
        t = 0
        for (i = 1; i <= 2; i++) {
            split($i, a, /[ms]/); t += a[1] * 60 + a[2]
        }
        printf "%.0f\n", t * hz }' "$PREFIX/times.txt")
}

# scenario_wrk NAME LOCATION MODE [TOPIC]: a warm-up run, then a measured run
# whose throughput, latency and CPU use go into the R_* arrays; then, with a
# TOPIC, wait (bounded) until the accepted events are in it, so the next
# scenario starts with an idle producer and broker.
scenario_wrk() {
    local name=$1 loc=$2 mode=$3 topic=${4:-} per=1 ng kf c0 c1 k0 k1 w0 w1 t0 t1
    [ "$mode" = batch ] && per=$BENCH_BATCH
    SCENARIOS+=("$name")
    R_LOC[$name]=$loc
    hr
    say "scenario $name: POST $loc, $mode body ($per x $BENCH_EVENT_SIZE-byte" \
        "events), $BENCH_THREADS threads, $BENCH_CONNECTIONS connections"
    run_wrk "$loc" "$mode" "$RUNID-$name-w" "$BENCH_WARMUP"
    say "warm-up ${BENCH_WARMUP}s: ${W[requests]} requests"

    ng=$(nginx_workers | tr '\n' ' ')
    kf=$(kafka_pid)
    local m0 m1
    c0=$(cpu_ticks $ng); k0=$(cpu_ticks $kf); child_ticks; w0=$CHILD_TICKS
    m0=$(machine_ticks)
    t0=$(date +%s.%N)
    run_wrk "$loc" "$mode" "$RUNID-$name-m" "$BENCH_DURATION" show
    t1=$(date +%s.%N)
    m1=$(machine_ticks)
    c1=$(cpu_ticks $ng); k1=$(cpu_ticks $kf); child_ticks; w1=$CHILD_TICKS

    R_RPS[$name]=$(awk -v n="${W[requests]}" -v d="${W[duration_us]}" \
        'BEGIN { printf "%.0f", n / (d / 1e6) }')
    R_EPS[$name]=$((${R_RPS[$name]} * per))
    R_P50[$name]=${W[p50_us]}
    R_P99[$name]=${W[p99_us]}
    R_OTHER[$name]=$(awk -v n=$((c1 - c0)) -v k=$((k1 - k0)) -v w=$((w1 - w0)) \
        -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" -v m0="$m0" -v m1="$m1" 'BEGIN {
            split(m0, x, " "); split(m1, y, " ");
            printf "%.0f", 100 * (y[1] - x[1] - n - k - w) / hz / (b - a) }')
    # worker CPU (their librdkafka threads included) per event: robust to
    # the machine's load, unlike rates
    R_US[$name]=$(awk -v n=$((c1 - c0)) -v hz="$CLK_TCK" \
        -v r="${W[requests]}" -v per="$per" \
        'BEGIN { printf "%.1f", r ? 1e6 * n / hz / (r * per) : 0 }')
    R_CPU[$name]=$(awk -v n=$((c1 - c0)) -v k=$((k1 - k0)) -v w=$((w1 - w0)) \
        -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" -v kf="$kf" \
        -v m0="$m0" -v m1="$m1" -v ncpu="$(nproc)" 'BEGIN {
            wall = b - a;
            split(m0, x, " "); split(m1, y, " ");
            busy = y[1] - x[1];
            other = busy - n - w - (kf == "" ? 0 : k);
            printf "nginx workers %3.0f%%, wrk %3.0f%%, kafka %s, others %3.0f%%;" \
                   " machine busy %3.0f%% of %d cpus  (%%: of one cpu, over %.1f s)",
                100 * n / hz / wall, 100 * w / hz / wall,
                kf == "" ? "?" : sprintf("%3.0f%%", 100 * k / hz / wall),
                100 * other / hz / wall,
                100 * busy / (y[2] - x[2]), ncpu, wall }')
    if [ -n "$topic" ]; then
        t0=$SECONDS
        local n
        n=$(wait_topic "$topic" "${ACCEPTED[$loc]}")
        say "$(num "$n") messages in $topic after $((SECONDS - t0)) s" \
            "($(num "${ACCEPTED[$loc]}") accepted so far)"
    fi
}

# kcat producing BENCH_KCAT_N keyed messages of BENCH_EVENT_SIZE bytes from a
# file (-l), timed on the wall clock including the final flush.
scenario_kcat() {
    local name=kcat topic=bench-kcat-$RUNID file=$PREFIX/kcat-events.txt
    local t0 t1 args=() p n
    SCENARIOS+=("$name")
    for p in "${KCAT_PROPS[@]}"; do args+=(-X "$p"); done
    hr
    say "scenario kcat: $(num "$BENCH_KCAT_N") keyed messages of" \
        "$BENCH_EVENT_SIZE bytes to $topic, kcat -P -l -K<TAB> ${args[*]}"
    # the topic is auto-created by a first message, outside the timing
    echo "warmup{}" | kcat -b "$BROKER" -P -t "$topic" "${args[@]}" \
        || die "kcat could not produce to $topic"
    t0=$(date +%s.%N)
    kcat -b "$BROKER" -P -t "$topic" -K $'\t' -l "${args[@]}" "$file" \
        2>"$PREFIX/kcat.err" || { cat "$PREFIX/kcat.err"; die "kcat -P failed"; }
    t1=$(date +%s.%N)
    [ -s "$PREFIX/kcat.err" ] && sed 's/^/    kcat: /' "$PREFIX/kcat.err" | head -5
    R_EPS[$name]=$(awk -v n="$BENCH_KCAT_N" -v a="$t0" -v b="$t1" \
        'BEGIN { printf "%.0f", n / (b - a) }')
    say "kcat: $(num "$BENCH_KCAT_N") messages in" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s" \
        "= $(num "${R_EPS[$name]}") msgs/s"
    n=$(wait_topic "$topic" $((BENCH_KCAT_N + 1)))
    if [ "$n" -ne $((BENCH_KCAT_N + 1)) ]; then
        anomaly "kcat topic $topic holds $n messages, expected $((BENCH_KCAT_N + 1))"
    fi
}

# The same events as post.lua's (same layout and padding alphabet), one
# "event_id<TAB>json" line each.
make_kcat_file() {
    awk -v n="$BENCH_KCAT_N" -v size="$BENCH_EVENT_SIZE" -v tag="$RUNID-kcat" '
    BEGIN {
        srand(12345);
        chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        pool = "";
        for (i = 0; i < 8192; i++) pool = pool substr(chars, int(rand() * 62) + 1, 1);
        for (i = 1; i <= n; i++) {
            id = tag "-" i;
            head = "{\"event_type\":\"click\",\"event_id\":\"" id \
                   "\",\"user_id\":\"user-" sprintf("%05d", i % 100000) \
                   "\",\"page\":\"/products/" sprintf("%03d", i % 1000) \
                   "\",\"referrer\":\"https://shop.example.com/\",\"props\":{\"pad\":\"";
            pad = size - length(head) - 3;
            if (pad < 0) pad = 0;
            off = (i * 131) % (8192 - pad - 1) + 1;
            print id "\t" head substr(pool, off, pad) "\"}}";
        }
    }' >"$PREFIX/kcat-events.txt"
}

# ---------------------------------------------------------------- checks

check_delivery() {
    local loc topic want n extra status
    hr
    say "delivery check: events accepted (2xx, warm-ups included) vs" \
        "messages in Kafka (sum of end offsets)"
    for loc in /evbus /batch; do
        topic=${TOPIC[$loc]}
        want=${ACCEPTED[$loc]:-0}
        n=$(wait_topic "$topic" "$want")
        DELIVERY_N[$loc]=$n
    done
    # a graceful stop flushes the producers; their counters go to error.log
    stop_nginx
    local produced=0 delivered=0 failed=0
    read -r produced delivered failed < <(awk '
        /evbus: producer stopped:/ {
            for (i = 1; i <= NF; i++) {
                if ($(i + 1) ~ /^produced/) p += $i;
                if ($(i + 1) ~ /^delivered/) d += $i;
                if ($(i + 1) ~ /^failed/) f += $i;
            }
        } END { print p + 0, d + 0, f + 0 }' "$PREFIX/error.log")
    for loc in /evbus /batch; do
        topic=${TOPIC[$loc]}
        want=${ACCEPTED[$loc]:-0}
        n=$(topic_count "$topic")
        if [ "$n" -lt "$want" ]; then
            status="MISSING $((want - n))"
            FAIL=1
        elif [ "$n" -eq "$want" ]; then
            status=OK
        else
            extra=$((n - want))
            status="OK, $extra more than accepted"
            if [ "$extra" -le "${INFLIGHT[$loc]:-0}" ]; then
                status+=" (<= ${INFLIGHT[$loc]} events in requests in flight when wrk stopped)"
            else
                status+=" (DUPLICATES? only ${INFLIGHT[$loc]:-0} events were in flight)"
                anomaly "$topic: $extra more messages than accepted events"
            fi
        fi
        printf '  %-8s accepted %s, in Kafka %s: %s   [%s]\n' "$loc" \
            "$(num "$want")" "$(num "$n")" "$status" "$topic"
        if [ "$BENCH_DEDUP" = 1 ]; then
            local distinct
            distinct=$(timeout 120 kcat -b "$BROKER" -C -t "$topic" -o beginning \
                -e -q -f '%k\n' 2>/dev/null | sort -u | wc -l)
            printf '  %-8s distinct event_ids in Kafka: %s\n' "" "$(num "$distinct")"
            [ "$distinct" -ge "$want" ] || { FAIL=1; echo "  MISSING (distinct)"; }
        fi
    done
    echo "  producers (error.log at exit, both workers): produced $(num "$produced")," \
         "delivered $(num "$delivered"), failed $(num "$failed")"
    local total=$(( ${ACCEPTED[/evbus]:-0} + ${ACCEPTED[/batch]:-0} ))
    if [ "$failed" -gt 0 ]; then
        anomaly "$failed deliveries failed (see error.log)"
    fi
    local inflight=$(( ${INFLIGHT[/evbus]:-0} + ${INFLIGHT[/batch]:-0} ))
    if [ "$produced" -lt "$total" ] || [ "$produced" -gt $((total + inflight)) ]; then
        anomaly "producers report $produced produced, clients saw $total" \
                "accepted (+ at most $inflight in flight)"
    fi
    if [ "$delivered" -ne "$produced" ]; then
        anomaly "producers: $produced produced but $delivered delivered"
    fi
    # what the module writes: the client's event plus the enrichment fields
    VALUE_SIZE=$(timeout 20 kcat -b "$BROKER" -C -t "${TOPIC[/evbus]}" -p 0 \
        -o beginning -c 1000 -e -q -f '%S\n' 2>/dev/null \
        | awk '{ s += $1; n++ } END { if (n) printf "%.0f", s / n; else print "?" }')
    echo "  message value size in Kafka (module, average of up to 1000):" \
         "$VALUE_SIZE bytes for a $BENCH_EVENT_SIZE-byte event; kcat:" \
         "$BENCH_EVENT_SIZE bytes"
}
declare -A DELIVERY_N

check_error_log() {
    local log=$PREFIX/error.log n
    hr
    n=$(grep -cE '\[(warn|error|crit|alert|emerg)\]' "$log" || true)
    if [ "$n" -gt 0 ]; then
        anomaly "$n warn-or-worse lines in nginx's error.log; first ones:"
        grep -E '\[(warn|error|crit|alert|emerg)\]' "$log" | head -10 \
            | cut -c1-300 | sed 's/^/    /'
    else
        say "nginx error.log: no [warn] or worse lines"
    fi
}

# ---------------------------------------------------------------- report

report() {
    local s="evbus-single" r="return-202" b="evbus-batch"
    hr
    echo "RESULTS (run $RUNID; $BENCH_THREADS wrk threads, $BENCH_CONNECTIONS" \
         "connections, ${BENCH_DURATION}s per run, ${BENCH_EVENT_SIZE}-byte events)"
    echo
    printf '  %-30s %10s %10s %8s %8s %12s\n' scenario "req/s" "events/s" \
        "p50 ms" "p99 ms" "worker us/ev"
    local n
    for n in "$r" "$s" "$b"; do
        printf '  %-30s %10s %10s %8s %8s %12s\n' "$n (POST ${R_LOC[$n]})" \
            "$(num "${R_RPS[$n]}")" "$(num "${R_EPS[$n]}")" \
            "$(ms "${R_P50[$n]}")" "$(ms "${R_P99[$n]}")" "${R_US[$n]}"
    done
    printf '  %-30s %10s %10s %8s %8s %12s\n' "kcat -P (raw librdkafka)" "-" \
        "$(num "${R_EPS[kcat]}")" "-" "-" "-"
    echo
    echo "  evbus single / return 202 (req/s):      $(ratio "${R_RPS[$s]}" "${R_RPS[$r]}")"
    echo "  evbus batched / kcat (events/s):        $(ratio "${R_EPS[$b]}" "${R_EPS[kcat]}")"
    echo "  evbus batched / evbus single (events/s): $(ratio "${R_EPS[$b]}" "${R_EPS[$s]}")"
    echo "  worker CPU per request, evbus single / return 202: $(ratio "${R_US[$s]}" "${R_US[$r]}")"
    echo "  (worker us/ev: CPU time of the nginx workers, librdkafka threads included,"
    echo "   per event (per request for return 202): steadier than rates on a busy machine)"
    echo
    echo "  CPU during the measured runs:"
    for n in "$r" "$s" "$b"; do
        printf '    %-14s %s\n' "$n" "${R_CPU[$n]}"
    done
    local noisy=()
    for n in "$r" "$s" "$b"; do
        [ "${R_OTHER[$n]:-0}" -le "${BENCH_NOISE_PCT:-25}" ] || noisy+=("$n")
    done
    if [ "${#noisy[@]}" -gt 0 ]; then
        echo "  NOISY: other processes used more than ${BENCH_NOISE_PCT:-25}% of a cpu during:" \
             "${noisy[*]}; rates and their ratios are skewed (compare worker us/ev, or re-run)"
    fi
    echo "  load avg after the runs: $(cut -d' ' -f1-3 /proc/loadavg)" \
         "(other work on the machine skews absolute numbers)"
    echo "  kcat producer properties: ${KCAT_PROPS[*]}"
    echo "  module producer: its defaults (acks=all, compression.type=lz4," \
         "linger.ms=5, ...)${BENCH_KAFKA_PROPERTIES:+ + $BENCH_KAFKA_PROPERTIES}"
}

# ------------------------------------------------------------------ main

main() {
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    for c in "$NGINX" wrk kcat curl awk; do
        command -v "$c" >/dev/null || die "$c not found (scripts/deps.sh bench)"
    done
    [ -f "$MODULE" ] || die "$MODULE not found: run make module"

    echo "ngx_evbus bench"
    hr
    machine_info
    hr
    ensure_kafka
    mkdir -p "$PREFIX"
    TOPIC[/evbus]=bench-single-$RUNID
    TOPIC[/batch]=bench-batch-$RUNID
    say "generating $(num "$BENCH_KCAT_N") events for kcat"
    make_kcat_file
    start_nginx

    scenario_wrk return-202 /r202 single
    scenario_wrk evbus-single /evbus single "${TOPIC[/evbus]}"
    scenario_wrk evbus-batch /batch batch "${TOPIC[/batch]}"
    scenario_kcat

    check_delivery
    check_error_log
    report

    hr
    if [ "${#ANOMALIES[@]}" -gt 0 ]; then
        echo "ANOMALIES (${#ANOMALIES[@]}):"
        printf '  - %s\n' "${ANOMALIES[@]}"
    else
        echo "no anomalies"
    fi
    if [ "$FAIL" = 1 ]; then
        echo "RESULT: FAIL (events missing in Kafka)"
        exit 1
    fi
    echo "RESULT: OK"
}

mkdir -p "$OUT"
set -o pipefail
# a no-op trap (not an ignore, which main would inherit): this shell waits
# for main's cleanup instead of dying first
trap ':' INT TERM
# tee ignores INT and TERM so that main's cleanup can still print (and
# SIGPIPE does not kill main before it has stopped nginx)
main "$@" 2>&1 | (trap '' INT TERM; exec tee "$LATEST")
exit "${PIPESTATUS[0]}"

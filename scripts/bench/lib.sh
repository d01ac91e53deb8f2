#!/bin/bash
# ngx_evbus benchmark, common part: configuration, helpers, nginx instances,
# wrk scenarios, delivery checks, the report.  Sourced by scripts/bench.sh
# (every part, make bench) and by each part's own script, which can also
# run alone:
#   scripts/bench/http.sh    return 202, queued single and batch, kcat
#   scripts/bench/schema.sh  purchase events without and with evbus_schemas
#   scripts/bench/ack.sh     evbus_ack kafka, one instance per linger.ms
#   scripts/bench/spool.sh   spool writes with Kafka down, then the replay
#   scripts/bench/overload.sh  Kafka throttled to half the offered rate:
#                            with and without evbus_priority
#   scripts/bench/memory.sh  Kafka unreachable, queues full: worker RSS
#                            against queue.buffering.max.kbytes
#   scripts/bench/fleet.sh   N workers' producers (N up to a few hundred):
#                            what they cost the broker, idle, busy, reload
# A part is a function bench_part_NAME (defined in scripts/bench/NAME.sh)
# that starts its nginx instances, runs scenarios and checks delivery;
# bench_run runs the parts given in one shell, one report.
# See docs/bench.md for what is measured and how to read the results.
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
#   BENCH_ACK_LINGERS     linger.ms values for the evbus_ack kafka rows, one
#                         nginx instance each; empty: none ["0 5"]
#   BENCH_ACK_CONNECTIONS wrk connections for the ack kafka rows (held
#                         responses: req/s <= connections / latency)
#                         [BENCH_CONNECTIONS]
#   BENCH_SCHEMA          auto: schema rows when the module has evbus_schemas
#                         and conf-examples/schemas/purchase exists; 0: never;
#                         1: required (error without) [auto]
#   BENCH_SCHEMA_MODE     body of the schema rows, single|batch [batch]
#   BENCH_SPOOL           1: the spool rows (Kafka down) [1]
#   BENCH_SPOOL_DURATION  seconds per measured spool run [5]
#   BENCH_SPOOL_WARMUP    seconds of warm-up before each spool run [2]
#   BENCH_REPLAY          1: replay the spool into Kafka afterwards [1]
#   BENCH_REPLAY_WAIT     max seconds for the replay [90]
#   BENCH_LOWRATE         events/s of each of the two clients of the lowrate
#                         row (about one worker's share each) [300]
#   BENCH_LOWRATE_DURATION  seconds of the lowrate row [20]
#   BENCH_FLEET           1: the fleet rows (N workers, N producers, what
#                         they cost the broker) [1]
#   BENCH_FLEET_NS        worker counts of the fleet rows ["1 50 100 200 400"]
#   BENCH_FLEET_IDLE      seconds each fleet instance stays idle, measured [20]
#   BENCH_FLEET_BUSY      seconds of steady low-rate load per fleet row [20]
#   BENCH_FLEET_RATE      events/s per worker in the busy phase [10]
#   BENCH_FLEET_CONNS     wrk connections per worker (reuseport spreads
#                         them over the workers) [4]
#   BENCH_FLEET_RELOAD_N  the fleet row whose instance is reloaded under
#                         load, connections sampled every 0.1 s; empty:
#                         none [100]
#   BENCH_FLEET_GC        1: force a full GC of the broker before each
#                         memory sample (live heap); auto: only of a broker
#                         this run started, never of a shared one [auto]
#   BENCH_DEDUP           1: also consume the bench topics and count distinct
#                         event_ids (keys) [0]
#   BENCH_KEEP            1: keep the temporary prefix (config, logs) [0]
#   BENCH_NOISE_PCT       flag a scenario as NOISY when other processes used
#                         more than this % of one cpu during it [25]
#   BENCH_OVERLOAD        1: the overload rows (mock cluster throttled to
#                         half the offered rate, 90% low / 10% high) [1]
#   BENCH_OVERLOAD_FILL   seconds of load before each measured overload run,
#                         to reach the steady state [5]
#   BENCH_MEMORY          1: the memory rows (Kafka unreachable, queues
#                         filled, worker RSS against the configured bytes) [1]
#   BENCH_MEMORY_KBYTES   queue.buffering.max.kbytes of the memory rows
#                         (the module's default) [65536]
#   BENCH_KAFKA_PROPERTIES  extra evbus_kafka_property lines for the module
#                         (every instance), "name=value name=value"
#                         (e.g. "linger.ms=20") []
#
# Output: stdout, also written to build/bench/latest.txt when every part
# runs (build/bench/latest-PART[-PART...].txt otherwise), and the nginx
# instances' error logs to latest-error.log (latest-PART...-error.log).
# Exit status: 0 when every accepted event is in Kafka (spool rows: in the
# spool, and in Kafka after the replay), 1 when some are missing or the
# bench could not run.
#
# Adding a scenario: add a location to bench/nginx.conf.in, then call
# scenario_wrk (HTTP) or a new scenario_* function from the part it
# belongs to (or a new part: scripts/bench/NAME.sh defining bench_part_NAME,
# listed in BENCH_ALL_PARTS); results go into the R_* arrays, the table
# and, for a ratio, report_ratios().

[ -z "${EVBUS_BENCH_LIB:-}" ] || return 0
EVBUS_BENCH_LIB=1

set -euo pipefail

BENCH_ALL_PARTS="http schema ack spool gzip overload lowrate stats memory fleet"


REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$REPO/build
OUT=$BUILD/bench

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
BENCH_ACK_LINGERS=${BENCH_ACK_LINGERS-0 5}
BENCH_ACK_CONNECTIONS=${BENCH_ACK_CONNECTIONS:-$BENCH_CONNECTIONS}
BENCH_SCHEMA=${BENCH_SCHEMA:-auto}
BENCH_SCHEMA_MODE=${BENCH_SCHEMA_MODE:-batch}
BENCH_SPOOL=${BENCH_SPOOL:-1}
BENCH_SPOOL_DURATION=${BENCH_SPOOL_DURATION:-5}
BENCH_SPOOL_WARMUP=${BENCH_SPOOL_WARMUP:-2}
BENCH_REPLAY=${BENCH_REPLAY:-1}
BENCH_REPLAY_WAIT=${BENCH_REPLAY_WAIT:-90}
BENCH_OVERLOAD=${BENCH_OVERLOAD:-1}
BENCH_OVERLOAD_FILL=${BENCH_OVERLOAD_FILL:-5}
BENCH_LOWRATE=${BENCH_LOWRATE:-300}
BENCH_LOWRATE_DURATION=${BENCH_LOWRATE_DURATION:-20}
BENCH_MEMORY=${BENCH_MEMORY:-1}
BENCH_MEMORY_KBYTES=${BENCH_MEMORY_KBYTES:-65536}
BENCH_FLEET=${BENCH_FLEET:-1}
BENCH_FLEET_NS=${BENCH_FLEET_NS:-1 50 100 200 400}
BENCH_FLEET_IDLE=${BENCH_FLEET_IDLE:-20}
BENCH_FLEET_BUSY=${BENCH_FLEET_BUSY:-20}
BENCH_FLEET_RATE=${BENCH_FLEET_RATE:-10}
BENCH_FLEET_CONNS=${BENCH_FLEET_CONNS:-4}
BENCH_FLEET_RELOAD_N=${BENCH_FLEET_RELOAD_N-100}
BENCH_FLEET_GC=${BENCH_FLEET_GC:-auto}
BENCH_DEDUP=${BENCH_DEDUP:-0}
BENCH_KEEP=${BENCH_KEEP:-0}

# The module's producer defaults (src/ngx_evbus_kafka.c) that matter for
# throughput; kcat gets the same ones so the comparison is like for like.
# linger.ms: the module's when no location uses evbus_ack kafka.
KCAT_PROPS=(acks=all compression.type=snappy linger.ms=50
            enable.idempotence=false queue.buffering.max.messages=100000
            queue.buffering.max.kbytes=65536 message.timeout.ms=120000)

RUNID=$(date +%Y%m%d%H%M%S)-$$
PREFIX=$OUT/run-$RUNID
LUA=$REPO/bench/post.lua
CLK_TCK=$(getconf CLK_TCK)

KAFKA_STARTED=0
FAIL=0
ANOMALIES=()

# The nginx instance being used (one at a time): name, prefix, port.
INST=
IPREFIX=
NGINX_PORT=
INSTANCES=()
# Seconds of warm-up and measurement of the next scenario_wrk.
SCEN_WARMUP=$BENCH_WARMUP
SCEN_DURATION=$BENCH_DURATION
SCEN_CONNECTIONS=$BENCH_CONNECTIONS
# Schemas: SCHEMAS=1 when the schema rows run; why not otherwise.
SCHEMAS=0
SCHEMA_WHY=
SCHEMA_DIR=$REPO/conf-examples/schemas
# Spool: its directory, the closed port, and what was measured.
SPOOL_DIR=
DEAD_PORT=
declare -A SP

# Results, keyed by scenario name.
declare -A R_RPS R_EPS R_P50 R_P99 R_LOC R_CPU R_US R_OTHER R_LABEL R_ACC
# Per instance + location ("main/evbus"): events accepted (2xx, from the
# module's answers, warm-ups included), events in requests still in flight
# when wrk stopped, topic.
declare -A ACCEPTED INFLIGHT TOPIC
# Instance => regex of the error.log lines its part expects (Kafka down on
# purpose, a full queue): not anomalies.
declare -A LOG_EXPECTED
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

# the master of an instance (default: the current one) by its prefix
nginx_master() { cat "${1:-$IPREFIX}/nginx.pid" 2>/dev/null; }

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
    kj=$(ls "$REPO"/.cache/kafka/libs/kafka_2.13-*.jar 2>/dev/null | head -1) || true
    kj=${kj##*/kafka_2.13-}
    echo "kafka:       ${kj%.jar}${kj:+ }broker 127.0.0.1:$KAFKA_PORT"
    echo "module:      $MODULE ($(stat -c '%y' "$MODULE" | cut -d. -f1))"
    echo "git:         $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')"
    echo "run id:      $RUNID"
}

# Whether the schema rows can run: sets SCHEMAS and SCHEMA_WHY.
detect_schemas() {
    SCHEMAS=0
    if [ "$BENCH_SCHEMA" = 0 ]; then
        SCHEMA_WHY="BENCH_SCHEMA=0"
    elif ! grep -q evbus_schemas "$REPO/ngx_evbus_module.c"; then
        SCHEMA_WHY="ngx_evbus_module.c has no evbus_schemas directive yet"
    elif ! grep -qa evbus_schemas "$MODULE"; then
        SCHEMA_WHY="$MODULE has no evbus_schemas (older build: make module)"
    elif [ ! -f "$SCHEMA_DIR/purchase/1.json" ]; then
        SCHEMA_WHY="no $SCHEMA_DIR/purchase/1.json"
    else
        SCHEMAS=1
    fi
    if [ "$SCHEMAS" = 0 ] && [ "$BENCH_SCHEMA" = 1 ]; then
        die "BENCH_SCHEMA=1 but no schema rows: $SCHEMA_WHY"
    fi
    return 0
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

# render_conf TEMPLATE BROKERS "name=value ...": bench/TEMPLATE with the
# @NAME@ placeholders of the current instance, into its nginx.conf.  Lines
# starting "#if:NAME# " are kept (marker removed) when BT_IF_NAME is 1.
render_conf() {
    local template=$1 brokers=$2 props_kv=$3 user_line='' props='' kv
    [ "$(id -u)" = 0 ] && user_line='user root root;'
    for kv in $props_kv; do
        props+="    evbus_kafka_property ${kv%%=*} ${kv#*=};"$'\n'
    done
    local body_buffer=$(( (BENCH_BATCH * (BENCH_EVENT_SIZE + 1) / 1024 + 2) ))k
    BT_MODULE=$MODULE BT_USER_LINE=$user_line BT_PREFIX=$IPREFIX \
    BT_BROKERS=$brokers BT_PORT=$NGINX_PORT BT_RUNID=$RUNID \
    BT_BODY_BUFFER=$body_buffer BT_KAFKA_PROPERTIES=$props BT_INSTANCE=$INST \
    BT_SCHEMA_DIR=$SCHEMA_DIR BT_SPOOL_DIR=$SPOOL_DIR BT_IF_SCHEMA=$SCHEMAS \
    BT_IF_ACK=$([[ $INST == ack-* ]] && echo 1 || echo 0) \
    BT_IF_STATS=$([[ $INST == stats-* ]] && echo 1 || echo 0) \
    BT_IF_STATSOFF=$([[ $INST == stats-off-* ]] && echo 1 || echo 0) \
    BT_IF_MEMSPOOL=$([[ $INST == memory-spool ]] && echo 1 || echo 0) \
    BT_WORKERS=${INST_WORKERS:-2} \
    awk 'BEGIN {
            n = split("MODULE USER_LINE PREFIX BROKERS PORT RUNID BODY_BUFFER" \
                      " KAFKA_PROPERTIES INSTANCE SCHEMA_DIR SPOOL_DIR" \
                      " WORKERS", names, " ")
        }
        {
            if (match($0, /^#if:[A-Z_]+# /)) {
                if (ENVIRON["BT_IF_" substr($0, 5, RLENGTH - 6)] != 1) next
                $0 = substr($0, RLENGTH + 1)
            }
            for (i = 1; i <= n; i++) gsub("@" names[i] "@", ENVIRON["BT_" names[i]])
            print
        }' "$REPO/bench/$template" >"$IPREFIX/nginx.conf"
}

# start_nginx NAME TEMPLATE BROKERS "name=value ...": a new instance with
# its own prefix ($PREFIX/NAME) and a free port; it becomes the current one.
start_nginx() {
    local name=$1 template=$2 brokers=$3 props=$4 try i
    INST=$name
    IPREFIX=$PREFIX/$name
    INSTANCES+=("$name")
    mkdir -p "$IPREFIX"
    for try in 1 2 3 4 5; do
        NGINX_PORT=$((20000 + RANDOM % 30000))
        port_open "$NGINX_PORT" && continue
        [ "$NGINX_PORT" = "$DEAD_PORT" ] && continue
        render_conf "$template" "$brokers" "$props"
        if ! "$NGINX" -p "$IPREFIX" -c "$IPREFIX/nginx.conf" -e "$IPREFIX/error.log" \
                -t -q 2>"$IPREFIX/conf-test.log"; then
            cat "$IPREFIX/conf-test.log" >&2
            die "nginx -t failed for $IPREFIX/nginx.conf"
        fi
        "$NGINX" -p "$IPREFIX" -c "$IPREFIX/nginx.conf" -e "$IPREFIX/error.log" \
            2>"$IPREFIX/start.log" || {
            grep -q 'Address already in use' "$IPREFIX/start.log" && continue
            cat "$IPREFIX/start.log" >&2
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
            [ "$(grep -c 'evbus: producer started' "$IPREFIX/error.log")" -ge 2 ] && break
            sleep 0.1
        done
        say "nginx \"$name\" started (master $(nginx_master), workers" \
            "$(nginx_workers | tr '\n' ' ')) on 127.0.0.1:$NGINX_PORT," \
            "brokers $brokers${props:+, properties $props}"
        grep -m1 -o 'producer started (librdkafka [^)]*)' "$IPREFIX/error.log" \
            | sed 's/^/bench: /' || true
        return
    done
    die "no free port for nginx after 5 tries"
}

# stop_nginx [PREFIX]: graceful quit (flushes the producers), bounded
stop_nginx() {
    local master i p=${1:-$IPREFIX}
    [ -n "$p" ] || return 0
    master=$(nginx_master "$p") || return 0
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
    local name
    for name in "${INSTANCES[@]}"; do
        stop_nginx "$PREFIX/$name"
    done
    if [ "${#INSTANCES[@]}" -gt 0 ]; then
        for name in "${INSTANCES[@]}"; do
            [ -f "$PREFIX/$name/error.log" ] || continue
            echo "==== nginx instance \"$name\" ($PREFIX/$name/error.log)"
            cat "$PREFIX/$name/error.log"
        done >"$ERRLOG" 2>/dev/null
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

# the current instance's metrics (evbus_status) into METRICS
fetch_metrics() {
    METRICS=$(curl -s --max-time 5 "http://127.0.0.1:$NGINX_PORT/metrics") || METRICS=
}
# metric NAME{LABELS}: sum of the lines of METRICS starting with it
metric() {
    awk -v m="$1" 'index($0, m) == 1 { s += $NF } END { printf "%.0f\n", s }' \
        <<<"$METRICS"
}

# ------------------------------------------------------------- scenarios

# Runs wrk once; sets the associative array W from the BENCHRESULT line and
# adds the event counts to the totals of the current instance's location.
# $1 location, $2 body mode (single|batch), $3 event kind (click|purchase),
# $4 tag, $5 seconds, $6 "show" to print wrk's output.
declare -A W
run_wrk() {
    local loc=$1 mode=$2 kind=$3 tag=$4 secs=$5 show=${6:-} out kv line
    local url="http://127.0.0.1:$NGINX_PORT$loc" key=$INST$loc
    out=$(wrk -t"$BENCH_THREADS" -c"$SCEN_CONNECTIONS" -d"${secs}s" \
              --timeout 5s --latency -s "$LUA" "$url" \
              -- "$mode" "$tag" "$BENCH_BATCH" "$BENCH_EVENT_SIZE" "$kind" 2>&1) \
        || { echo "$out"; die "wrk failed on $loc"; }
    line=$(grep '^BENCHRESULT ' <<<"$out") || { echo "$out"; die "no BENCHRESULT from wrk"; }
    W=()
    for kv in ${line#BENCHRESULT }; do W[${kv%%=*}]=${kv#*=}; done
    if [ "$show" = show ]; then
        grep -v '^BENCH' <<<"$out" | sed 's/^/    /'
    fi
    ACCEPTED[$key]=$(( ${ACCEPTED[$key]:-0} + W[accepted] ))
    # events of requests sent but not answered when wrk stopped: the
    # module may have accepted them (wrk closes the connections at the end)
    local per=1
    [ "$mode" = batch ] && per=$BENCH_BATCH
    INFLIGHT[$key]=$(( ${INFLIGHT[$key]:-0} + (W[sent] - W[responses]) * per ))
    local errs=$((W[err_connect] + W[err_read] + W[err_write] + W[err_timeout]))
    if [ "${W[non2xx]}" -gt 0 ] && [ "${EXPECT_503:-0}" != 1 ]; then
        anomaly "$INST $loc ($tag): ${W[non2xx]} non-2xx responses; first:" \
                "$(grep '^BENCHFIRSTBAD ' <<<"$out" | cut -d' ' -f2-)"
    fi
    if [ "${W[rejected]}" -gt 0 ] && [ "${EXPECT_503:-0}" != 1 ]; then
        anomaly "$INST $loc ($tag): ${W[rejected]} events rejected in 2xx answers"
    fi
    if [ "$errs" -gt 0 ] && [ "${EXPECT_SOCKET_ERRORS:-0}" != 1 ]; then
        anomaly "$INST $loc ($tag): socket errors connect ${W[err_connect]}" \
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

# scenario_wrk NAME LABEL LOCATION MODE KIND [TOPIC]: on the current
# instance, a warm-up run (SCEN_WARMUP s), then a measured run
# (SCEN_DURATION s) whose throughput, latency and CPU use go into the R_*
# arrays; then, with a TOPIC, wait (bounded) until the accepted events are in
# it, so the next scenario starts with an idle producer and broker.
scenario_wrk() {
    local name=$1 label=$2 loc=$3 mode=$4 kind=$5 topic=${6:-} per=1
    local ng kf c0 c1 k0 k1 w0 w1 t0 t1 key=$INST$loc acc0
    [ "$mode" = batch ] && per=$BENCH_BATCH
    SCENARIOS+=("$name")
    R_LOC[$name]=$loc
    R_LABEL[$name]=$label
    acc0=${ACCEPTED[$key]:-0}
    hr
    say "scenario $name ($label): POST $loc on \"$INST\", $mode body" \
        "($per x $BENCH_EVENT_SIZE-byte $kind events), $BENCH_THREADS threads," \
        "$SCEN_CONNECTIONS connections"
    run_wrk "$loc" "$mode" "$kind" "$RUNID-$name-w" "$SCEN_WARMUP"
    say "warm-up ${SCEN_WARMUP}s: ${W[requests]} requests"

    ng=$(nginx_workers | tr '\n' ' ')
    kf=$(kafka_pid)
    local m0 m1
    c0=$(cpu_ticks $ng); k0=$(cpu_ticks $kf); child_ticks; w0=$CHILD_TICKS
    m0=$(machine_ticks)
    t0=$(date +%s.%N)
    run_wrk "$loc" "$mode" "$kind" "$RUNID-$name-m" "$SCEN_DURATION" show
    t1=$(date +%s.%N)
    m1=$(machine_ticks)
    c1=$(cpu_ticks $ng); k1=$(cpu_ticks $kf); child_ticks; w1=$CHILD_TICKS
    R_ACC[$name]=$(( ${ACCEPTED[$key]:-0} - acc0 ))

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
        n=$(wait_topic "$topic" "${ACCEPTED[$key]}")
        say "$(num "$n") messages in $topic after $((SECONDS - t0)) s" \
            "($(num "${ACCEPTED[$key]}") accepted so far)"
    fi
}
# ---------------------------------------------------------------- checks

# producer counters logged by the current instance's workers at exit
# ("evbus: producer stopped: P produced, D delivered, F failed"): "P D F"
producer_counters() {
    awk '
        /evbus: producer stopped:/ {
            for (i = 1; i <= NF; i++) {
                if ($(i + 1) ~ /^produced/) p += $i;
                if ($(i + 1) ~ /^delivered/) d += $i;
                if ($(i + 1) ~ /^failed/) f += $i;
            }
        } END { print p + 0, d + 0, f + 0 }' "$IPREFIX/error.log"
}

# check_instance LOCATION...: the delivery check of the current instance:
# events accepted at each location (2xx, warm-ups included) vs messages in
# its topic; then a graceful stop, and the producers' own counters.
check_instance() {
    local loc key topic want n extra status total=0 inflight=0
    hr
    say "delivery check \"$INST\": events accepted (2xx, warm-ups included) vs" \
        "messages in Kafka (sum of end offsets)"
    for loc in "$@"; do
        key=$INST$loc
        n=$(wait_topic "${TOPIC[$key]}" "${ACCEPTED[$key]:-0}")
    done
    # a graceful stop flushes the producers; their counters go to error.log
    stop_nginx
    local produced=0 delivered=0 failed=0
    read -r produced delivered failed < <(producer_counters)
    for loc in "$@"; do
        key=$INST$loc
        topic=${TOPIC[$key]}
        want=${ACCEPTED[$key]:-0}
        total=$((total + want))
        inflight=$((inflight + ${INFLIGHT[$key]:-0}))
        n=$(topic_count "$topic")
        if [ "$n" -lt "$want" ]; then
            status="MISSING $((want - n))"
            FAIL=1
        elif [ "$n" -eq "$want" ]; then
            status=OK
        else
            extra=$((n - want))
            status="OK, $extra more than accepted"
            if [ "$extra" -le "${INFLIGHT[$key]:-0}" ]; then
                status+=" (<= ${INFLIGHT[$key]} events in requests in flight when wrk stopped)"
            else
                status+=" (DUPLICATES? only ${INFLIGHT[$key]:-0} events were in flight)"
                anomaly "$topic: $extra more messages than accepted events"
            fi
        fi
        printf '  %-9s accepted %s, in Kafka %s: %s   [%s]\n' "$loc" \
            "$(num "$want")" "$(num "$n")" "$status" "$topic"
        if [ "$BENCH_DEDUP" = 1 ]; then
            local distinct
            distinct=$(timeout 120 kcat -b "$BROKER" -C -t "$topic" -o beginning \
                -e -q -f '%k\n' 2>/dev/null | sort -u | wc -l)
            printf '  %-9s distinct event_ids in Kafka: %s\n' "" "$(num "$distinct")"
            [ "$distinct" -ge "$want" ] || { FAIL=1; echo "  MISSING (distinct)"; }
        fi
    done
    echo "  producers (error.log at exit, both workers): produced $(num "$produced")," \
         "delivered $(num "$delivered"), failed $(num "$failed")"
    if [ "$failed" -gt 0 ]; then
        anomaly "$INST: $failed deliveries failed (see error.log)"
    fi
    if [ "$produced" -lt "$total" ] || [ "$produced" -gt $((total + inflight)) ]; then
        anomaly "$INST: producers report $produced produced, clients saw $total" \
                "accepted (+ at most $inflight in flight)"
    fi
    if [ "$delivered" -ne "$produced" ]; then
        anomaly "$INST: producers: $produced produced but $delivered delivered"
    fi
}

check_error_logs() {
    local name log n lines expected
    hr
    for name in "${INSTANCES[@]}"; do
        log=$PREFIX/$name/error.log
        [ -f "$log" ] || continue
        lines=$(grep -E '\[(warn|error|crit|alert|emerg)\]' "$log" || true)
        expected=0
        if [ "$name" = spool ] && [ -n "$lines" ]; then
            # Kafka is down on purpose: librdkafka's connection failures, and
            # the queued events purged at exit and spooled
            local re="127\.0\.0\.1:$DEAD_PORT|[Cc]onnection refused|brokers are down|Purged in queue, spooled for replay"
            expected=$(grep -cE "$re" <<<"$lines" || true)
            lines=$(grep -vE "$re" <<<"$lines" || true)
        fi
        if [ "$name" = overload ] && [ -n "$lines" ]; then
            # without priorities a full queue refuses events: one line each
            local re="not queued: Local: Queue full"
            expected=$(grep -cE "$re" <<<"$lines" || true)
            lines=$(grep -vE "$re" <<<"$lines" || true)
        fi
        if [ -n "${LOG_EXPECTED[$name]:-}" ] && [ -n "$lines" ]; then
            local re=${LOG_EXPECTED[$name]}
            expected=$(grep -cE "$re" <<<"$lines" || true)
            lines=$(grep -vE "$re" <<<"$lines" || true)
        fi
        n=0
        [ -z "$lines" ] || n=$(wc -l <<<"$lines")
        if [ "$n" -gt 0 ]; then
            anomaly "$name: $n warn-or-worse lines in nginx's error.log; first ones:"
            head -10 <<<"$lines" | cut -c1-300 | sed 's/^/    /'
        else
            say "nginx \"$name\" error.log: no [warn] or worse lines" \
                "${expected:+$( [ "$expected" -gt 0 ] && echo "(besides $expected expected ones: closed broker port, queued events spooled at exit)")}"
        fi
    done
}

# The schema location must really validate: a purchase whose currency
# ---------------------------------------------------------------- report

report_row() {
    local n=$1
    printf '  %-46s %9s %10s %8s %8s %9s\n' "$n: ${R_LABEL[$n]}" \
        "$( [ -n "${R_RPS[$n]:-}" ] && num "${R_RPS[$n]}" || echo -)" \
        "$(num "${R_EPS[$n]}")" \
        "$( [ -n "${R_P50[$n]:-}" ] && ms "${R_P50[$n]}" || echo -)" \
        "$( [ -n "${R_P99[$n]:-}" ] && ms "${R_P99[$n]}" || echo -)" \
        "${R_US[$n]:--}"
}

# whether every scenario named ran
has() {
    local n
    for n in "$@"; do [ -n "${R_LABEL[$n]:-}" ] || return 1; done
}

# whether a part ran (or runs) in this bench
part_ran() { [[ " $PARTS_RUN " == *" $1 "* ]]; }

# The ratios between rows, each printed when its rows ran (a part run
# alone has no rows of the others to compare with).
report_ratios() {
    local s="evbus-single" r="return-202" b="evbus-batch" n l
    local sm=$BENCH_SCHEMA_MODE
    if has "$s" "$r"; then
        echo "  evbus single / return 202 (req/s):        $(ratio "${R_RPS[$s]}" "${R_RPS[$r]}")"
    fi
    if has "$b" kcat-same; then
        echo "  evbus batched / kcat, same messages:      $(ratio "${R_EPS[$b]}" "${R_EPS[kcat-same]}")"
    fi
    if has "$b" kcat; then
        echo "  evbus batched / kcat (events/s):          $(ratio "${R_EPS[$b]}" "${R_EPS[kcat]}")"
    fi
    if has "$b" "$s"; then
        echo "  evbus batched / evbus single (events/s):  $(ratio "${R_EPS[$b]}" "${R_EPS[$s]}")"
    fi
    if has "$s" "$r"; then
        echo "  worker CPU per request, evbus single / return 202: $(ratio "${R_US[$s]}" "${R_US[$r]}")"
    fi
    for l in $BENCH_ACK_LINGERS; do
        n=ack-kafka-l$l
        has "$n" "$s" || continue
        echo "  ack kafka linger.ms=$l / queued single (req/s): $(ratio "${R_RPS[$n]}" "${R_RPS[$s]}")" \
             "  (p50 $(ms "${R_P50[$n]}") vs $(ms "${R_P50[$s]}") ms;" \
             "worker us/ev $(ratio "${R_US[$n]}" "${R_US[$s]}") x)"
    done
    if has spool-single "$s"; then
        echo "  spool single / queued single (events/s):  $(ratio "${R_EPS[spool-single]}" "${R_EPS[$s]}")"
    fi
    if has spool-batch "$b"; then
        echo "  spool batch / queued batch (events/s):    $(ratio "${R_EPS[spool-batch]}" "${R_EPS[$b]}")"
    fi
    if has spool-replay "$b"; then
        echo "  spool replay / queued batch (events/s):   $(ratio "${R_EPS[spool-replay]}" "${R_EPS[$b]}")"
    fi
    if has stats-on-batch stats-off-batch; then
        echo "  stats zone on / off, batches (events/s):   $(ratio "${R_EPS[stats-on-batch]}" "${R_EPS[stats-off-batch]}") (goal >= 0.97)"
    fi
    if has gzip-batch plain-batch; then
        echo "  gzip'd / uncompressed batches (events/s):  $(ratio "${R_EPS[gzip-batch]}" "${R_EPS[plain-batch]}")" \
             "(worker us/ev $(ratio "${R_US[gzip-batch]}" "${R_US[plain-batch]}") x)"
    fi
    if has overload-prio overload-plain; then
        report_overload
    fi
    if [ -n "${MEMORY_REPORT:-}" ]; then
        printf '%s\n' "$MEMORY_REPORT"
    fi
    if part_ran fleet && declare -F report_fleet >/dev/null; then
        report_fleet
    fi
    if has lowrate; then
        echo "  lowrate: worker CPU per event ${R_US[lowrate]} us; ${LOWRATE_BATCHES:-}"
    fi
    if has "schema-$sm" "noschema-$sm"; then
        echo "  schema / no-schema (events/s):            $(ratio "${R_EPS[schema-$sm]}" "${R_EPS[noschema-$sm]}")" \
             "(target >= 0.90; worker us/ev $(ratio "${R_US[schema-$sm]}" "${R_US[noschema-$sm]}") x)"
    elif part_ran schema; then
        echo "  schema / no-schema (events/s):            - (not run: $SCHEMA_WHY)"
    fi
}

report() {
    local n
    hr
    echo "RESULTS (run $RUNID; $BENCH_THREADS wrk threads, $BENCH_CONNECTIONS" \
         "connections$( [ "$BENCH_ACK_CONNECTIONS" = "$BENCH_CONNECTIONS" ] \
                        || ! part_ran ack \
                        || echo " ($BENCH_ACK_CONNECTIONS for ack kafka)"), ${BENCH_DURATION}s per run$( \
                        [ "$BENCH_SPOOL" != 1 ] || ! part_ran spool || echo " (spool ${BENCH_SPOOL_DURATION}s)")," \
         "${BENCH_EVENT_SIZE}-byte events)"
    echo
    printf '  %-46s %9s %10s %8s %8s %9s\n' scenario "req/s" "events/s" \
        "p50 ms" "p99 ms" "ngx us/ev"
    for n in "${SCENARIOS[@]}"; do
        report_row "$n"
    done
    if part_ran schema && [ "$SCHEMAS" != 1 ]; then
        printf '  %-40s %s\n' "schema rows: not run" "($SCHEMA_WHY)"
    fi
    echo
    report_ratios
    echo "  (ngx us/ev: CPU time of the nginx workers, librdkafka"
    echo "   threads included, per event (per request for return 202): steadier"
    echo "   than rates on a busy machine)"
    echo
    echo "  CPU during the measured runs:"
    for n in "${SCENARIOS[@]}"; do
        [ -n "${R_CPU[$n]:-}" ] || continue
        printf '    %-16s %s\n' "$n" "${R_CPU[$n]}"
    done
    local noisy=()
    for n in "${SCENARIOS[@]}"; do
        [ -n "${R_OTHER[$n]:-}" ] || continue
        [ "${R_OTHER[$n]}" -le "${BENCH_NOISE_PCT:-25}" ] || noisy+=("$n")
    done
    if [ "${#noisy[@]}" -gt 0 ]; then
        echo "  NOISY: other processes used more than ${BENCH_NOISE_PCT:-25}% of a cpu during:" \
             "${noisy[*]}; rates and their ratios are skewed (compare worker us/ev, or re-run)"
    fi
    echo "  load avg after the runs: $(cut -d' ' -f1-3 /proc/loadavg)" \
         "(other work on the machine skews absolute numbers)"
    ! has kcat || echo "  kcat producer properties: ${KCAT_PROPS[*]}"
    echo "  module producer: its defaults (acks=all, compression.type=snappy," \
         "linger.ms=50 without an evbus_ack kafka location, ...)${BENCH_KAFKA_PROPERTIES:+ + $BENCH_KAFKA_PROPERTIES};" \
         "ack-l<N>: + linger.ms=N; spool: + message.timeout.ms=600000"
    [ -z "${VALUE_SIZE:-}" ] || \
    echo "  message value size in Kafka: $VALUE_SIZE bytes for a" \
         "$BENCH_EVENT_SIZE-byte click event"
}


# ------------------------------------------------------------------ main

# bench_main PART...: the whole bench of these parts, in this order: the
# machine, the broker, each part (bench_part_NAME), the error logs, the
# report, the anomalies and the result.
bench_main() {
    local part c
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    for c in "$NGINX" wrk kcat curl awk; do
        command -v "$c" >/dev/null || die "$c not found (scripts/deps.sh bench)"
    done
    [ -f "$MODULE" ] || die "$MODULE not found: run make module"
    case "$BENCH_SCHEMA_MODE" in single|batch) ;;
        *) die "BENCH_SCHEMA_MODE must be single or batch" ;; esac

    echo "ngx_evbus bench$([ "$PARTS_RUN" = "$BENCH_ALL_PARTS" ] || echo " ($PARTS_RUN)")"
    hr
    machine_info
    detect_schemas
    hr
    ensure_kafka
    mkdir -p "$PREFIX"

    for part in $PARTS_RUN; do
        "bench_part_$part"
    done

    check_error_logs
    report

    hr
    if [ "${#ANOMALIES[@]}" -gt 0 ]; then
        echo "ANOMALIES (${#ANOMALIES[@]}):"
        printf '  - %s\n' "${ANOMALIES[@]}"
    else
        echo "no anomalies"
    fi
    if [ "$FAIL" = 1 ]; then
        echo "RESULT: FAIL (events missing in Kafka or in the spool)"
        exit 1
    fi
    echo "RESULT: OK ($((SECONDS - START)) s)"
}

# bench_run PART...: bench_main with its output also in build/bench/
# (latest.txt for every part, latest-PART[-PART...].txt for some); the
# parts' scripts are sourced here when not yet.
bench_run() {
    local part name
    [ $# -gt 0 ] || set -- $BENCH_ALL_PARTS
    for part in "$@"; do
        [[ " $BENCH_ALL_PARTS " == *" $part "* ]] \
            || die "no bench part \"$part\" (parts: $BENCH_ALL_PARTS)"
        declare -F "bench_part_$part" >/dev/null \
            || . "$REPO/scripts/bench/$part.sh"
    done
    PARTS_RUN=$*
    name=latest
    [ "$PARTS_RUN" = "$BENCH_ALL_PARTS" ] || name=latest-${PARTS_RUN// /-}
    LATEST=$OUT/$name.txt
    ERRLOG=$OUT/$name-error.log

    START=$SECONDS
    mkdir -p "$OUT"
    set -o pipefail
    # a no-op trap (not an ignore, which bench_main would inherit): this
    # shell waits for bench_main's cleanup instead of dying first
    trap ':' INT TERM
    # tee ignores INT and TERM so that bench_main's cleanup can still print
    # (and SIGPIPE does not kill it before it has stopped nginx)
    bench_main 2>&1 | (trap '' INT TERM; exec tee "$LATEST")
    exit "${PIPESTATUS[0]}"
}

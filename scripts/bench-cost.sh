#!/bin/bash
# Instructions per request and per event (callgrind): nginx runs with
# `master_process off; daemon off;` under valgrind --tool=callgrind (all
# threads, librdkafka's included), with the real broker.  Each scenario
# is run twice, with N and with M requests; (total_M - total_N) / (M - N)
# is the cost of one request (per event: divided by the events in it),
# start-up and shutdown cancel.  The counts do not move with the machine's
# load, unlike the wrk rows of `make bench`.
#
#   make bench-cost
#   scripts/bench-cost.sh [SCENARIO...]     default: r202 single batch
#
# Scenarios (one location each; the ack location only in the ack
# scenario's nginx.conf, see NGX_EVBUS_QUEUED_LINGER):
#   r202    `return 202;`: nginx's floor for the POST
#   single  evbus, one 300-byte event per request (evbus_ack queued)
#   batch   evbus, 100 events of 300 bytes per request
#   ack     evbus with evbus_ack kafka, one event per request
#
# Environment (defaults in brackets):
#   KAFKA_PORT            broker port [9092]
#   NGINX, MODULE         [/usr/sbin/nginx, build/ngx_http_evbus_module.so]
#   COST_N, COST_M        single-event requests in the short and long run
#                         [100 600]
#   COST_BATCH_N, COST_BATCH_M  batched requests [10 60]
#   COST_RATE             requests per second sent by the client (curl
#                         --rate), single-event scenarios [100]: one request
#                         every 10 ms, longer than linger.ms=5, so that each
#                         event is a produce request of its own, as at the
#                         low rates of an edge server
#   COST_BATCH_RATE       batched requests per second [20]
#   COST_PROPS            extra evbus_kafka_property lines,
#                         "name=value name=value" []
#   COST_QUEUED_PROPS     the same, for evbus_kafka_queued_property lines
#                         when the module has that directive []
#   COST_TOP              rows of the per-function table [30]
#   COST_KAFKA_DATA       the broker's log.dirs, for the bytes each event
#                         takes in Kafka (compression) [read from the
#                         running broker's server.properties]
#   COST_OUT              output directory [build/bench-cost]
#
# Output: the summary (with the bytes per event in the broker's log of the
# warm-up request, record batches and their compression included, when its
# log.dirs is readable)
# and, for each scenario, the functions whose
# inclusive count per request (per event for batch) grew most between the
# two runs, to stdout and $COST_OUT/report.txt; callgrind files in
# $COST_OUT/<scenario>-<N|M>.out.

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NGINX=${NGINX:-/usr/sbin/nginx}
MODULE=${MODULE:-$REPO/build/ngx_http_evbus_module.so}
KAFKA_PORT=${KAFKA_PORT:-9092}
BROKER=127.0.0.1:$KAFKA_PORT
COST_N=${COST_N:-100}
COST_M=${COST_M:-600}
COST_BATCH_N=${COST_BATCH_N:-10}
COST_BATCH_M=${COST_BATCH_M:-60}
COST_RATE=${COST_RATE:-100}
COST_BATCH_RATE=${COST_BATCH_RATE:-20}
COST_PROPS=${COST_PROPS:-}
COST_QUEUED_PROPS=${COST_QUEUED_PROPS:-}
COST_TOP=${COST_TOP:-30}
if [ -z "${COST_KAFKA_DATA:-}" ]; then
    props_file=$(ps -eo args | grep -o '[^ ]*server\.properties' | head -1) || true
    [ -r "$props_file" ] \
        && COST_KAFKA_DATA=$(sed -n 's/^log\.dirs=//p' "$props_file" | head -1)
fi
COST_KAFKA_DATA=${COST_KAFKA_DATA:-}
OUT=${COST_OUT:-$REPO/build/bench-cost}
BATCH=100

SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(r202 single batch)

RUNID=$(date +%Y%m%d%H%M%S)-$$
PREFIX=$OUT/run-$RUNID
REPORT=$OUT/report.txt
VG_PID=

say() { echo "bench-cost: $*"; }
die() { echo "bench-cost: ERROR: $*" >&2; exit 1; }

cleanup() {
    set +e
    if [ -n "$VG_PID" ] && [ -d "/proc/$VG_PID" ]; then
        kill -TERM "$VG_PID" 2>/dev/null
        sleep 1
        kill -KILL "$VG_PID" 2>/dev/null
    fi
    rm -rf "$PREFIX"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

command -v valgrind >/dev/null || die "no valgrind (apt-get install valgrind)"
command -v curl >/dev/null || die "no curl"
[ -f "$MODULE" ] || die "no $MODULE: make module"
timeout 10 kcat -b "$BROKER" -L -m 3 >/dev/null 2>&1 \
    || die "Kafka does not answer on $BROKER (scripts/kafka.sh start)"

mkdir -p "$PREFIX" "$OUT"

# ------------------------------------------------------------ the bodies

# a click event of exactly 300 bytes, padded with pseudo-random text of its
# own (compresses like text, neither like a run of one byte nor like its
# neighbours), the same in every run
event() {
    local id=$1 head tail pad
    head="{\"event_type\":\"click\",\"event_id\":\"cost-$RUNID-$id\","
    head+="\"user_id\":\"user-00042\",\"page\":\"/products/042\","
    head+="\"referrer\":\"https://shop.example.com/\",\"props\":{\"pad\":\""
    tail='"}}'
    pad=$((300 - ${#head} - ${#tail}))
    awk -v h="$head" -v t="$tail" -v n="$pad" -v seed="$((id + 1))" 'BEGIN {
        srand(seed); c = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        printf "%s", h
        for (i = 0; i < n; i++) printf "%s", substr(c, int(rand() * 62) + 1, 1)
        printf "%s", t }'
}

event 0 >"$PREFIX/single.json"
{
    printf '['
    for ((i = 0; i < BATCH; i++)); do
        [ "$i" = 0 ] || printf ','
        event "$i"
    done
    printf ']'
} >"$PREFIX/batch.json"

# ---------------------------------------------------------- nginx.conf

props() {
    local directive=$1 kv
    shift
    for kv in "$@"; do
        echo "    $directive ${kv%%=*} ${kv#*=};"
    done
}

# only in the ack scenario's nginx.conf: without an "evbus_ack kafka"
# location the module lingers longer (NGX_EVBUS_QUEUED_LINGER)
ack_location() {
    [ "$1" = ack ] || return 0
    printf '        location = /ack {\n            evbus;\n'
    printf '            evbus_ack kafka;\n            evbus_topic %s;\n' "$2"
    printf '        }\n'
}

conf() {
    local port=$1 topic=$2 scen=$3 user=''
    [ "$(id -u)" = 0 ] && user='user root root;'
    cat <<EOF
load_module $MODULE;
$user
daemon off;
master_process off;
error_log $PREFIX/error.log info;
pid $PREFIX/nginx.pid;

events {
    worker_connections 256;
}

http {
    access_log off;
    client_body_temp_path $PREFIX/body;
    proxy_temp_path $PREFIX/proxy;
    fastcgi_temp_path $PREFIX/fastcgi;
    uwsgi_temp_path $PREFIX/uwsgi;
    scgi_temp_path $PREFIX/scgi;
    client_body_buffer_size 64k;

    evbus_brokers $BROKER;
$(props evbus_kafka_property $COST_PROPS)
$(props evbus_kafka_queued_property $COST_QUEUED_PROPS)

    server {
        listen 127.0.0.1:$port;

        location = /r202 {
            return 202;
        }

        location = /single {
            evbus;
            evbus_topic $topic;
        }

        location = /batch {
            evbus;
            evbus_topic $topic;
        }

$(ack_location "$3" "$topic")
    }
}
EOF
}

# ------------------------------------------------------------ one run

# run SCENARIO REQUESTS: nginx under callgrind, one warm-up request, then
# REQUESTS requests, then a graceful stop; the total instructions into
# TOTAL
run() {
    local scen=$1 n=$2 loc body rate port out i try topic
    case $scen in
        r202)   loc=/r202;   body=single.json; rate=$COST_RATE ;;
        single) loc=/single; body=single.json; rate=$COST_RATE ;;
        ack)    loc=/ack;    body=single.json; rate=$COST_RATE ;;
        batch)  loc=/batch;  body=batch.json;  rate=$COST_BATCH_RATE ;;
        *) die "unknown scenario $scen" ;;
    esac
    out=$OUT/$scen-$n.out
    topic=cost-$RUNID-$scen-$n
    rm -f "$out" "$PREFIX/error.log"

    for try in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 30000))
        timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null \
            && continue
        conf "$port" "$topic" "$scen" >"$PREFIX/nginx.conf"
        "$NGINX" -p "$PREFIX" -c "$PREFIX/nginx.conf" -t -q \
            -e "$PREFIX/error.log" 2>"$PREFIX/t.log" \
            || { cat "$PREFIX/t.log" >&2; die "nginx -t failed"; }
        break
    done

    valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$NGINX" -p "$PREFIX" -c "$PREFIX/nginx.conf" -e "$PREFIX/error.log" \
        >"$PREFIX/valgrind.log" 2>&1 &
    VG_PID=$!

    # the producer starts in init_process, after the sockets listen; no
    # probe request (a variable number of them would not cancel)
    for ((i = 0; i < 600; i++)); do
        grep -q 'evbus: producer started' "$PREFIX/error.log" 2>/dev/null \
            && break
        [ -d "/proc/$VG_PID" ] || { cat "$PREFIX/valgrind.log" >&2;
                                    die "nginx under valgrind exited"; }
        sleep 0.1
    done
    [ "$i" -lt 600 ] || die "nginx under valgrind did not start"
    sleep 2

    post() {
        curl -sS -o /dev/null -w '%{http_code}\n' --rate "$3/s" \
            -H 'Content-Type: application/json' \
            --data-binary @"$PREFIX/$body" \
            "http://127.0.0.1:$port$loc?[1-$1]" >"$PREFIX/$2.codes"
    }

    post 1 warm 1
    sleep 1

    # bytes in the broker's log (record batches as produced, compression
    # included) per event of the warm-up request, alone in its topic:
    # the later requests repeat its events, which would compress too well
    BYTES=-
    if [ -n "$COST_KAFKA_DATA" ]; then
        for ((i = 0; i < 30; i++)); do
            BYTES=$(cat "$COST_KAFKA_DATA/$topic"-*/*.log 2>/dev/null | wc -c)
            [ "$BYTES" -gt 0 ] && break
            sleep 0.2
        done
        BYTES=$(( BYTES / $([ "$scen" = batch ] && echo $BATCH || echo 1) ))
        [ "$scen" != r202 ] || BYTES=-
    fi
    post "$n" codes "$rate"
    if grep -qv '^20[02]$' "$PREFIX/codes.codes"; then
        sort "$PREFIX/codes.codes" | uniq -c >&2
        die "$scen: answers other than 200/202"
    fi
    [ "$(wc -l <"$PREFIX/codes.codes")" = "$n" ] || die "$scen: too few answers"

    # delivery reports in, then a graceful stop (flushes the producer)
    sleep 2
    kill -QUIT "$VG_PID"
    wait "$VG_PID" || true
    VG_PID=

    if grep -E '\[(alert|emerg)\]' "$PREFIX/error.log" >&2; then
        die "$scen: alert in error.log"
    fi
    cp "$PREFIX/error.log" "$OUT/$scen-$n.error.log"
    TOTAL=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$out")
}

# inclusive counts per function of a callgrind file: "count<TAB>name",
# name "function (object)"; a function listed under several file names
# (the module's, with and without debug information) counted once
functions() {
    callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null \
        | awk '/^ *[0-9][0-9,]* / {
                   n = $1; gsub(",", "", n)
                   $1 = ""; sub(/^ +/, "")
                   sub(/^\([ 0-9.]+%\) +/, "")
                   obj = ""
                   if (match($0, / \[[^]]*\]$/)) {
                       obj = substr($0, RSTART + 2, RLENGTH - 3)
                       sub(/.*\//, "", obj)
                       $0 = substr($0, 1, RSTART - 1)
                   }
                   sub(/.*:/, "")
                   k = $0 (obj == "" ? "" : " (" obj ")")
                   if (n + 0 > c[k] + 0) c[k] = n
               }
               END { for (k in c) print c[k] "\t" k }'
}

# the functions whose inclusive count grew most from run a to run b, per
# unit (request or event)
table() {
    local a=$1 b=$2 units=$3
    join -t $'\t' -1 2 -2 2 -a 2 -e 0 -o 0,1.1,2.1 \
        <(functions "$a" | sort -t $'\t' -k2,2) \
        <(functions "$b" | sort -t $'\t' -k2,2) \
        | awk -F '\t' -v u="$units" '
              # the frames above the event loop and the threads say nothing
              $1 ~ /^(main|\(below main\)|__libc_start_main.*|0x0*1ab70 \(ld-linux.*)/ { next }
              { d = ($3 - $2) / u; if (d >= 50) printf "%10.0f  %s\n", d, $1 }' \
        | sort -rn | awk -v n="$COST_TOP" 'NR <= n'
}

# ---------------------------------------------------------------- main

declare -A PER
{
    echo "date:       $(date -u '+%F %T UTC')"
    echo "nginx:      $("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
    echo "librdkafka: $(dpkg-query -W -f='${Version}' librdkafka1 2>/dev/null || echo '?')"
    echo "module:     $MODULE ($(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?'))"
    echo "producer:   module defaults${COST_PROPS:+ + $COST_PROPS}${COST_QUEUED_PROPS:+; queued: $COST_QUEUED_PROPS}"
    echo "runs:       single-event $COST_N and $COST_M requests at $COST_RATE/s;" \
         "batches of $BATCH: $COST_BATCH_N and $COST_BATCH_M requests at $COST_BATCH_RATE/s"
} | tee "$REPORT"

TABLES=
for scen in "${SCENARIOS[@]}"; do
    if [ "$scen" = batch ]; then
        n=$COST_BATCH_N; m=$COST_BATCH_M; per=$BATCH; unit=event
    else
        n=$COST_N; m=$COST_M; per=1; unit=request
    fi
    say "$scen: $n requests under callgrind"
    run "$scen" "$n"; tn=$TOTAL
    say "$scen: $m requests under callgrind"
    run "$scen" "$m"; tm=$TOTAL; bytes=$BYTES
    units=$(( (m - n) * per ))
    PER[$scen]=$(( (tm - tn) / units ))
    printf '%-8s %14s %14s   %8s instructions per %s, %s bytes an event in Kafka\n' \
        "$scen" "$tn" "$tm" "${PER[$scen]}" "$unit" "$bytes" | tee -a "$REPORT"
    TABLES+=$'\n'"$scen: inclusive instructions per $unit (run $m - run $n)"$'\n'
    TABLES+=$(table "$OUT/$scen-$n.out" "$OUT/$scen-$m.out" "$units")$'\n'
done

{
    if [ -n "${PER[r202]:-}" ]; then
        for scen in single ack; do
            [ -n "${PER[$scen]:-}" ] || continue
            echo "$scen - r202: $(( PER[$scen] - PER[r202] )) extra instructions per request"
        done
    fi
    echo "$TABLES"
} | tee -a "$REPORT"

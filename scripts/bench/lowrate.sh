#!/bin/bash
# Benchmark part "lowrate": an edge server's rate, not a flood.  Two curl
# clients post single 300-byte events (no event_id: the module generates
# one, so they spread over the partitions) at BENCH_LOWRATE events/s each
# (curl --rate, keep-alive) for BENCH_LOWRATE_DURATION s to nginx's two
# workers with the module's producer defaults.  Row lowrate: worker CPU
# per event (their librdkafka threads included), and the record batches
# the broker stored per second (one per partition and produce request:
# the batching that linger.ms buys), counted in the broker's log files
# when its log.dirs is readable.
# Run alone: scripts/bench/lowrate.sh (environment: scripts/bench/lib.sh);
# every part: scripts/bench.sh (make bench).

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"


# the broker's log.dirs, from the running broker's server.properties
broker_data_dir() {
    local f
    f=$(ps -eo args | grep -o '[^ ]*server\.properties' | head -1) || true
    [ -n "$f" ] && [ -r "$f" ] || return 0
    sed -n 's/^log\.dirs=//p' "$f" | head -1
}

# record batches in a topic's log segments (Kafka's on-disk format: each
# batch is baseOffset (8 bytes), batchLength (4), then batchLength bytes)
count_batches() {
    local dir=$1 topic=$2
    python3 - "$dir" "$topic" <<'PY'
import glob, struct, sys
n = 0
for f in glob.glob("%s/%s-*/*.log" % (sys.argv[1], sys.argv[2])):
    data = open(f, "rb").read()
    i = 0
    while i + 12 <= len(data):
        (length,) = struct.unpack(">i", data[i + 8:i + 12])
        if length <= 0:
            break
        n += 1
        i += 12 + length
print(n)
PY
}

scenario_lowrate() {
    local name=lowrate topic=$1 secs=$BENCH_LOWRATE_DURATION
    local per=$((BENCH_LOWRATE * secs)) ng c0 c1 t0 t1 i ok n dir
    local body=$PREFIX/lowrate.json url="http://127.0.0.1:$NGINX_PORT/lowrate"
    SCENARIOS+=("$name")
    R_LABEL[$name]="${BENCH_LOWRATE}/s x 2 clients, single"
    awk -v size="$BENCH_EVENT_SIZE" 'BEGIN {
        head = "{\"event_type\":\"click\",\"user_id\":\"user-00042\"," \
               "\"page\":\"/products/042\",\"referrer\":" \
               "\"https://shop.example.com/\",\"props\":{\"pad\":\"";
        srand(4242);
        c = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        printf "%s", head;
        for (i = length(head) + 3; i < size; i++)
            printf "%s", substr(c, int(rand() * 62) + 1, 1);
        printf "\"}}" }' >"$body"
    hr
    say "scenario $name: 2 curl clients, $BENCH_LOWRATE single events/s" \
        "each, ${secs}s, POST /lowrate on \"$INST\""
    # warm-up: the topic is created, the producers connected
    for ((i = 0; i < 20; i++)); do
        curl -s -o /dev/null -H 'Content-Type: application/json' \
            --data-binary @"$body" "$url"
    done
    sleep 1
    dir=$(broker_data_dir)
    local b0=0
    [ -n "$dir" ] && b0=$(count_batches "$dir" "$topic")

    ng=$(nginx_workers | tr '\n' ' ')
    c0=$(cpu_ticks $ng)
    t0=$(date +%s.%N)
    for i in 1 2; do
        curl -s -o /dev/null -w '%{http_code}\n' --rate "$BENCH_LOWRATE/s" \
            -H 'Content-Type: application/json' --data-binary @"$body" \
            "$url?[1-$per]" >"$PREFIX/lowrate-$i.codes" &
    done
    wait
    t1=$(date +%s.%N)
    c1=$(cpu_ticks $ng)
    ok=$(cat "$PREFIX"/lowrate-*.codes | grep -c '^202$' || true)
    n=$(cat "$PREFIX"/lowrate-*.codes | wc -l)
    [ "$ok" = "$n" ] || anomaly "$INST /lowrate: $((n - ok)) of $n answers not 202"
    ACCEPTED[$INST/lowrate]=$((ok + 20))

    R_ACC[$name]=$ok
    R_RPS[$name]=$(awk -v n="$ok" -v a="$t0" -v b="$t1" \
        'BEGIN { printf "%.0f", n / (b - a) }')
    R_EPS[$name]=${R_RPS[$name]}
    R_US[$name]=$(awk -v n=$((c1 - c0)) -v hz="$CLK_TCK" -v e="$ok" \
        'BEGIN { printf "%.1f", e ? 1e6 * n / hz / e : 0 }')
    R_CPU[$name]=$(awk -v n=$((c1 - c0)) -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" \
        'BEGIN { printf "nginx workers %.1f%% of one cpu over %.1f s", \
                 100 * n / hz / (b - a), b - a }')

    n=$(wait_topic "$topic" "${ACCEPTED[$INST/lowrate]}")
    if [ -n "$dir" ]; then
        local b1
        b1=$(count_batches "$dir" "$topic")
        say "record batches in $topic: $b0 before, $b1 after"
        LOWRATE_BATCHES=$(awk -v b=$((b1 - b0)) -v a="$t0" -v c="$t1" -v e="$ok" \
            'BEGIN { printf "%.0f record batches/s in Kafka, %.1f events per batch", \
                     b / (c - a), b ? e / b : 0 }')
    else
        LOWRATE_BATCHES="record batches: the broker's log.dirs is not readable here"
    fi
    say "$name: $(num "$ok") events in $(awk -v a="$t0" -v b="$t1" \
        'BEGIN { printf "%.1f", b - a }') s, ${R_US[$name]} us of worker CPU" \
        "per event; $LOWRATE_BATCHES"
}


bench_part_lowrate() {
    start_nginx lowrate nginx.conf.in "$BROKER" "${BENCH_KAFKA_PROPERTIES:-}"
    TOPIC[lowrate/lowrate]=bench-lowrate-$RUNID
    scenario_lowrate "${TOPIC[lowrate/lowrate]}"
    check_instance /lowrate
}

[ "${BASH_SOURCE[0]}" != "$0" ] || bench_run lowrate

#!/bin/bash
# Benchmark part "http": what the module costs on the HTTP path with its
# defaults (evbus_ack queued: 202 once librdkafka has the message), and
# against kcat producing the same events with the same producer settings.
# Rows: return-202 (nginx alone), evbus-single, evbus-batch, kcat; then the
# delivery check of the instance "main" and the message size in Kafka.
# Run alone: scripts/bench/http.sh (environment: scripts/bench/lib.sh);
# every part: scripts/bench.sh (make bench).

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"


# kcat -P -l -K<TAB> producing the keyed messages of FILE ("key<TAB>value"
# lines, N of them), timed on the wall clock including the final flush;
# extra kcat arguments (headers) after N.
scenario_kcat() {
    local name=$1 label=$2 file=$3 count=$4 topic=bench-$1-$RUNID
    local t0 t1 args=() p n
    shift 4
    SCENARIOS+=("$name")
    R_LABEL[$name]=$label
    for p in "${KCAT_PROPS[@]}"; do args+=(-X "$p"); done
    args+=("$@")
    hr
    say "scenario $name: $(num "$count") keyed messages to $topic," \
        "kcat -P -l -K<TAB> ${args[*]}"
    # the topic is auto-created by a first message, outside the timing
    echo "warmup{}" | kcat -b "$BROKER" -P -t "$topic" "${args[@]}" \
        || die "kcat could not produce to $topic"
    t0=$(date +%s.%N)
    kcat -b "$BROKER" -P -t "$topic" -K $'\t' -l "${args[@]}" "$file" \
        2>"$PREFIX/$name.err" || { cat "$PREFIX/$name.err"; die "kcat -P failed"; }
    t1=$(date +%s.%N)
    [ -s "$PREFIX/$name.err" ] && sed 's/^/    kcat: /' "$PREFIX/$name.err" | head -5
    R_EPS[$name]=$(awk -v n="$count" -v a="$t0" -v b="$t1" \
        'BEGIN { printf "%.0f", n / (b - a) }')
    say "$name: $(num "$count") messages in" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s" \
        "= $(num "${R_EPS[$name]}") msgs/s"
    n=$(wait_topic "$topic" $((count + 1)))
    if [ "$n" -ne $((count + 1)) ]; then
        anomaly "$name topic $topic holds $n messages, expected $((count + 1))"
    fi
}

# kcat producing the module's own messages, read back from TOPIC: the
# same keys and enriched values, and the module's four headers (those of
# the first message, on every message): the same bytes for the brokers,
# the same work for librdkafka; what is left is the HTTP path, the parse
# and the enrichment.
scenario_kcat_same() {
    local file=$PREFIX/kcat-same.txt n hdrs h hl=() args=()
    timeout 120 kcat -b "$BROKER" -C -t "$1" -o beginning -c "$BENCH_KCAT_N" \
        -e -q -f '%k\t%s\n' >"$file" 2>/dev/null || true
    n=$(wc -l <"$file")
    hdrs=$(timeout 20 kcat -b "$BROKER" -C -t "$1" -o beginning -c 1 -e -q \
        -f '%h\n' 2>/dev/null) || true
    if [ "$n" -lt 1000 ] || [ -z "$hdrs" ]; then
        anomaly "kcat-same: only $n messages (or no headers) read back from $1"
        return
    fi
    IFS=, read -ra hl <<<"$hdrs"
    for h in "${hl[@]}"; do args+=(-H "$h"); done
    scenario_kcat kcat-same "kcat -P, the module's messages" "$file" "$n" \
        "${args[@]}"
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

# what the module writes: the client's event plus the enrichment fields
sample_value_size() {
    VALUE_SIZE=$(timeout 20 kcat -b "$BROKER" -C -t "$1" -p 0 \
        -o beginning -c 1000 -e -q -f '%S\n' 2>/dev/null \
        | awk '{ s += $1; n++ } END { if (n) printf "%.0f", s / n; else print "?" }')
    echo "  message value size in Kafka (module, average of up to 1000):" \
         "$VALUE_SIZE bytes for a $BENCH_EVENT_SIZE-byte event; kcat:" \
         "$BENCH_EVENT_SIZE bytes"
}


bench_part_http() {
    say "generating $(num "$BENCH_KCAT_N") events for kcat"
    make_kcat_file

    start_nginx main nginx.conf.in "$BROKER" "${BENCH_KAFKA_PROPERTIES:-}"
    TOPIC[main/evbus]=bench-single-$RUNID
    TOPIC[main/batch]=bench-batch-$RUNID
    scenario_wrk return-202 "return 202, single" /r202 single click
    scenario_wrk evbus-single "queued, single" /evbus single click "${TOPIC[main/evbus]}"
    scenario_wrk evbus-batch "queued, batch" /batch batch click "${TOPIC[main/batch]}"
    scenario_kcat kcat "kcat -P (raw librdkafka)" "$PREFIX/kcat-events.txt" \
        "$BENCH_KCAT_N"
    scenario_kcat_same "${TOPIC[main/batch]}"
    check_instance /evbus /batch
    sample_value_size "${TOPIC[main/evbus]}"
}

[ "${BASH_SOURCE[0]}" != "$0" ] || bench_run http

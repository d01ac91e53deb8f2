#!/bin/bash
# make run / make stop: a local broker plus nginx with the module, from
# conf-examples/quickstart.conf, everything under run/ (git-ignored).
#
#   scripts/run.sh start   start Kafka and nginx, post an event, read it back;
#                          exits non-zero when the event does not come back
#   scripts/run.sh stop    stop nginx, and Kafka if start started it
#                          (idempotent)
#   scripts/run.sh status
#
# A broker already answering on $EVBUS_BROKERS (127.0.0.1:$KAFKA_PORT) is
# used as it is and left running by stop; otherwise start runs one with
# scripts/kafka.sh and notes it in run/kafka.started for stop.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=$REPO/run
CONF_SRC=${EVBUS_CONF:-$REPO/conf-examples/quickstart.conf}
CONF=$RUN/nginx.conf
PIDFILE=$RUN/nginx.pid
KAFKA_MINE=$RUN/kafka.started
NGINX=${NGINX:-/usr/sbin/nginx}
MODULE=${EVBUS_MODULE:-$REPO/build/ngx_http_evbus_module.so}
KAFKA_PORT=${KAFKA_PORT:-9092}
BROKERS=${EVBUS_BROKERS:-127.0.0.1:$KAFKA_PORT}
HTTP=127.0.0.1:8080
TOPIC=events

export KAFKA_PORT

say() { echo "run: $*"; }
die() { echo "run: $*" >&2; exit 1; }

nginx_pid() {
    local pid
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q '^nginx: master' \
        || return 1
    echo "$pid"
}

kafka_answers() {
    timeout 10 kcat -b "$BROKERS" -L -t evbus-probe -m 3 2>/dev/null | grep -q '^ *broker .* at'
}

port_busy() {
    timeout 2 bash -c "exec 3<>/dev/tcp/${1%:*}/${1##*:}" 2>/dev/null
}

pretty() {
    # kcat -J envelope with the payload (the event) decoded, pretty printed.
    perl -MJSON::PP -e '
        my $j = JSON::PP->new->canonical->pretty;
        while (my $l = <STDIN>) {
            my $m = eval { decode_json($l) } or next;
            my $p = eval { decode_json($m->{payload}) };
            $m->{payload} = $p if $p;
            print $j->encode($m);
        }'
}

start_nginx() {
    [ -f "$MODULE" ] || die "$MODULE not built (make module)"
    [ -f "$CONF_SRC" ] || die "$CONF_SRC is missing"
    mkdir -p "$RUN/tmp"
    sed -e "s|@MODULE@|$MODULE|g" -e "s|@BROKERS@|$BROKERS|g" \
        "$CONF_SRC" >"$CONF.new"
    # Workers of a root master run as nobody: let them at run/ and build/.
    if [ "$(id -u)" = 0 ] && ! grep -qE '^[[:space:]]*user[[:space:]]' "$CONF.new"; then
        sed -i '0,/^load_module/s//user root root;\n&/' "$CONF.new"
    fi
    mv -f "$CONF.new" "$CONF"

    local nginx=("$NGINX" -p "$RUN/" -c "$CONF" -e "$RUN/error.log") pid i
    "${nginx[@]}" -t -q || die "nginx -t failed for $CONF"

    if pid=$(nginx_pid); then
        say "nginx already running (pid $pid): reloading $CONF"
        kill -HUP "$pid"
        return 0
    fi
    port_busy "$HTTP" && die "$HTTP is in use by another process"
    "${nginx[@]}"
    for ((i = 0; i < 40; i++)); do
        port_busy "$HTTP" && break
        sleep 0.25
    done
    pid=$(nginx_pid) || { tail -n 20 "$RUN/error.log" >&2; die "nginx did not start"; }
    port_busy "$HTTP" || { tail -n 20 "$RUN/error.log" >&2; die "nginx not listening on $HTTP"; }
    say "nginx started (pid $pid) on http://$HTTP, prefix $RUN/"
}

demo() {
    local id body found= i
    id=$(cat /proc/sys/kernel/random/uuid)
    body="{\"event_type\":\"click\",\"event_id\":\"$id\",\"page\":\"/home\"}"
    echo
    echo "\$ curl -sS -i -H 'Content-Type: application/json' --data '$body' http://$HTTP/events"
    curl -sS -i --max-time 10 -H 'Content-Type: application/json' \
        --data "$body" "http://$HTTP/events" || die "POST failed"
    echo
    echo
    echo "\$ kcat -b $BROKERS -C -t $TOPIC -o -1 -e -J   # looking for event_id $id"
    for ((i = 0; i < 40; i++)); do
        found=$(timeout 10 kcat -b "$BROKERS" -C -t "$TOPIC" -o -20 -e -J -q \
                    2>/dev/null | grep -F "$id" | tail -n 1) || true
        [ -n "$found" ] && break
        sleep 0.5
    done
    [ -n "$found" ] || die "event $id not found in topic $TOPIC after 20 s" \
                           "(see $RUN/error.log)"
    pretty <<<"$found"
}

start_kafka() {
    command -v kcat >/dev/null || die "kcat not found; run scripts/deps.sh run"
    if [ -f "$KAFKA_MINE" ] && "$REPO/scripts/kafka.sh" pid >/dev/null; then
        "$REPO/scripts/kafka.sh" start
    elif kafka_answers; then
        say "using the Kafka broker answering on $BROKERS (make stop leaves it)"
        rm -f "$KAFKA_MINE"
    else
        "$REPO/scripts/kafka.sh" start
        mkdir -p "$RUN"
        echo "$KAFKA_PORT" >"$KAFKA_MINE"
    fi
}

cmd_start() {
    start_kafka
    start_nginx
    demo
    echo
    say "nginx: http://$HTTP/events (logs in $RUN/), Kafka: $BROKERS, topic $TOPIC"
    if [ -f "$KAFKA_MINE" ]; then say "stop both with: make stop"
    else say "stop nginx with: make stop (the broker is not ours to stop)"; fi
}

cmd_stop() {
    local pid i
    if pid=$(nginx_pid); then
        kill -QUIT "$pid" 2>/dev/null || true
        for ((i = 0; i < 60; i++)); do
            [ -d "/proc/$pid" ] || break
            sleep 0.25
        done
        if [ -d "/proc/$pid" ]; then
            say "nginx (pid $pid) still running after 15 s; SIGTERM"
            kill -TERM "$pid" 2>/dev/null || true
            sleep 2
        fi
        say "nginx stopped (pid $pid)"
    else
        say "nginx not running"
    fi
    if [ -f "$KAFKA_MINE" ]; then
        "$REPO/scripts/kafka.sh" stop
        rm -f "$KAFKA_MINE"
    else
        say "Kafka: not started by make run, left as it is"
    fi
}

cmd_status() {
    local pid rc=0
    if pid=$(nginx_pid); then say "nginx running (pid $pid) on http://$HTTP"
    else say "nginx not running"; rc=1; fi
    if [ -f "$KAFKA_MINE" ]; then
        "$REPO/scripts/kafka.sh" status || rc=1
    elif kafka_answers; then
        say "Kafka answering on $BROKERS (not started by make run)"
    else
        say "Kafka not answering on $BROKERS"; rc=1
    fi
    return $rc
}

case "${1:-}" in
    start)  cmd_start ;;
    stop)   cmd_stop ;;
    status) cmd_status ;;
    *)      echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

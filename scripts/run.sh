#!/bin/bash
# make run / make stop: a local broker plus nginx with the module, from
# conf-examples/quickstart.conf, everything under run/ (git-ignored).
#
#   scripts/run.sh start   start Kafka and nginx, post an event, read it back
#   scripts/run.sh stop    stop nginx and Kafka (idempotent)
#   scripts/run.sh status
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=$REPO/run
CONF_SRC=${EVBUS_CONF:-$REPO/conf-examples/quickstart.conf}
CONF=$RUN/nginx.conf
PIDFILE=$RUN/nginx.pid
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
        --data "$body" "http://$HTTP/events" || say "POST failed"
    echo
    echo
    echo "\$ kcat -b $BROKERS -C -t $TOPIC -o -1 -e -J   # looking for event_id $id"
    for ((i = 0; i < 40; i++)); do
        found=$(timeout 10 kcat -b "$BROKERS" -C -t "$TOPIC" -o -20 -e -J -q \
                    2>/dev/null | grep -F "$id" | tail -n 1) || true
        [ -n "$found" ] && break
        sleep 0.5
    done
    if [ -n "$found" ]; then
        pretty <<<"$found"
    else
        say "event $id not found in topic $TOPIC after 20 s (see $RUN/error.log)"
    fi
}

cmd_start() {
    "$REPO/scripts/kafka.sh" start
    start_nginx
    demo
    echo
    say "nginx: http://$HTTP/events (logs in $RUN/), Kafka: $BROKERS, topic $TOPIC"
    say "stop both with: make stop"
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
    "$REPO/scripts/kafka.sh" stop
}

cmd_status() {
    local pid rc=0
    if pid=$(nginx_pid); then say "nginx running (pid $pid) on http://$HTTP"
    else say "nginx not running"; rc=1; fi
    "$REPO/scripts/kafka.sh" status || rc=1
    return $rc
}

case "${1:-}" in
    start)  cmd_start ;;
    stop)   cmd_stop ;;
    status) cmd_status ;;
    *)      echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

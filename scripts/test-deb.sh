#!/bin/bash
# make test-deb: the Debian package on this machine's own nginx, end to end.
#
# Installs build/libnginx-mod-http-evbus_<version>_<arch>.deb with apt-get,
# checks its files and that the module is enabled, writes a site with an
# evbus location into /etc/nginx/sites-enabled/, runs nginx -t, starts
# /usr/sbin/nginx with the system configuration (no service manager), posts
# an event and reads it back from Kafka with kcat (body, key, headers), stops
# nginx, purges the package and checks that the evbus site now fails
# nginx -t (the module is gone) and that, without it, nginx -t passes and
# nginx starts.
#
# Needs root.  Refuses to run when the package is already installed or the
# system nginx is already running (it would have to change them), and puts
# things back at exit whatever happens: the site file removed, the nginx it
# started stopped, the package purged.  Kafka: the broker at
# 127.0.0.1:$KAFKA_PORT, started (and stopped again) with scripts/kafka.sh
# when none answers, as scripts/test.sh does.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

PKG=libnginx-mod-http-evbus
NGINX=/usr/sbin/nginx
SITE=/etc/nginx/sites-enabled/evbus-test-deb
ENABLED=/etc/nginx/modules-enabled/50-mod-http-evbus.conf
AVAILABLE=/usr/share/nginx/modules-available/mod-http-evbus.conf
SO=/usr/lib/nginx/modules/ngx_http_evbus_module.so
DOC=/usr/share/doc/$PKG
PIDFILE=/run/nginx.pid
PORT=${EVBUS_DEB_PORT:-18089}
export KAFKA_PORT=${KAFKA_PORT:-9092}
BROKERS=${EVBUS_BROKERS:-127.0.0.1:$KAFKA_PORT}

version=$(sed -n 's/^#define NGX_EVBUS_VERSION *"\(.*\)"$/\1/p' \
          src/ngx_evbus_version.h)
deb=$REPO/build/${PKG}_${version}_$(dpkg --print-architecture).deb

tests=0 failed=0
ok() { tests=$((tests + 1)); echo "ok $tests - $1"; }
not_ok() {
    tests=$((tests + 1)) failed=$((failed + 1))
    echo "not ok $tests - $1"
    shift
    for l in "$@"; do echo "#   $l"; done
}
check() {   # check "name" command...
    local name=$1
    shift
    if "$@" >/dev/null 2>&1; then ok "$name"; else not_ok "$name"; fi
}
die() { echo "test-deb: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (apt-get, /etc/nginx)"
[ -f "$deb" ] || die "$deb not built (make deb)"
for c in kcat curl perl apt-get; do
    command -v "$c" >/dev/null || die "$c not found (scripts/deps.sh test)"
done
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q installed; then
    die "$PKG is already installed; purge it first (this test purges it)"
fi
if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    die "the system nginx is running (pid $(cat "$PIDFILE")); stop it first"
fi
[ -e "$SITE" ] && die "$SITE exists"
if [ -n "$(ss -Hlnt "sport = :$PORT")" ]; then
    die "port $PORT is in use (EVBUS_DEB_PORT=...)"
fi

tmp=$(mktemp -d /tmp/evbus-test-deb.XXXXXX)
installed=0 started_kafka=0 nginx_pid=

stop_nginx() {
    local pid=$nginx_pid
    [ -n "$pid" ] || return 0
    nginx_pid=
    "$NGINX" -s quit 2>/dev/null || kill -QUIT "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    echo "# nginx $pid did not quit in 20 s: SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    pkill -KILL -P "$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
    return 1
}

start_nginx() {
    # the system nginx as its service unit would start it, plus a second
    # error log at info level for this test to read
    : > "$tmp/error.log"
    "$NGINX" -g "error_log $tmp/error.log info;" || return 1
    for _ in $(seq 50); do
        [ -s "$PIDFILE" ] && break
        sleep 0.1
    done
    nginx_pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    kill -0 "$nginx_pid"
}

finish() {
    local rc=$?
    trap - EXIT INT TERM
    stop_nginx || true
    rm -f "$SITE"
    if [ "$installed" = 1 ]; then
        echo "# purging $PKG"
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "$PKG" \
            >/dev/null 2>&1 || true
    fi
    if [ "$started_kafka" = 1 ]; then
        scripts/kafka.sh stop || true
    fi
    if [ "${EVBUS_KEEP:-0}" = 1 ]; then
        echo "# kept $tmp"
    else
        rm -rf "$tmp"
    fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! timeout 10 kcat -b "$BROKERS" -L -m 3 2>/dev/null | grep -q ' broker '
then
    scripts/kafka.sh pid >/dev/null 2>&1 || started_kafka=1
    scripts/kafka.sh start
fi

echo "# $deb"

# 1. install

installed=1
if DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
       --no-install-recommends "$deb" > "$tmp/apt-install.log" 2>&1
then
    ok "apt-get install $(basename "$deb")"
else
    not_ok "apt-get install $(basename "$deb")" \
        "$(tail -20 "$tmp/apt-install.log")"
    exit 1
fi

check "the module is in /usr/lib/nginx/modules" test -f "$SO"
check "the browser SDK is in /usr/share/evbus/sdk/js (browser.conf)" \
    test -f /usr/share/evbus/sdk/js/evbus.js \
         -a -f /usr/share/evbus/sdk/js/evbus.global.js
check "$AVAILABLE loads it" \
    grep -qx 'load_module modules/ngx_http_evbus_module.so;' "$AVAILABLE"
check "enabled on install: $ENABLED -> $AVAILABLE" \
    test "$(readlink "$ENABLED")" = "$AVAILABLE"

abi=$(dpkg-query -W -f='${Provides}' nginx | grep -o 'nginx-abi-[^ ,]*')
depends=$(dpkg-query -W -f='${Depends}' "$PKG")
check "depends on the installed nginx's ABI ($abi)" \
    grep -qw -- "$abi" <<< "$depends"
for lib in librdkafka1 libyajl2 libxxhash0; do
    check "depends on $lib (dh_shlibdeps)" grep -qw "$lib" <<< "$depends"
done
for f in README.md.gz CHANGELOG.md.gz copyright changelog.gz \
         examples/production.conf examples/quickstart.conf \
         examples/schemas.conf examples/schemas/purchase/2.json \
         docs/schemas.md.gz
do
    check "$DOC/$f" test -s "$DOC/$f"
done

# 2. a site with an evbus location, nginx -t, start

topic=t-deb-$$-$(date +%s)
cat > "$SITE" <<EOF
# written by ngx_evbus scripts/test-deb.sh; removed when it ends
evbus_brokers $BROKERS;

server {
    listen 127.0.0.1:$PORT;

    location = /events {
        evbus;
        evbus_topic $topic;
        evbus_source_service deb-test;
    }
}
EOF

if "$NGINX" -t > "$tmp/t.log" 2>&1; then
    ok "nginx -t with the evbus site"
else
    not_ok "nginx -t with the evbus site" "$(cat "$tmp/t.log")"
    exit 1
fi

if start_nginx; then
    ok "the system nginx starts (pid $nginx_pid)"
else
    not_ok "the system nginx starts" "$(cat "$tmp/error.log")"
    exit 1
fi

for _ in $(seq 50); do
    [ -n "$(ss -Hlnt "sport = :$PORT")" ] && break
    sleep 0.1
done

# "evbus/1.0.0 librdkafka/2.0.2 yajl/2.1.0", once
n=$(grep -cE "\[notice\] .*: evbus/$version librdkafka/[0-9.]+ yajl/[0-9.]+$" \
    "$tmp/error.log" || true)
check "version line at start, once (evbus/$version ...)" test "$n" = 1

# 3. an event through it, and back from Kafka

id=deb-$$-$RANDOM$RANDOM
event='{"event_type":"deb_check","event_id":"'$id'","page":"/installed","n":1.50}'
status=$(curl -sS -o "$tmp/response" -w '%{http_code}' \
    -H 'Content-Type: application/json' -H 'User-Agent: evbus-test-deb/1' \
    --data "$event" \
    "http://127.0.0.1:$PORT/events" || true)
if [ "$status" = 202 ] \
   && grep -q "\"accepted\":1,\"rejected\":0,\"event_ids\":\[\"$id\"\]" \
        "$tmp/response"
then
    ok "POST /events: 202, accepted 1, event_ids [$id]"
else
    not_ok "POST /events: 202, accepted 1, event_ids [$id]" \
        "status $status: $(cat "$tmp/response" 2>/dev/null)"
fi

: > "$tmp/kafka.json"
for _ in $(seq 40); do
    timeout 15 kcat -b "$BROKERS" -C -t "$topic" -o beginning -e -J -q \
        > "$tmp/kafka.json" 2>/dev/null || true
    [ -s "$tmp/kafka.json" ] && break
    sleep 0.5
done

if perl -MJSON::PP -e '
    my ($file, $id, $topic) = @ARGV;
    open my $fh, "<", $file or die "$file: $!";
    my @m = map { JSON::PP->new->decode($_) } grep { /^\{/ } <$fh>;
    my @bad;
    push @bad, scalar(@m) . " messages, not 1" unless @m == 1;
    my $m = $m[0] or die "no message\n";
    my %h = @{ $m->{headers} || [] };
    my $raw = $m->{payload};
    utf8::downgrade($raw, 1);
    my $v = JSON::PP->new->decode($raw);
    my $md = $v->{metadata} || {};
    my %want = (
        "topic"                    => [$m->{topic}, $topic],
        "key"                      => [$m->{key}, $id],
        "event_id"                 => [$v->{event_id}, $id],
        "event_type"               => [$v->{event_type}, "deb_check"],
        "page"                     => [$v->{page}, "/installed"],
        "metadata.source_service"  => [$md->{source_service}, "deb-test"],
        "metadata.event_version"   => [$md->{event_version}, 1],
        "metadata.client_ip"       => [$md->{client_ip}, "127.0.0.1"],
        "metadata.user_agent"      => [$md->{user_agent}, "evbus-test-deb/1"],
        "header event_type"        => [$h{event_type}, "deb_check"],
        "header event_version"     => [$h{event_version}, "1"],
        "header source_service"    => [$h{source_service}, "deb-test"],
        "header ingest_timestamp"  => [$h{ingest_timestamp},
                                       $md->{ingest_timestamp}],
    );
    for my $k (sort keys %want) {
        my ($got, $exp) = @{ $want{$k} };
        push @bad, "$k: got " . ($got // "undef")
            . ", want " . ($exp // "undef")
            unless defined $got && defined $exp && $got eq $exp;
    }
    push @bad, "client number not byte for byte: $raw"
        unless $raw =~ /"n":1\.50[,}]/;
    push @bad, "ingest_timestamp: " . ($h{ingest_timestamp} // "undef")
        unless ($h{ingest_timestamp} // "")
            =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
    push @bad, "request_id: " . ($md->{request_id} // "undef")
        unless ($md->{request_id} // "") =~ /^[0-9a-f]{32}$/;
    print "$_\n" for @bad;
    exit(@bad ? 1 : 0);
' "$tmp/kafka.json" "$id" "$topic" > "$tmp/kafka.check" 2>&1
then
    ok "in Kafka: one message, key, body, metadata and headers as sent"
else
    mapfile -t why < "$tmp/kafka.check"
    not_ok "in Kafka: one message, key, body, metadata and headers as sent" \
        "${why[@]}" "$(head -c 2000 "$tmp/kafka.json")"
fi

# 4. stop; purge; nginx without the module

if stop_nginx; then ok "nginx quits"; else not_ok "nginx quits"; fi
if grep -E '\[(alert|emerg|crit)\]' "$tmp/error.log" > "$tmp/bad.log"; then
    not_ok "no [alert], [crit] or [emerg] in the error log" \
        "$(head -20 "$tmp/bad.log")"
else
    ok "no [alert], [crit] or [emerg] in the error log"
fi
check "the exit summary was logged" \
    grep -q 'evbus: producer stopped: 1 produced, 1 delivered, 0 failed' \
    "$tmp/error.log"

if DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "$PKG" \
       > "$tmp/apt-purge.log" 2>&1
then
    installed=0
    ok "apt-get purge $PKG"
else
    not_ok "apt-get purge $PKG" "$(tail -20 "$tmp/apt-purge.log")"
fi
check "the module is gone" test ! -e "$SO"
check "$AVAILABLE is gone" test ! -e "$AVAILABLE"
check "no link left in /etc/nginx/modules-enabled" \
    test -z "$(find /etc/nginx/modules-enabled -name '*evbus*')"

# the site still there: nginx no longer knows evbus
if "$NGINX" -t > "$tmp/t.log" 2>&1; then
    not_ok "without the module, nginx -t refuses the evbus site" \
        "$(cat "$tmp/t.log")"
else
    check "without the module, nginx -t refuses the evbus site" \
        grep -q 'unknown directive "evbus_brokers"' "$tmp/t.log"
fi

rm -f "$SITE"
if "$NGINX" -t > "$tmp/t.log" 2>&1; then
    ok "without the module and the site, nginx -t passes"
else
    not_ok "without the module and the site, nginx -t passes" \
        "$(cat "$tmp/t.log")"
fi

if start_nginx && sleep 1 && kill -0 "$nginx_pid"; then
    ok "without the module, nginx starts and keeps running"
else
    not_ok "without the module, nginx starts and keeps running" \
        "$(cat "$tmp/error.log")"
fi
check "and logs no evbus line" \
    test "$(grep -c 'evbus' "$tmp/error.log")" = 0
if stop_nginx; then ok "nginx quits"; else not_ok "nginx quits"; fi

echo "1..$tests"
if [ "$failed" != 0 ]; then
    echo "test-deb: $failed of $tests failed" >&2
    exit 1
fi
echo "test-deb: all $tests passed"

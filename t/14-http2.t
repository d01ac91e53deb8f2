#!/usr/bin/perl

# HTTP/2 (h2c): events on multiplexed streams, responses held for delivery
# reports on several streams of one connection, a client that goes away
# while its stream is held.
#
# linger.ms is 400 here, so a held response takes at least that long: the
# access log ($request_time, $evbus_accepted, $evbus_rejected) shows that
# the responses were held, concurrently; the worker pids show that no
# worker died on the way.
#
# curl 7.88 (Debian 12) fails its own multiplexed uploads over h2c prior
# knowledge ("Error in the HTTP2 framing layer", with nginx's plain
# "return 204" too), so its parallel transfers use a connection each, and
# Evbus::h2_posts sends held streams multiplexed on one connection.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes;
use Evbus qw(free_port json_decode);

my $t = Evbus->new('http2')->need_kafka;
my $topic = $t->topic;
my $h2 = free_port();
my $dir = $t->dir;

# curl is a prerequisite like kcat: missing, the file fails under make test
Evbus::_missing('curl is not installed')
    unless `curl --version 2>&1` =~ /^curl/;
Evbus::_missing('curl lacks HTTP/2')
    unless `curl --version 2>&1` =~ /\bHTTP2\b/;

$t->start_ok(
    properties => [['linger.ms', 400]],
    http => ["evbus_topic $topic;",
        'log_format h2 "$connection $request_time $status $evbus_accepted'
        . ' $evbus_rejected $server_protocol $uri $evbus_delivery_ms";'],
    servers => <<"EOF");
    server {
        listen 127.0.0.1:$h2 http2;
        access_log $dir/h2.log h2;
        location = /e { evbus; }
        location = /k { evbus; evbus_ack kafka; }
    }
EOF

my @workers = $t->worker_pids;
is(scalar @workers, 2, 'two workers');

sub curl2 {
    my (@args) = @_;
    return `curl -sS --http2-prior-knowledge -H 'Content-Type: application/json' @args 2>&1`;
}

# access log lines: [connection, request_time, status, accepted, rejected,
# protocol, uri]
sub access {
    open my $fh, '<', "$dir/h2.log" or return ();
    my @l = map { chomp; [split / /] } <$fh>;
    return @l;
}

my $out = curl2('-w', "'\\n%{http_version} %{http_code}'", '--data',
    q{'[{"event_type":"a","event_id":"h2-q1"},{"event_type":"a","event_id":"h2-q2"},{"x":1}]'},
    "http://127.0.0.1:$h2/e");
like($out, qr/\n2 202$/, 'queued over HTTP/2: 202');

$out = curl2('-w', "'\\n%{http_code}'", '--data',
    q{'{"event_type":"a","event_id":"h2-k1"}'}, "http://127.0.0.1:$h2/k");
like($out, qr/\n200$/, 'held over HTTP/2: 200');
my ($body) = split /\n/, $out;
my $j = eval { json_decode($body) } || {};
is($j->{results}[0]{event_id}, 'h2-k1', 'result names the event');

# the log phase runs after the response has gone out: wait for the lines
my @a;
for (1 .. 100) {
    last if (@a = access()) >= 2;
    Time::HiRes::sleep(0.05);
}
is_deeply([map { [@$_[2 .. 6]] } @a],
    [[202, 2, 1, 'HTTP/2.0', '/e'], [200, 1, 0, 'HTTP/2.0', '/k']],
    'access log: status, $evbus_accepted, $evbus_rejected, HTTP/2');
cmp_ok($a[1][1], '>=', 0.3, 'the /k response was held for the delivery'
    . ' report (linger.ms 400)') if @a == 2;

# several held streams at once
my @urls = map { "http://127.0.0.1:$h2/k?$_" } 1 .. 4;
my $t0 = Time::HiRes::time();
$out = curl2('--parallel', '--parallel-immediate', '--parallel-max', 4,
    '-w', "'%{http_code} %{num_connects}\\n'", ('-o', '/dev/null') x 4,
    '--data', q{'{"event_type":"m"}'}, map { "'$_'" } @urls);
my $took = Time::HiRes::time() - $t0;
my @codes = $out =~ /^(\d{3}) \d+$/mg;
is("@codes", '200 200 200 200', 'four multiplexed held streams: 200')
    or diag($out);
for (1 .. 100) {
    last if (@a = access()) >= 6;
    Time::HiRes::sleep(0.05);
}
my @par = @a[2 .. $#a];
is(scalar @par, 4, 'four access log lines');
is(scalar(grep { ($_->[7] // '-') ne '-' && $_->[5] eq 'HTTP/2.0' } @par), 4,
    'each HTTP/2 stream was held');
my $sum = 0;
$sum += $_->[1] for @par;
cmp_ok($took, '<', $sum, 'held concurrently: the four took less than the'
    . ' sum of their times');

# four held streams multiplexed on one connection
$t0 = Time::HiRes::time();
my @mx = $t->h2_posts($h2, [map { ['/k', qq{{"event_type":"mx","event_id":"h2-mx$_"}}] }
    1 .. 4]);
$took = Time::HiRes::time() - $t0;

my $lines = scalar @a;
for (1 .. 100) {
    last if access() >= $lines + 4;
    Time::HiRes::sleep(0.05);
}
is_deeply([map { $_->[0] } @mx], [200, 200, 200, 200],
    'four streams of one connection: 200 each');
is_deeply([map { my $r = json_decode($_->[1]);
        ref $r eq 'HASH' ? $r->{results}[0]{event_id} : undef } @mx],
    [map { "h2-mx$_" } 1 .. 4], 'each stream got its own result');
@a = access();
my @mxl = @a[-4 .. -1];
$sum = 0;
$sum += $_->[1] for @mxl;
cmp_ok($took, '<', $sum, 'held concurrently on one connection');
is(scalar(keys %{{ map { $_->[0] => 1 } @mxl }}), 1,
    'the access log shows one connection for the four');
is(scalar(grep { ($_->[7] // '-') ne '-' && $_->[2] == 200 } @mxl), 4,
    'each of them held for its delivery report');

# a client that leaves while held (the response takes 400 ms)
system("timeout 0.1 curl -s --http2-prior-knowledge"
    . " -H 'Content-Type: application/json'"
    . " --data '{\"event_type\":\"gone\",\"event_id\":\"h2-gone\"}'"
    . " http://127.0.0.1:$h2/k >/dev/null 2>&1");
$out = curl2('-w', "'\\n%{http_code}'", '--data',
    q{'{"event_type":"a","event_id":"h2-after"}'}, "http://127.0.0.1:$h2/k");
like($out, qr/\n200$/, '200 after a client left a held stream');
is_deeply([$t->worker_pids], \@workers,
    'the same workers: none died and was respawned');
my $gone;
for (1 .. 100) {
    @a = access();
    last if ($gone) = grep { $_->[6] eq '/k' && $_->[2] != 200 } @a;
    Time::HiRes::sleep(0.05);
}
ok($gone, 'the request that left is logged, not answered 200')
    or diag(join "\n", map { "@$_" } @a);

my @want = (qw(h2-q1 h2-q2 h2-k1 h2-gone h2-after),
    map { "h2-mx$_" } 1 .. 4);
my $msgs = $t->kafka_read($topic, 13);
my %keys = map { ($_->{key} // '') => 1 } @$msgs;
ok($keys{$_}, "$_ in Kafka") for @want;
is(scalar @$msgs, 13, 'all 13 events in Kafka');

$t->done;

#!/usr/bin/perl

# HTTP/2 (h2c): events on multiplexed streams, responses held for delivery
# reports on several streams of one connection, a client that goes away
# while its stream is held.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus qw(free_port json_decode);

my $t = Evbus->new('http2')->need_kafka;
my $topic = $t->topic;
my $h2 = free_port();

plan skip_all => 'curl is not installed'
    unless `curl --version 2>&1` =~ /^curl/;

$t->start_ok(
    http => ["evbus_topic $topic;"],
    servers => <<"EOF");
    server {
        listen 127.0.0.1:$h2 http2;
        location = /e { evbus; }
        location = /k { evbus; evbus_ack kafka; }
    }
EOF

sub curl2 {
    my (@args) = @_;
    return `curl -sS --http2-prior-knowledge -H 'Content-Type: application/json' @args 2>&1`;
}

my $out = curl2('-w', "'\\n%{http_version} %{http_code}'", '--data',
    q{'[{"event_type":"a","event_id":"h2-q1"},{"event_type":"a","event_id":"h2-q2"}]'},
    "http://127.0.0.1:$h2/e");
like($out, qr/\n2 202$/, 'queued over HTTP/2: 202');

$out = curl2('-w', "'\\n%{http_code}'", '--data',
    q{'{"event_type":"a","event_id":"h2-k1"}'}, "http://127.0.0.1:$h2/k");
like($out, qr/\n200$/, 'held over HTTP/2: 200');
my ($body) = split /\n/, $out;
my $j = eval { json_decode($body) } || {};
is($j->{results}[0]{event_id}, 'h2-k1', 'result names the event');

# several held streams on one connection
my @urls = map { "http://127.0.0.1:$h2/k" } 1 .. 4;
$out = curl2('--parallel', '--parallel-immediate', '--parallel-max', 4,
    '-w', "'%{http_code}\\n'", ('-o', '/dev/null') x 4,
    '--data', q{'{"event_type":"m"}'}, @urls);
my @codes = $out =~ /^(\d{3})$/mg;
is(scalar(grep { $_ == 200 } @codes), 4,
    'four multiplexed held streams: 200');

# a client that leaves while held
system("timeout 0.05 curl -s --http2-prior-knowledge"
    . " -H 'Content-Type: application/json'"
    . " --data '{\"event_type\":\"gone\",\"event_id\":\"h2-gone\"}'"
    . " http://127.0.0.1:$h2/k >/dev/null 2>&1");
$out = curl2('-w', "'\\n%{http_code}'", '--data',
    q{'{"event_type":"a","event_id":"h2-after"}'}, "http://127.0.0.1:$h2/k");
like($out, qr/\n200$/, 'worker healthy after a client left a held stream');

my $msgs = $t->kafka_read($topic, 8);
my %keys = map { ($_->{key} // '') => 1 } @$msgs;
ok($keys{$_}, "$_ in Kafka") for qw(h2-q1 h2-q2 h2-k1 h2-after);
cmp_ok(scalar @$msgs, '>=', 8, 'all events in Kafka');

$t->done;

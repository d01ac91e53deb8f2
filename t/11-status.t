#!/usr/bin/perl

# evbus_status: Prometheus counters shared by all workers, kept across a
# reload, and per-worker gauges; they agree with what reached Kafka.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus;

my $t = Evbus->new('status')->need_kafka;
my $topic = $t->topic;

$t->start_ok(
    http => ["evbus_topic $topic;"],
    locations => "location = /e { evbus; }\n"
        . "location = /k { evbus; evbus_ack kafka; }\n"
        . "location = /metrics { evbus_status; }");

sub metrics {
    my ($m, $raw, $st, $h) = $t->metrics;
    return ($st, $h, $m, $raw);
}

my ($st, $h, $m, $raw) = metrics();
is($st, 200, 'status: 200');
like($h->{'content-type'}, qr{^text/plain; version=0\.0\.4},
    'Prometheus text format');
like($raw, qr/^# TYPE evbus_requests_total counter$/m, 'TYPE lines');
is($m->{evbus_requests_total}, 0, 'no request yet');

my @ids;
for my $i (1 .. 6) {
    my $body = qq{[{"event_type":"s","event_id":"st$i-a"},}
        . qq{{"event_type":"s","event_id":"st$i-b"},{"bad":1}]};
    my ($s) = $t->post($i % 2 ? '/e' : '/k', $body);
    push @ids, "st$i-a", "st$i-b" if $s == 202 || $s == 200;
}
is(scalar @ids, 12, 'all requests accepted');
my ($s415) = $t->post('/e', '{}', content_type => 'text/plain');
is($s415, 415, 'a 415');

my $msgs = $t->kafka_read($topic, 12);
is(scalar @$msgs, 12, '12 events in Kafka');

# counters are updated when delivery reports arrive: wait for them
my $deadline = time() + 15;
do {
    ($st, $h, $m) = metrics();
} while (($m->{'evbus_kafka_messages_total{result="delivered"}'} // 0) < 12
    && time() < $deadline && (select(undef, undef, undef, 0.2) || 1));

is($m->{evbus_requests_total}, 7, 'requests counted');
is($m->{'evbus_responses_total{class="2xx"}'}, 6, '2xx counted');
is($m->{'evbus_responses_total{class="4xx"}'}, 1, '4xx counted');
is($m->{'evbus_events_total{event_type="s",outcome="accepted"}'}, 12,
   'accepted events, by type');
is($m->{'evbus_events_total{event_type="invalid",outcome="rejected"}'}, 6,
   'rejected events without a type');
is($m->{'evbus_kafka_messages_total{result="produced"}'}, 12, 'produced');
is($m->{'evbus_kafka_messages_total{result="delivered"}'}, 12, 'delivered');
is($m->{'evbus_kafka_messages_total{result="failed"}'}, 0, 'none failed');
is($m->{evbus_lost_total}, 0, 'none lost');

# gauges are refreshed once a second by each worker
$deadline = time() + 5;
my @workers;
do {
    (undef, undef, undef, $raw) = metrics();
    @workers = $raw =~ /^evbus_kafka_available\{worker="(\d+)"\} 1$/mg;
} while (@workers < 2 && time() < $deadline
    && (select(undef, undef, undef, 0.3) || 1));
is(scalar @workers, 2, 'both workers report Kafka available');
like($raw, qr/^evbus_held_requests\{worker="\d+"\} 0$/m, 'held gauge');

# counters live in shared memory: a reload keeps them
ok($t->reload, 'reload');
($st, $h, $m) = metrics();
cmp_ok($m->{evbus_requests_total}, '>=', 7, 'counters survive a reload');

my ($s405) = $t->post('/metrics', '{}');
is($s405, 405, 'status location: GET only');

$t->done;

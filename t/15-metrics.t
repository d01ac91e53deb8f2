#!/usr/bin/perl

# Issue 8: per-type counters, rejections by reason and histograms in the
# statistics zone, exact after known traffic through two workers and after
# a reload; the max_types cap; ?format=json; promtool check metrics;
# W3C traceparent/tracestate into Kafka headers; Server-Timing; the
# log_format variables.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus;

my $t = Evbus->new('metrics')->need_kafka;
my $topic = $t->topic;
my $dir = $t->dir;
my $port2 = Evbus::free_port();
my $dlq = $t->topic('dlq');

my %conf = (
    http => ["evbus_topic $topic;",
             'evbus_stats_zone evbus_m 1m max_types=3;',
             'log_format ev \'$pid $status $evbus_result "$evbus_event_types"'
                 . ' $evbus_accepted $evbus_rejected $evbus_delivery_ms\';'],
    locations => "location = /e { evbus; access_log $dir/ev.log ev; }\n"
        . "location = /k { evbus; evbus_ack kafka;"
        . " access_log $dir/ev.log ev; }\n"
        . "location = /d { evbus; evbus_dead_letter_topic $dlq; }\n"
        . "location = /metrics { evbus_status; }",
    # reuseport spreads the connections over both workers
    servers => "    server {\n"
        . "        listen 127.0.0.1:$port2 reuseport;\n"
        . "        location = /e { evbus; access_log $dir/ev.log ev; }\n"
        . "    }\n",
);

$t->start_ok(%conf);

sub metrics {
    my ($m, $raw) = $t->metrics;
    return ($m, $raw);
}

sub post2 {
    my ($body) = @_;
    my $ua = HTTP::Tiny->new(timeout => 20, keep_alive => 0);
    my $res = $ua->request('POST', "http://127.0.0.1:$port2/e", {
        headers => { 'Content-Type' => 'application/json' },
        content => $body });
    return $res->{status};
}

# 40 requests through both workers: each 2 "click", 1 "view", 1 invalid
my $ok = 0;
for my $i (1 .. 40) {
    my $b = qq{[{"event_type":"click","event_id":"c$i-a"},}
        . qq{{"event_type":"click","event_id":"c$i-b"},}
        . qq{{"event_type":"view","event_id":"v$i"},}
        . qq{{"event_type":"bad type!","event_id":"x$i"}]};
    $ok++ if post2($b) == 202;
}
is($ok, 40, '40 requests accepted');

my %pids;
for (split /\n/, Evbus::_read("$dir/ev.log")) {
    $pids{$1}++ if /^(\d+) /;
}
is(scalar keys %pids, 2, 'both workers served requests');

my $msgs = $t->kafka_read($topic, 120);
is(scalar @$msgs, 120, '120 events in Kafka');

my ($m, $raw);
my $deadline = time() + 15;
do {
    ($m, $raw) = metrics();
} while (($m->{'evbus_kafka_messages_total{result="delivered"}'} // 0) < 120
    && time() < $deadline && (select(undef, undef, undef, 0.2) || 1));

is($m->{'evbus_events_total{event_type="click",outcome="accepted"}'}, 80,
   'click accepted');
is($m->{'evbus_events_total{event_type="view",outcome="accepted"}'}, 40,
   'view accepted');
is($m->{'evbus_events_total{event_type="invalid",outcome="rejected"}'}, 40,
   'invalid types rejected');
is($m->{'evbus_events_total{event_type="click",outcome="rejected"}'}, 0,
   'no click rejected');
is($m->{'evbus_rejections_total{reason="event_type"}'}, 40,
   'rejections by reason');
is($m->{'evbus_request_events_count'}, 40, 'events histogram: count');
is($m->{'evbus_request_events_sum'}, 160, 'events histogram: sum');
is($m->{'evbus_request_events_bucket{le="2"}'}, 0, 'no request of 2');
is($m->{'evbus_request_events_bucket{le="5"}'}, 40, 'all 40 of 4 events');
is($m->{'evbus_request_events_bucket{le="+Inf"}'}, 40, '+Inf bucket');
is($m->{'evbus_delivery_seconds_count'}, 120, 'delivery histogram: count');
is($m->{'evbus_delivery_seconds_bucket{le="+Inf"}'}, 120,
   'delivery histogram: +Inf');
is($m->{'evbus_request_body_bytes_count'}, 40, 'body histogram: count');
is($m->{qq{evbus_topic_messages_total{topic="$topic",result="produced"}}},
   120, 'produced to the topic');
is($m->{qq{evbus_topic_messages_total{topic="$topic",result="delivered"}}},
   120, 'delivered to the topic');
is($m->{qq{evbus_topic_messages_total{topic="$topic",result="failed"}}},
   0, 'none failed');
is($m->{'evbus_topic_messages_total{topic="other",result="produced"}'}, 0,
   'no other topic');

# the cap: max_types=3, so after click and view one more type, then other
for my $ty (qw(t1 t2 t3)) {
    my ($s) = $t->post('/e', qq{{"event_type":"$ty","event_id":"id-$ty"}});
    is($s, 202, "type $ty accepted");
}
($m, $raw) = metrics();
is($m->{'evbus_events_total{event_type="t1",outcome="accepted"}'}, 1,
   'third type counted by name');
ok(!exists $m->{'evbus_events_total{event_type="t2",outcome="accepted"}'},
   'fourth type not by name');
is($m->{'evbus_events_total{event_type="other",outcome="accepted"}'}, 2,
   'the rest under other');
my @types = $raw =~ /^evbus_events_total\{event_type="([^"]+)",outcome="accepted"\}/mg;
is(scalar @types, 5, 'three types, other and invalid');

# promtool, an independent parser
SKIP: {
    skip 'no promtool', 1
        if !-x '/usr/bin/promtool' && Evbus::skip_allowed('no promtool');
    my $f = "$dir/metrics.txt";
    open my $fh, '>', $f or die;
    print $fh $raw;
    close $fh;
    my $out = `/usr/bin/promtool check metrics < $f 2>&1`;
    is($?, 0, 'promtool check metrics') or diag($out);
}

# JSON
my ($st, $h, $j) = $t->http('GET', '/metrics?format=json');
is($st, 200, 'json: 200');
like($h->{'content-type'}, qr{^application/json}, 'json: content type');
my ($click) = grep { $_->{labels}{event_type} eq 'click'
    && $_->{labels}{outcome} eq 'accepted' }
    @{ $j->{evbus_events_total}{samples} || [] };
is($click->{value}, 80, 'json: the same counter');
is($j->{evbus_delivery_seconds}{type}, 'histogram', 'json: histogram type');

# after a reload: the zone and its counters stay
ok($t->reload, 'reloaded');
($m) = metrics();
is($m->{'evbus_events_total{event_type="click",outcome="accepted"}'}, 80,
   'click accepted after reload');
is($m->{'evbus_request_events_count'}, 43, 'events histogram after reload');
my ($s) = $t->post('/e', qq{{"event_type":"click","event_id":"after"}});
is($s, 202, 'posted after reload');
($m) = metrics();
is($m->{'evbus_events_total{event_type="click",outcome="accepted"}'}, 81,
   'counted after reload');

# traceparent and tracestate into Kafka headers; malformed ones dropped
my $tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
my $topic2 = $t->topic('trace');
($s, $h) = $t->post('/k',
    qq{[{"event_type":"tr","event_id":"tr-1"},{"event_type":"tr","event_id":"tr-2"}]},
    headers => { traceparent => $tp, tracestate => 'rojo=00f067aa0ba902b7' });
is($s, 200, 'traced request delivered');
like($h->{'server-timing'},
     qr/^parse;dur=\d+\.\d{3}, produce;dur=\d+\.\d{3}, wait;dur=\d+\.\d{3}$/,
     'Server-Timing with the wait');
($s) = $t->post('/e', qq{{"event_type":"tr","event_id":"tr-bad"}},
    headers => { traceparent => '00-XYZ-00f067aa0ba902b7-01',
                 tracestate => 'rojo=1' });
is($s, 202, 'request with a malformed traceparent accepted');
($s) = $t->post('/e', qq{{"event_type":"tr","event_id":"tr-badstate"}},
    headers => { traceparent => $tp, tracestate => 'Bad Key=1' });
is($s, 202, 'request with a malformed tracestate accepted');

$msgs = $t->kafka_read($topic, 126);
my %by = map { $_->{key} => $_ } @$msgs;
is($by{'tr-1'}{headers}{traceparent}, $tp, 'traceparent in Kafka headers');
is($by{'tr-2'}{headers}{traceparent}, $tp, 'on every event of the request');
is($by{'tr-1'}{headers}{tracestate}, 'rojo=00f067aa0ba902b7',
   'tracestate in Kafka headers');
ok($by{'tr-bad'} && !exists $by{'tr-bad'}{headers}{traceparent}
   && !exists $by{'tr-bad'}{headers}{tracestate},
   'malformed traceparent dropped, and its tracestate');
ok($by{'tr-badstate'}
   && $by{'tr-badstate'}{headers}{traceparent} eq $tp
   && !exists $by{'tr-badstate'}{headers}{tracestate},
   'malformed tracestate dropped');
ok(!exists $by{'c1-a'}{headers}{traceparent}, 'none without the header');

($s) = $t->post('/d', qq{[{"event_type":"bad type","event_id":"dl-1"}]},
    headers => { traceparent => $tp });
is($s, 400, 'a rejected traced event');
my $dl = $t->kafka_read($dlq, 1);
is($dl->[0]{headers}{traceparent}, $tp, 'traceparent on its dead letter');

# the variables in the access log
($s) = $t->post('/e', qq{[{"event_type":"a","event_id":"p1"},{"x":1},}
    . qq{{"event_type":"b","event_id":"p2"},{"event_type":"a","event_id":"p3"}]});
is($s, 202, 'partial request');
($s) = $t->post('/e', qq{[{"x":1}]});
is($s, 400, 'rejected request');

my @log;
$deadline = time() + 5;
do {
    @log = split /\n/, Evbus::_read("$dir/ev.log");
} while (@log < 49 && time() < $deadline && (select(undef, undef, undef, 0.1) || 1));
ok((grep { /^\d+ 202 partial "a,b" 3 1 -$/ } @log) == 1,
   'partial: result, distinct types, counts');
ok((grep { /^\d+ 400 rejected "-" 0 1 -$/ } @log) == 1,
   'rejected: result, no type');
ok((grep { /^\d+ 200 ok "tr" 2 0 \d+$/ } @log) == 1,
   'ok, types and delivery ms with evbus_ack kafka');
is((grep { /^\d+ 202 partial "click,view" 3 1 -$/ } @log), 40,
   'the first 40 requests');

# a reload to "evbus_stats_zone off": no zone, no crash, events still go
my $off = { %conf };
$off->{http} = [grep { !/evbus_stats_zone/ } @{ $conf{http} }];
push @{ $off->{http} }, 'evbus_stats_zone off;';
ok($t->reload(conf => [%$off]), 'reloaded with the zone off');
# old workers may still take a request or two while they quit
$deadline = time() + 10;
do {
    ($st) = $t->http('GET', '/metrics');
} while ($st != 503 && time() < $deadline
    && (select(undef, undef, undef, 0.1) || 1));
is($st, 503, 'evbus_status: 503 without a zone');
($s) = $t->post('/e', qq{{"event_type":"off","event_id":"off-1"}});
is($s, 202, 'accepted with the zone off');
$msgs = $t->kafka_read($topic, 130);
ok((grep { $_->{key} eq 'off-1' } @$msgs), 'and in Kafka');

$t->done;

#!/usr/bin/perl

# Produce errors a real broker cannot give on demand, injected with
# librdkafka's mock cluster (tools/mock-cluster):
#   - retriable errors (NOT_ENOUGH_REPLICAS) are retried: 200;
#   - a permanent error (MESSAGE_TOO_LARGE) under evbus_ack kafka: the
#     event is reported failed, "delivery failed: ...", 503 with
#     Retry-After, never 200;
#   - permanent errors (ngx_evbus_kafka_err_permanent()) under queued are
#     never spooled (replay would retry them for ever): with a dead-letter
#     topic the event goes there (kind "delivery", with the error); without
#     one it is counted in evbus_lost_total and logged, rate-limited;
#   - a retriable failure under queued (message timeout while the broker
#     is down) goes to the spool and is replayed: it arrives.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(sleep time);
use Evbus;
use EvbusFault qw(wait_for);

my $t0 = time();

my $t = Evbus->new('mock-errors');
my $topic = $t->topic;
my $dlq = "$topic-dlq";
my ($bootstraps, $mock) = EvbusFault::mock_cluster($t, 1, $topic, 4, $dlq, 1);

sub mock { $mock->(@_) }

my $spool = $t->dir . '/spool';

$t->start_ok(brokers => $bootstraps,
    properties => [['linger.ms', 5], ['message.timeout.ms', 3000],
                   ['retry.backoff.ms', 50]],
    http => ["evbus_topic $topic;", "evbus_spool $spool;",
             'evbus_unavailable_after 60s;'],
    locations => "location = /e { evbus; }\n"
        . "location = /d { evbus; evbus_dead_letter_topic $dlq; }\n"
        . "location = /m { evbus_status; }\n"
        . "location = /k { evbus; evbus_ack kafka; evbus_ack_timeout 15s; }");

sub lost {
    my ($st, $h, $j, $raw) = $t->http('GET', '/m');
    my ($n) = $raw =~ /^evbus_lost_total (\d+)$/m;
    return $n;
}

my ($st, $h, $j) = $t->post('/k', body('warm-1'));
is($st, 200, 'first event delivered to the mock cluster');

# retriable: retried until it succeeds
is(mock('produce-errors 19 19 19'), 'ok', 'next 3 produce requests:'
    . ' NOT_ENOUGH_REPLICAS');
($st, $h, $j) = $t->post('/k', body('retry-1'));
is($st, 200, 'retriable errors are retried: 200');
is(ref $j eq 'HASH' && $j->{results} && $j->{results}[0]{event_id},
    'retry-1', 'with its result');

# permanent: reported as failed
is(mock('produce-errors 10'), 'ok', 'next produce request: MESSAGE_TOO_LARGE');
($st, $h, $j) = $t->post('/k', body('fail-1'));
is($st, 503, 'a permanent error under evbus_ack kafka: 503');
# nothing else waits in the queue: retrying soon is as good as later (the
# producer's messages are counted, not librdkafka's other requests, which
# made this evbus_unavailable_after: 60)
is($h->{'retry-after'}, 1, 'with Retry-After: 1');
like(ref $j eq 'HASH' && $j->{errors} && $j->{errors}[0]{error} || '',
    qr/^delivery failed: /, 'the event is reported as "delivery failed"')
    or diag(explain($j));
is(ref $j eq 'HASH' && $j->{accepted}, 0, 'nothing accepted');

# queued, permanent, with a dead-letter topic: a dead letter, not spooled
is(mock('produce-errors 10'), 'ok', 'next produce request: MESSAGE_TOO_LARGE');
($st, $h, $j) = $t->post('/d', body('dead-1'));
is($st, 202, 'queued: 202');

my $dl = [];
wait_for(sub {
    $dl = EvbusFault::topic_messages($bootstraps, $dlq, 10);
    return @$dl;
}, 20);
is_deeply([map { $_->[2] } @$dl], ['dead-1'],
    'the dead-letter topic has the event, keyed by its event_id');
my $v = `timeout 10 kcat -b $bootstraps -C -t $dlq -o beginning -e -q -J`;
my $m = Evbus::json_decode((split /\n/, $v)[0] // '');
my $dv = $m && Evbus::json_decode($m->{payload} // '');
is($dv && $dv->{error}{kind}, 'delivery', 'dead letter: kind "delivery"');
is($dv && $dv->{error}{message}, 'Broker: Message size too large',
    'dead letter: the error');
is($dv && Evbus::json_decode($dv->{raw} // '')->{event_id}, 'dead-1',
    'dead letter: raw is the produced event');
is($dv && $dv->{event_type}, 'mock', 'dead letter: event_type');
my %dh = @{ $m && $m->{headers} || [] };
is($dh{error_kind}, 'delivery', 'dead letter: error_kind header');

# queued, permanent, no dead-letter topic: lost, counted, logged
my $lost0 = lost();
is(mock('produce-errors 87'), 'ok', 'next produce request: INVALID_RECORD');
($st, $h, $j) = $t->post('/e', body('lost-1'));
is($st, 202, 'queued: 202');
ok(wait_for(sub { (lost() // 0) > $lost0 }, 10),
    'evbus_lost_total counts it');
my $lost_re = qr/delivery to "\Q$topic\E" failed: Broker: Broker failed/
    . qr/ to validate record, a permanent error, lost/;
like($t->error_log, qr/$lost_re/,
    'logged as a permanent error, lost');

# queued, retriable (message timeout while the broker is down): spooled
# and replayed once it is up
is(mock('down 1'), 'ok', 'the broker is down');
($st, $h, $j) = $t->post('/e', body('spool-1'));
is($st, 202, 'queued: 202');
my $to_re = qr/delivery to "\Q$topic\E" failed: Local: Message timed out,/
    . qr/ spooled for replay/;
ok(wait_for(sub { $t->error_log =~ /$to_re/ }, 15),
    'timed out in the queue: spooled');
is(mock('up 1'), 'ok', 'the broker is up');

my $got = EvbusFault::topic_keys($bootstraps, $topic,
    { 'warm-1' => 1, 'retry-1' => 1, 'spool-1' => 1 }, 20);
ok($got->{'spool-1'}, 'the timed-out event was spooled and replayed');
ok($got->{'retry-1'}, 'the retried event is in Kafka');
ok(!$got->{'fail-1'}, 'the failed event is not');
ok(!$got->{'dead-1'} && !$got->{'lost-1'},
    'nor the events that failed for good (never replayed)');
my $perm_re = qr/"\Q$topic\E" failed: Broker: /
    . qr/(?:Message size too large|Broker failed to validate record), spooled/;
unlike($t->error_log, qr/$perm_re/,
    'no permanent failure was spooled');

ok($t->stop, 'nginx stopped in time');
EvbusFault::check_error_log($t);

note(sprintf 'run time %.0fs', time() - $t0);
done_testing();

sub body {
    return '[' . join(',', map { qq{{"event_type":"mock","event_id":"$_"}} }
        @_) . ']';
}

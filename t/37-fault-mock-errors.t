#!/usr/bin/perl

# Produce errors a real broker cannot give on demand, injected with
# librdkafka's mock cluster (tools/mock-cluster):
#   - retriable errors (NOT_ENOUGH_REPLICAS) are retried: 200;
#   - a permanent error (MESSAGE_TOO_LARGE) under evbus_ack kafka: the
#     event is reported failed, "delivery failed: ...", 503 with
#     Retry-After, never 200;
#   - the same error under queued with a spool: 202, the event goes to the
#     spool and is replayed: it arrives.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use IPC::Open2;
use Time::HiRes qw(sleep time);
use Evbus;
use EvbusFault qw(wait_for);

my $t0 = time();

my $t = Evbus->new('mock-errors');
Evbus::missing('kcat is not installed') unless `which kcat` =~ /kcat/;

my $bin = $t->dir . '/mock-cluster';
my $out = `'$FindBin::Bin/../tools/mock-cluster/build.sh' '$bin' 2>&1`;
Evbus::missing("cannot build tools/mock-cluster (librdkafka-dev?): $out")
    if $?;

my $topic = $t->topic;
my $mpid = open2(my $from, my $to, $bin, 1, $topic, 4)
    or Evbus::missing('cannot run the mock cluster');
my $line = <$from> // '';
my ($bootstraps) = $line =~ /^bootstraps (\S+)/
    or BAIL_OUT("mock cluster said: $line");
note("mock cluster at $bootstraps");

sub mock {
    my ($cmd) = @_;
    print $to "$cmd\n";
    $to->flush;
    my $r = <$from> // '';
    chomp $r;
    return $r;
}

END {
    if ($mpid) {
        print $to "quit\n" if $to;
        close $to if $to;
        kill 'KILL', $mpid unless wait_for(sub { waitpid($mpid, 1) }, 3);
    }
}

my $spool = $t->dir . '/spool';

$t->start_ok(brokers => $bootstraps,
    properties => [['linger.ms', 5], ['message.timeout.ms', 10000],
                   ['retry.backoff.ms', 50]],
    http => ["evbus_topic $topic;", "evbus_spool $spool;"],
    locations => "location = /e { evbus; }\n"
        . "location = /k { evbus; evbus_ack kafka; evbus_ack_timeout 15s; }");

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
# (its exact values are t/10's; the failing message is still counted in
# the queue while its own delivery report is served, so this is not 1)
like($h->{'retry-after'} // '', qr/^[1-9]\d*$/, 'with Retry-After');
cmp_ok($h->{'retry-after'} // 0, '<=', 60, 'Retry-After at most 60');
like(ref $j eq 'HASH' && $j->{errors} && $j->{errors}[0]{error} || '',
    qr/^delivery failed: /, 'the event is reported as "delivery failed"')
    or diag(explain($j));
is(ref $j eq 'HASH' && $j->{accepted}, 0, 'nothing accepted');

# queued with a spool: spooled and replayed
is(mock('produce-errors 10'), 'ok', 'next produce request: MESSAGE_TOO_LARGE');
($st, $h, $j) = $t->post('/e', body('spool-1'));
is($st, 202, 'queued: 202');

my $got = EvbusFault::topic_keys($bootstraps, $topic,
    { 'warm-1' => 1, 'retry-1' => 1, 'spool-1' => 1 }, 20);
ok($got->{'spool-1'}, 'the failed queued event was spooled and replayed');
ok($got->{'retry-1'}, 'the retried event is in Kafka');
ok(!$got->{'fail-1'}, 'the failed event is not');
my $re = qr/failed: Broker: Message size too large/;
like($t->error_log,
    qr/delivery to "\Q$topic\E" $re, (?:reported to the client|spooled)/,
    'the failure was logged with its outcome (rate-limited: one a second)');

ok($t->stop, 'nginx stopped in time');
EvbusFault::check_error_log($t);

note(sprintf 'run time %.0fs', time() - $t0);
done_testing();

sub body {
    return '[' . join(',', map { qq{{"event_type":"mock","event_id":"$_"}} }
        @_) . ']';
}

#!/usr/bin/perl

# Kafka unreachable: once nothing of a request can be queued the answer is
# 503 with Retry-After, never another 5xx, and nginx still stops in
# bounded time.
#
# Retry-After's value: with nothing delivered and messages waiting, the
# formula gives evbus_unavailable_after, clamped to 1..60 seconds; each
# case below is exact (30, 60 for 120s, 1 for 500ms).  What is queued when
# a worker exits without a spool is counted and logged as lost, and the
# metrics count the refused events, the 5xx and the lost ones.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(time);
use Evbus qw(free_port);
use EvbusFault;

my $t = Evbus->new('unavailable');

# a port nobody listens on
my $dead = '127.0.0.1:' . free_port();

$t->start_ok(
    brokers => $dead,
    properties => [['linger.ms', 5], ['queue.buffering.max.messages', 2],
        ['message.timeout.ms', 60000]],
    http => ['evbus_topic t-unavailable;', 'evbus_unavailable_after 30s;',
        'evbus_flush_timeout 1s;']);

my (@statuses, $first503, @odd);
for my $i (1 .. 6) {
    my $body = '[' . join(',', map { qq{{"event_type":"u","event_id":"u$i-$_"}} }
        1 .. 3) . ']';
    my ($st, $h, $j, $raw) = $t->post('/e', $body);
    push @statuses, $st;
    if ($st == 503) {
        $first503 //= [$h, $j, $raw];
    } elsif ($st == 202) {
        push @odd, "202 without accepted events: $raw"
            unless ref $j eq 'HASH' && ($j->{accepted} // 0) >= 1
            && ($j->{accepted} + $j->{rejected}) == 3
            && @{ $j->{event_ids} } == $j->{accepted};
    } else {
        push @odd, "status $st: $raw";
    }
}

note("statuses: @statuses");
ok(!@odd, 'only 202 and 503') or diag(join "\n", @odd);
ok($first503, 'a 503 once the producer queue is full');

{
    # without a 503 the checks below fail too
    my ($h, $j, $raw) = @{ $first503 || [{}, undef, ''] };
    is($h->{'retry-after'}, 30, '503: Retry-After is'
        . ' evbus_unavailable_after (30s) while nothing is delivered');
    is(ref $j eq 'HASH' ? $j->{accepted} : undef, 0, '503: accepted 0');
    is(ref $j eq 'HASH' ? $j->{rejected} : undef, 3,
        '503: the 3 events refused');
    is(ref $j eq 'HASH' ? $j->{error} : undef,
        'no event could be queued for Kafka, retry later',
        '503: the error says why') or diag($raw);
    is(ref $j eq 'HASH' ? scalar @{ $j->{errors} || [] } : undef, 3,
        '503: each event in errors');
    like($h->{'content-type'} // '', qr{^application/json}i,
        '503: application/json');
}

# a request rejected for its own events is still a 400, not a 503
my ($st, $h, $j) = $t->post('/e', '{"event_type":""}');
is($st, 400, 'invalid event while Kafka is down: 400');

my $t0 = time();
ok($t->stop(timeout => 30), 'nginx stopped with Kafka down');
cmp_ok(time() - $t0, '<', 30, 'stop was bounded');
$t->check_error_log;

# the clamps and the loss at exit, one worker each so that one queue is
# measured

sub one {
    my ($name, $after) = @_;
    my $n = Evbus->new("unavailable-$name");
    $n->start_ok(brokers => $dead, workers => 1,
        properties => [['linger.ms', 5],
            ['queue.buffering.max.messages', 2],
            ['message.timeout.ms', 60000]],
        http => ['evbus_topic t-unavailable;',
            "evbus_unavailable_after $after;", 'evbus_flush_timeout 1s;'],
        locations => "location = /e { evbus; }\n"
            . "location = /metrics { evbus_status; }");
    my @st;
    my $h503;
    for my $i (1 .. 3) {
        my ($s, $h) = $n->post('/e', qq{{"event_type":"u","event_id":"$i"}});
        push @st, $s;
        $h503 //= $h if $s == 503;
    }
    # with evbus_unavailable_after 500ms the second may be refused already
    like("@st", $after =~ /ms$/ ? qr/^202 (?:202 )?503/ : qr/^202 202 503$/,
        "$name: queued, then refused (@st)");
    return ($n, $h503 ? $h503->{'retry-after'} : undef);
}

my ($n60, $r60) = one('sixty', '120s');
is($r60, 60, 'Retry-After is clamped to exactly 60 (formula: 120)');

# the metrics: the refused event and the 5xx; the two queued events are
# lost when the worker exits at a reload (no spool), and the shared zone
# keeps the count
sub metrics {
    my ($n) = @_;
    return scalar $n->metrics;
}
my $m = metrics($n60);
is($m->{evbus_events_unqueued_total}, 1, 'metrics: one event unqueued');
is($m->{'evbus_responses_total{class="5xx"}'}, 1, 'metrics: one 5xx');
is($m->{'evbus_responses_total{class="2xx"}'}, 2, 'metrics: two 2xx');
# the gauges are refreshed once a second
my $deadline = time() + 5;
my @avail;
while (!@avail && time() < $deadline) {
    @avail = map { $m->{$_} } grep { /^evbus_kafka_available\{/ } keys %$m;
    last if @avail;
    select(undef, undef, undef, 0.2);
    $m = metrics($n60);
}
is("@avail", '0', 'metrics: one worker, Kafka unavailable');
is(join(' ', map { $m->{$_} } grep { /^evbus_kafka_queue_messages\{/ }
    keys %$m), '2', 'metrics: the two events in its queue');
ok($n60->reload, 'reload with two events queued and Kafka down');
$m = metrics($n60);
$deadline = time() + 10;
while (($m->{evbus_lost_total} // 0) < 2 && time() < $deadline) {
    select(undef, undef, undef, 0.2);
    $m = metrics($n60);
}
is($m->{evbus_lost_total}, 2, 'metrics: the two queued events are lost');
is($m->{'evbus_kafka_messages_total{result="failed"}'}, 2,
    'metrics: two failed deliveries');
my $lost = 'evbus: 2 events were not delivered within evbus_flush_timeout'
    . ' 1000 and are lost';
like($n60->error_log, qr/\[error\] .*\Q$lost\E/,
    'the loss at exit is logged with its count');
my $stats = EvbusFault::producer_stats($n60, 1);
is_deeply([@$stats{qw(produced delivered failed spooled lost)}],
    [2, 0, 2, 0, 2], 'producer stopped: 2 produced, 0 delivered, 2 failed,'
    . ' 2 lost');
ok($n60->stop(timeout => 30), 'sixty: stopped');
$n60->check_error_log('sixty: no alerts');

my ($n1, $r1) = one('one', '500ms');
is($r1, 1, 'Retry-After is at least exactly 1 (formula: 0.5)');
ok($n1->stop(timeout => 30), 'one: stopped');
$n1->check_error_log('one: no alerts');

done_testing();

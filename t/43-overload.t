#!/usr/bin/perl

# Event priorities under overload (evbus_priority, evbus_shed), with
# librdkafka's mock cluster (tools/mock-cluster) taken down so that the
# worker's queue fills:
#   - a volatile map on $evbus_event_type is evaluated per event: in one
#     request the low event is shed while the high one is admitted (202,
#     per-event error "shed: queue N% full, priority low");
#   - a map that is not volatile is evaluated once per request (nginx
#     caches it): documented, and shown here;
#   - low events are shed above 50% and every one after the first; high
#     ones are admitted until 90%, then a request of only shed events gets
#     503 with Retry-After; critical ones until the queue is truly full;
#   - shed events are not spooled; when the broker comes back, every
#     admitted event is in Kafka (end offsets and keys) and no shed one;
#   - metrics: evbus_events_total{outcome="shed"} per type and
#     evbus_events_shed_total per priority; $evbus_result is "shed".

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(sleep time);
use Evbus;
use EvbusFault qw(wait_for);

my $t0 = time();

my $t = Evbus->new('overload');
my $topic = $t->topic;
my ($bootstraps, $mock) = EvbusFault::mock_cluster($t, 1, $topic, 4);

sub mock { $mock->(@_) }

my $dir = $t->dir;
my $spool = "$dir/spool";
my $QMAX = 200;

$t->start_ok(brokers => $bootstraps, workers => 1,
    properties => [['linger.ms', 5], ['message.timeout.ms', 120000],
                   ['retry.backoff.ms', 50],
                   ['queue.buffering.max.messages', $QMAX]],
    http => ["evbus_topic $topic;", "evbus_spool $spool;",
             'evbus_unavailable_after 120s;',
             'evbus_stats_zone evbus_o 1m;',
             'log_format ev \'$status $evbus_result\';',
             'map $evbus_event_type $prio {',
             '    volatile;',
             '    purchase    high;',
             '    signup      critical;',
             '    impression  low;',
             '    default     normal;',
             '}',
             'map $evbus_event_type $prio_cached {',
             '    purchase    high;',
             '    impression  low;',
             '    default     normal;',
             '}'],
    locations => "location = /e { evbus; evbus_priority \$prio;"
        . " access_log $dir/ev.log ev; }\n"
        . "location = /cached { evbus; evbus_priority \$prio_cached; }\n"
        . "location = /metrics { evbus_status; }");

my ($st, $h, $j) = $t->post('/e', body(['purchase', 'warm-1']));
is($st, 202, 'warm-up event accepted');
my $got = EvbusFault::topic_keys($bootstraps, $topic, { 'warm-1' => 1 }, 20);
ok($got->{'warm-1'}, 'warm-up event in Kafka');

is(mock('down 1'), 'ok', 'mock broker down: the queue fills');

my (%admitted, %shed, %cached_shed, @lows, @highs, $first_low_shed, $first_high_shed,
    $partial, $all_shed, $bad);
my $n = 0;

# one low and one high event per request, until both are shed
for my $i (1 .. 150) {
    ($st, $h, $j) = $t->post('/e',
        body(['impression', "low-$i"], ['purchase', "high-$i"]));
    $n++;
    my %err = map { ($_->{index} => $_->{error}) }
        @{ ref $j eq 'HASH' && $j->{errors} || [] };
    for my $k (0, 1) {
        my $id = $k ? "high-$i" : "low-$i";
        my $e = $err{$k};
        if (!defined $e) {
            $admitted{$id} = 1;
        } elsif ($e =~ /^shed: queue (\d+)% full, priority (low|high)$/) {
            $shed{$id} = $1;
            $bad .= "$id shed as $2\n" if $2 ne ($k ? 'high' : 'low');
            $bad .= "$id shed at $1%\n" if $1 <= ($k ? 90 : 50);
        } else {
            $bad .= "$id: $e\n";
        }
    }
    push @lows, $admitted{"low-$i"} ? 1 : 0;
    push @highs, $admitted{"high-$i"} ? 1 : 0;
    $first_low_shed //= $i if $shed{"low-$i"};
    $first_high_shed //= $i if $shed{"high-$i"};

    if ($shed{"low-$i"} && $admitted{"high-$i"} && !$partial) {
        $partial = 1;
        is($st, 202, 'low shed, high admitted in one request: 202');
        is($j->{accepted}, 1, 'one event accepted');
        is($j->{errors}[0]{index}, 0, 'the per-event error is the low one');
        cached();
    }
    if ($shed{"low-$i"} && $shed{"high-$i"}) {
        $all_shed = 1;
        is($st, 503, 'every event of the request shed: 503');
        like($h->{'retry-after'} // '', qr/^\d+$/, 'with Retry-After');
        like($j->{error} // '', qr/shed/, 'the error says they were shed');
        last;
    }
}

ok(!$bad, 'every shed event says its fill and priority, above its'
    . ' threshold') or diag($bad);
ok($first_low_shed, "low events shed from request $first_low_shed");
ok($first_high_shed && $first_high_shed > $first_low_shed,
    'high events shed only later, from request '
    . ($first_high_shed // 'never'));
ok($all_shed, 'a request of only shed events was seen');
my $lows_after = grep { $_ } @lows[$first_low_shed - 1 .. $#lows];
is($lows_after, 0, 'no low event admitted after the first was shed');
my $nlow = grep { $_ } @lows;
my $nhigh = grep { $_ } @highs;
note("admitted: $nlow low, $nhigh high of $n each");
cmp_ok($nhigh, '>', $nlow + 0.3 * $QMAX,
    'high events kept being admitted long after low ones were shed');
cmp_ok($nlow + $nhigh, '>=', 0.85 * $QMAX,
    'the queue was filled to about 90% before high events were shed');

# critical: admitted while the queue takes them, then into the spool
my $crit = 0;
for my $i (1 .. 60) {
    ($st, $h, $j) = $t->post('/e', body(['signup', "crit-$i"]));
    last if $st != 202;
    $admitted{"crit-$i"} = 1;
    $crit++;
}
is($crit, 60, 'critical events are never shed: all 60 admitted');

my $m = metrics();
cmp_ok($m->{'evbus_events_total{event_type="impression",outcome="shed"}'}
    // 0, '>=', 1, 'metrics: shed impressions per type');
is($m->{'evbus_events_total{event_type="signup",outcome="shed"}'} // 0, 0,
    'metrics: no shed signup');
my $shed_low = $m->{'evbus_events_shed_total{priority="low"}'} // 0;
my $shed_high = $m->{'evbus_events_shed_total{priority="high"}'} // 0;
is($shed_low + $shed_high, scalar(keys %shed) + 2,
    'metrics: shed events per priority (with the /cached ones)');
is($m->{'evbus_events_shed_total{priority="critical"}'}, 0,
    'metrics: no critical event shed');
cmp_ok($m->{'evbus_spool_records_total{op="written"}'} // 0, '>', 0,
    'critical events spooled once the queue was full');

my $log = Evbus::_read("$dir/ev.log") // '';
like($log, qr/^503 shed$/m, '$evbus_result: shed for the 503');
like($log, qr/^202 shed$/m, '$evbus_result: shed for a partial 202');

# the broker comes back: every admitted event arrives, no shed one
is(mock('up 1'), 'ok', 'mock broker up');
my $want = { %admitted, 'warm-1' => 1 };
$got = EvbusFault::topic_keys($bootstraps, $topic, $want, 60);
my @missing = grep { !$got->{$_} } sort keys %$want;
is(scalar(@missing), 0, 'every admitted event is in Kafka')
    or diag("missing: @missing[0 .. ($#missing > 9 ? 9 : $#missing)]");
my @leaked = grep { $got->{$_} } sort keys %shed, keys %cached_shed;
is(scalar(@leaked), 0, 'no shed event is in Kafka (nor spooled)')
    or diag("@leaked");
is(end_offsets($bootstraps, $topic), scalar(keys %$want),
    'end offsets: exactly the admitted events, once each');

ok($t->stop, 'nginx stopped in time');
EvbusFault::check_error_log($t);

# bytes: a queue of few but large events is full by its bytes
my $t2 = Evbus->new('overload-bytes');
$t2->start_ok(brokers => $bootstraps, workers => 1,
    properties => [['linger.ms', 5], ['message.timeout.ms', 120000],
                   ['queue.buffering.max.messages', 100000],
                   ['queue.buffering.max.kbytes', 64]],
    http => ["evbus_topic $topic;", 'evbus_unavailable_after 120s;'],
    locations => "location = /e { evbus; evbus_priority low; }");

($st) = $t2->post('/e', body(['impression', 'bwarm-1']));
is($st, 202, 'bytes: warm-up event accepted');
$got = EvbusFault::topic_keys($bootstraps, $topic, { 'bwarm-1' => 1 }, 20);
ok($got->{'bwarm-1'}, 'bytes: warm-up event in Kafka');
is(mock('down 1'), 'ok', 'mock broker down again');

my $pad = 'x' x 1000;
my (%badmitted, $bshed, $berr);
for my $i (1 .. 100) {
    ($st, $h, $j) = $t2->post('/e',
        qq{[{"event_type":"impression","event_id":"big-$i","p":"$pad"}]});
    if ($st == 202) {
        $badmitted{"big-$i"} = 1;
        next;
    }
    ($bshed, $berr) = ($i, ref $j eq 'HASH' && $j->{errors}
        ? $j->{errors}[0]{error} : "$st");
    last;
}
# 64 KiB, events of about 1.3 KB: half of it is about 25 events
ok($bshed && $bshed > 15 && $bshed < 40,
    'bytes: low events shed at half of queue.buffering.max.kbytes, after '
    . ($bshed // 'none'));
like($berr // '', qr/^shed: queue 5\d% full, priority low$/,
    'bytes: the fill counts bytes (messages alone: under 1%)');

is(mock('up 1'), 'ok', 'mock broker up again');
$want = { %badmitted, 'bwarm-1' => 1 };
$got = EvbusFault::topic_keys($bootstraps, $topic, $want, 60);
@missing = grep { !$got->{$_} } sort keys %$want;
is(scalar(@missing), 0, 'bytes: every admitted event is in Kafka')
    or diag("missing: @missing");
ok(!$got->{"big-$bshed"}, 'bytes: the shed one is not') if $bshed;
ok($t2->stop, 'nginx stopped in time');
EvbusFault::check_error_log($t2);

note(sprintf 'run time %.0fs', time() - $t0);
done_testing();

# a map that is not volatile: nginx keeps the first event's result (at a
# fill between the low and the high thresholds)
sub cached {
    my ($st, $h, $j) = $t->post('/cached',
        body(['impression', 'cached-1'], ['purchase', 'cached-2']));
    is($st, 503, 'non-volatile map: the first event\'s priority (low)'
        . ' applies to the whole request');
    $cached_shed{$_} = 1 for qw(cached-1 cached-2);

    ($st, $h, $j) = $t->post('/cached',
        body(['purchase', 'cached-3'], ['impression', 'cached-4']));
    is($st, 202, 'non-volatile map: high first, both admitted');
    is(ref $j eq 'HASH' && $j->{accepted}, 2,
        '... both, though the second is an impression');
    $admitted{'cached-3'} = $admitted{'cached-4'} = 1;
}

sub body {
    return '[' . join(',', map {
        qq{{"event_type":"$_->[0]","event_id":"$_->[1]"}} } @_) . ']';
}

sub metrics { return scalar $t->metrics }

# sum of the end offsets of the topic's partitions, counted by kcat -Q
sub end_offsets {
    my ($b, $topic) = @_;
    my $args = join ' ', map { "-t $topic:$_:-1" } 0 .. 3;
    my $q = `timeout 15 kcat -b '$b' -Q $args 2>/dev/null`;
    my $sum = 0;
    $sum += $1 while $q =~ / offset (\d+)/g;
    return $sum;
}

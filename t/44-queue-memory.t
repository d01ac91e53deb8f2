#!/usr/bin/perl

# A worker's queue holds what queue.buffering.max.kbytes says in memory,
# not in payload bytes: each queued message is counted at what it really
# holds (src/ngx_evbus_footprint.h: librdkafka's message with its value and
# key, the header list and each header, glibc's chunks, the module's
# record), and the queue is full when that sum would pass the limit.
#
# Kafka unreachable (a closed port), one worker, evbus_unavailable_after
# long (the queue is what fills), queue.buffering.max.kbytes 256:
#   - the events accepted before the first refusal are the real-size
#     budget's (about a quarter of what librdkafka's value-only count lets
#     in: the test fails before the fix), and the refusal is 503 "Queue
#     full" with Retry-After;
#   - admission uses the same bytes: at 55% of the budget a low event
#     (shed above 50%) is shed, its error naming the real fill;
#   - a limit smaller than one message's footprint (1 KB) still lets an
#     empty queue take one, then refuses;
#   - with a spool, what the budget refuses is spooled: the queue holds the
#     same count, the spool the rest; after nginx stops (the queue is
#     spooled too) and starts again with the real broker, every accepted id
#     is in Kafka.
# The per-message figure comes from one message of the same shape produced
# to the real broker and read back (value, key, headers).

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(sleep time);
use Evbus qw(free_port);
use EvbusFault qw(wait_for);

my $KB = 256;
my $BUDGET = $KB * 1024;

my $probe = Evbus->new('qmem-probe')->need_kafka;
my $ns = Evbus->new('qmem-nospool');
my $sp = Evbus->new('qmem-spool');

my $topic = $probe->topic;
my $spool = $sp->dir . '/spool';
my $dead = '127.0.0.1:' . free_port();

# fixed-length ids and bodies: every message has the same size
my $pad = 'p' x 200;
sub body {
    my ($id, $type) = @_;
    return sprintf '{"event_type":"%s","event_id":"%s","pad":"%s"}',
        $type // 'mem', $id, $pad;
}
sub id { sprintf 'qmem-%s-%06d', @_ }

my @props = (['linger.ms', 5], ['message.timeout.ms', 600000],
    ['queue.buffering.max.kbytes', $KB]);
my @http = ("evbus_topic $topic;", 'evbus_unavailable_after 600s;',
    'evbus_flush_timeout 1s;');
my $locations = <<'EOF';
location = /e { evbus; }
location = /low { evbus; evbus_priority low; }
location = /metrics { evbus_status; }
EOF

# ---- what one message holds ---------------------------------------------

$probe->start_ok(workers => 1, properties => \@props, http => \@http,
    locations => $locations);
my ($st) = $probe->post('/e', body(id('probe', 0)));
is($st, 202, 'probe: an event of the same shape accepted');
my $msgs = $probe->kafka_read($topic, 1);
is(scalar @$msgs, 1, 'probe: it is in Kafka');
my $m = $msgs->[0] // { raw => '', key => '', header_list => [] };
ok($probe->stop, 'probe: nginx stopped');
$probe->check_error_log;

# glibc's chunk for a malloc(n) on x86-64
sub chunk { my $n = ($_[0] + 8 + 15) & ~15; $n < 32 ? 32 : $n }

my $vlen = length $m->{raw};
my $klen = length($m->{key} // '');
my @hl = @{ $m->{header_list} || [] };
my $fp = chunk(168 + $vlen + $klen) + chunk(48) + chunk(8 * 8) + 192;
while (@hl) {
    my ($n, $v) = splice @hl, 0, 2;
    $fp += chunk(40 + length($n) + 1 + length($v // '') + 1);
}
my $want = int($BUDGET / $fp);
my $value_only = int($BUDGET / $vlen);
note("value $vlen bytes, key $klen, 4 headers: $fp bytes per message;"
    . " $want fit in $KB KB ($value_only by value bytes)");

# ---- no spool: accepted until the real-size budget is full ----------------

$ns->start_ok(brokers => $dead, workers => 1, properties => \@props,
    http => \@http, locations => $locations);

my ($n, $first503, @odd, $shed);
my $at = int($want * 0.55) + 1;
for my $i (1 .. 3 * $want + 10) {
    if ($n && $n == $at && !$shed) {
        my (undef, undef, $j) = $ns->post('/low', body(id('low', $i), 'lo'));
        $shed = ref $j eq 'HASH' && ref $j->{errors} eq 'ARRAY'
            ? $j->{errors}[0]{error} // '' : '';
    }
    my ($s, $h, $j, $raw) = $ns->post('/e', body(id('ns', $i)));
    if ($s == 503) {
        $first503 = [$h, $raw];
        last;
    }
    push @odd, "status $s: $raw" unless $s == 202;
    $n++;
}
$n //= 0;

ok(!@odd, 'only 202 until the first 503') or diag(join "\n", @odd[0 .. 5]);
ok($first503, 'a 503 once the queue is full');
like($first503->[1] // '', qr/queue full/i, '503: the queue is full');
like($first503->[0]{'retry-after'} // '', qr/^\d+$/, '503: Retry-After');
cmp_ok(abs($n - $want), '<=', $want * 0.03,
    "$n events accepted, the real-size budget's $want");
cmp_ok($n, '<', $value_only / 2, "far fewer than the $value_only that the"
    . ' value bytes alone allow');

my ($fill) = ($shed // '') =~ /shed: queue (\d+)% full/;
ok(defined $fill, "at $at queued events a low event is shed ($shed)");
cmp_ok(abs(($fill // 0) - 100 * $at * $fp / $BUDGET), '<=', 2,
    'the fill it names is the real bytes\' (' . ($fill // '-') . '%)');

ok(wait_for(sub { ($ns->http('GET', '/metrics'))[3]
        =~ /^evbus_kafka_queue_messages\{worker="0"\} (\d+)$/m
        && $1 == $n }, 5),
    "evbus_kafka_queue_messages is $n");

ok($ns->stop, 'nospool: nginx stopped');
EvbusFault::check_error_log($ns);

# ---- a limit smaller than one message: an empty queue still takes one ----

my $tiny = Evbus->new('qmem-tiny');
$tiny->start_ok(brokers => $dead, workers => 1,
    properties => [['linger.ms', 5], ['message.timeout.ms', 600000],
        ['queue.buffering.max.kbytes', 1]],
    http => \@http, locations => $locations);
my ($s1) = $tiny->post('/e', body(id('tiny', 1)));
my ($s2, undef, undef, $r2) = $tiny->post('/e', body(id('tiny', 2)));
is($s1, 202, "1 KB limit: the first event ($fp bytes) is taken by an empty"
    . ' queue');
is($s2, 503, '1 KB limit: the second is refused');
like($r2, qr/queue full/i, '1 KB limit: the queue is full');
ok($tiny->stop, 'tiny: nginx stopped');
EvbusFault::check_error_log($tiny);

# ---- spool: the budget's overflow goes to the spool, then to Kafka ---------

$sp->start_ok(brokers => $dead, workers => 1, properties => \@props,
    http => [@http, "evbus_spool $spool max_size=16m;"],
    locations => $locations);

my $over = 40;
my %acc;
@odd = ();
for my $i (1 .. $n + $over) {
    my ($s, undef, $j, $raw) = $sp->post('/e', body(id('sp', $i)));
    if ($s == 202 && ref $j eq 'HASH' && ($j->{accepted} // 0) == 1) {
        $acc{ id('sp', $i) } = 1;
    } else {
        push @odd, "status $s: $raw";
    }
}
ok(!@odd, 'spool: every event accepted') or diag(join "\n", @odd[0 .. 5]);

my (%g, $mt);
ok(wait_for(sub {
        $mt = ($sp->http('GET', '/metrics'))[3];
        ($g{queued}) = $mt
            =~ /^evbus_kafka_queue_messages\{worker="0"\} (\d+)$/m;
        ($g{spooled}) = $mt
            =~ /^evbus_spool_records_total\{op="written"\} (\d+)$/m;
        $g{$_} //= -1 for qw(queued spooled);
        $g{queued} == $n && $g{spooled} == $over }, 10),
    "spool: the queue holds $n, as without a spool, the spool the other"
    . " $over (queued $g{queued}, spooled $g{spooled})")
    or diag(join "\n", grep { /queue|spool/ } split /\n/, $mt);

# at quit the queue goes to the spool; the real broker gets it all
ok($sp->stop, 'spool: nginx stopped with Kafka down');
unlike($sp->error_log, qr/are lost/, 'spool: nothing lost at exit');

$sp->start_ok(workers => 1, properties => \@props,
    http => [@http, "evbus_spool $spool max_size=16m;"],
    locations => $locations);
my $got = EvbusFault::topic_keys(Evbus::brokers(), $topic, \%acc, 60);
my @missing = sort grep { !$got->{$_} } keys %acc;
ok(!@missing, 'spool: all ' . keys(%acc) . ' accepted ids are in Kafka after'
    . ' the replay') or diag(scalar(@missing) . ' missing, e.g. '
    . join(' ', @missing[0 .. ($#missing > 5 ? 5 : $#missing)]));
my @stray = grep { /^qmem-(?:ns|low)-/ } keys %$got;
ok(!@stray, 'nothing of the no-spool instance reached Kafka');

ok($sp->stop, 'spool: nginx stopped');
EvbusFault::check_error_log($sp);

done_testing();

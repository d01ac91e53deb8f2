#!/usr/bin/perl

# A spooled event reaches Kafka as a live one does (spool record "EVB3"):
#   - events posted with traceparent/tracestate while the brokers are
#     unreachable go to the spool: the first ones through librdkafka's queue
#     (spooled when nginx stops), the later ones at once (Kafka unavailable);
#     nginx is started again with the live broker and replays them: each
#     message has the key, body and headers it was posted with, traceparent
#     and tracestate included, and none when the request had none;
#   - the spool files it wrote are EVB3;
#   - upgrade: a file of "EVB2" records, as the previous version wrote them,
#     is still replayed (key, body, headers; no trace headers);
#   - a replayed event whose delivery fails for good (MESSAGE_TOO_LARGE: a
#     2.5 MB event, more than the broker takes, less than the producer's
#     message.max.bytes) goes to the dead-letter topic of the location it was
#     posted to, with its trace headers, as a live one would.  Before EVB3 the
#     spool kept neither: the headers were missing and the event was lost.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(sleep time);
use Evbus qw(free_port);
use EvbusFault qw(wait_for);

eval { require Compress::Zlib; 1 }
    or Evbus::missing('Compress::Zlib is missing');

my $t = Evbus->new('spool-trace')->need_kafka;
my $topic = $t->topic;
my $big_topic = $t->topic('big');
my $dlq = $t->topic('dlq');
my $spool = $t->dir . '/spool';
mkdir $spool;
my $dead = '127.0.0.1:' . free_port();

sub conf {
    my (%o) = @_;
    return (workers => 1, brokers => $o{brokers},
        properties => [['linger.ms', 5], ['message.timeout.ms', 60000],
                       ['message.max.bytes', 6000000]],
        http => ["evbus_topic $topic;", 'evbus_unavailable_after 1s;',
                 'evbus_flush_timeout 1s;', "evbus_spool $spool;",
                 'client_max_body_size 8m;'],
        locations => "location = /e { evbus; evbus_dead_letter_topic $dlq; }\n"
            . "location = /big { evbus; evbus_topic $big_topic;"
            . " evbus_max_event_size 4m; evbus_dead_letter_topic $dlq; }\n"
            . "location = /metrics { evbus_status; }");
}

sub metric { return $t->metric(@_) }

# a traceparent of its own per request
sub tp { sprintf '00-%032x-%016x-01', 0x4bf92f35 + $_[0], 0xf067aa0b + $_[0] }

my %want;    # event_id => [traceparent, tracestate] or [] (none)

sub post {
    my ($path, $n, $trace, @ids) = @_;
    my %h = $trace ? (traceparent => tp($n), tracestate => "rojo=$n,congo=t$n")
        : ();
    my $body = '[' . join(',', map { qq{{"event_type":"tr","event_id":"$_"}} }
        @ids) . ']';
    my ($st) = $t->post($path, $body, headers => \%h);
    is($st, 202, "request $n accepted with Kafka down ("
        . ($trace ? 'traced' : 'no trace headers') . ')');
    $want{$_} = $trace ? [tp($n), "rojo=$n,congo=t$n"] : [] for @ids;
}

# ---- Kafka unreachable -------------------------------------------------

$t->start_ok(conf(brokers => $dead));

# queued in librdkafka (Kafka not yet unavailable), spooled at exit
post('/e', $_, 1, "q-$_-1", "q-$_-2") for 1 .. 3;
post('/e', 4, 0, 'q-4-1');
is(metric('evbus_spool_records_total{op="written"}'), 0,
    'the first requests are queued, not spooled');

# unavailable after 1 s: spooled at once
sleep 1.5;
post('/e', $_, 1, "s-$_-1", "s-$_-2") for 5 .. 7;
post('/e', 8, 0, 's-8-1');
cmp_ok(metric('evbus_spool_records_total{op="written"}'), '>=', 7,
    'the later ones are spooled at once');

# a 2.5 MB event, incompressible: too large for the broker
my $pad = encode_base64(join('', map { chr(int(rand(256))) } 1 .. 1900000),
    '');
my $big_tp = tp(99);
my ($st) = $t->post('/big',
    qq{{"event_type":"tr","event_id":"big-1","pad":"$pad"}},
    headers => { traceparent => $big_tp, tracestate => 'rojo=99' });
is($st, 202, 'a 2.5 MB traced event accepted into the spool');

ok($t->stop, 'nginx stopped with Kafka down');
like($t->error_log, qr/bytes left in the spool/,
    'the worker said what it left in the spool');

my @files = grep { -s } glob "$spool/*.spool";
cmp_ok(scalar @files, '>', 0, 'spool files written');
my @magic = map {
    open my $fh, '<', $_ or die "$_: $!";
    read $fh, my $m, 4;
    $m;
} @files;
is_deeply([grep { $_ ne 'EVB3' } @magic], [], 'every spool file starts with'
    . ' an "EVB3" record');

# ---- a spool left by the previous version ---------------------------

my $now = int(time() * 1000);
my @v2 = map { "v2-$_" } 1 .. 3;
Evbus::write_file("$spool/evbus-999961-1-0.spool",
    join '', map { Evbus::spool_record($topic, $_, $now, format => 2) } @v2);

# ---- the live broker: replay ---------------------------------------------

$t->start_ok(conf(brokers => Evbus::brokers()));

my $n = keys(%want) + @v2;
my $msgs = $t->kafka_read($topic, $n, 60);
is(scalar @$msgs, $n, "$n messages replayed to the topic");

my %by;
push @{ $by{ $_->{key} // '' } }, $_ for @$msgs;

my (@bad, @twice);
for my $id (sort keys %want) {
    my $m = $by{$id} or do { push @bad, "$id missing"; next };
    push @twice, $id if @$m > 1;
    my $h = $m->[0]{headers};
    my ($tp, $ts) = @{ $want{$id} };
    push @bad, "$id: body " . ($m->[0]{raw} // 'none')
        unless ref $m->[0]{value} eq 'HASH'
            && ($m->[0]{value}{event_id} // '') eq $id;
    push @bad, "$id: event_type header " . ($h->{event_type} // 'none')
        unless ($h->{event_type} // '') eq 'tr';
    push @bad, "$id: traceparent " . ($h->{traceparent} // 'none')
        unless ($h->{traceparent} // '') eq ($tp // '')
            && (defined $tp || !exists $h->{traceparent});
    push @bad, "$id: tracestate " . ($h->{tracestate} // 'none')
        unless ($h->{tracestate} // '') eq ($ts // '')
            && (defined $ts || !exists $h->{tracestate});
}
ok(!@bad, 'every replayed event has its key, body, event_type and the'
    . ' traceparent and tracestate it was posted with (none without)')
    or diag(join "\n", @bad[0 .. ($#bad > 15 ? 15 : $#bad)]);
ok(!@twice, 'each once') or diag("@twice");

my $tp1 = $by{'q-1-1'} && $by{'q-1-1'}[0]{headers}{traceparent};
is($tp1, tp(1), 'traceparent of an event spooled at exit');
is($by{'s-5-2'} && $by{'s-5-2'}[0]{headers}{tracestate}, 'rojo=5,congo=t5',
    'tracestate of an event spooled at once');

@bad = ();
for my $id (@v2) {
    my $m = $by{$id} or do { push @bad, "$id missing"; next };
    my $h = $m->[0]{headers};
    push @bad, "$id: " . Evbus::json_encode($h) . ' ' . ($m->[0]{raw} // '')
        unless ref $m->[0]{value} eq 'HASH'
            && ($m->[0]{value}{event_id} // '') eq $id
            && ($h->{event_type} // '') eq 'fake'
            && ($h->{event_version} // '') eq '1'
            && ($h->{source_service} // '') eq 'test'
            && !exists $h->{traceparent} && !exists $h->{tracestate};
}
ok(!@bad, 'EVB2 records of an earlier version are replayed: key, body,'
    . ' headers, no trace headers') or diag(join "\n", @bad);

# the 2.5 MB event: refused by the broker, to the dead-letter topic

my $dl = $t->kafka_read($dlq, 1, 60);
is(scalar @$dl, 1, 'one dead letter');
my $d = $dl->[0] // {};
is($d->{key}, 'big-1', 'the replayed event that failed for good is a dead'
    . ' letter, keyed by its event_id');
is($d->{headers}{error_kind}, 'delivery', 'error_kind header "delivery"');
is($d->{headers}{traceparent}, $big_tp, 'with the event\'s traceparent');
is($d->{headers}{tracestate}, 'rojo=99', 'and tracestate');
my $dv = ref $d->{value} eq 'HASH' ? $d->{value} : {};
is($dv->{error}{kind}, 'delivery', 'dead letter: kind "delivery"');
is($dv->{error}{message}, 'Broker: Message size too large',
    'dead letter: the broker\'s error');
ok($dv->{raw_truncated}, 'dead letter: raw truncated');
like($dv->{raw} // '', qr/^\{"event_type":"tr","event_id":"big-1"/,
    'dead letter: raw is the event');
is(scalar @{ $t->kafka_read($big_topic, 0, 0) }, 0,
    'the event itself is not in its topic');
my $sent = qr/delivery to "\Q$big_topic\E" failed: Broker: Message size/;
like($t->error_log,
    qr/$sent too large, a permanent error, sent to the dead-letter topic/,
    'logged as sent to the dead-letter topic');

ok(wait_for(sub { !(my @f = glob "$spool/*.spool") }, 20),
    'the replayed files are removed') or diag(`ls -l $spool`);

$t->done;

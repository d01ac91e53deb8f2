#!/usr/bin/perl

# Fault 6: the producer queue is full (queue.buffering.max.messages 1000
# per worker, broker frozen with SIGSTOP, evbus_unavailable_after long so
# the queue is what fills up).
#   - "nospool": events that do not fit are not accepted: a partial 202
#     names them in "errors", a request of which nothing fits gets 503 with
#     Retry-After (1..60 s); after the broker resumes and the queue drains,
#     every accepted id is in Kafka and new events are accepted again.
#   - "spool" (max_size=256k): the spool takes what the queue cannot, until
#     it is full: then 503; every accepted id arrives after the drain.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(sleep time);
use Evbus;
use EvbusFault qw(wait_for);

my $t0 = time();

my $k = EvbusFault->broker('qfull')
    or Evbus::missing('cannot run a private Kafka broker (java, kcat, jars)');

my $ns = Evbus->new('qfull-nospool');
my $sp = Evbus->new('qfull-spool');

$k->start or BAIL_OUT('private broker did not start: ' . $k->log_tail);

my $topic = $ns->topic;
my $spool = $sp->dir . '/spool';

my @props = (['linger.ms', 5], ['message.timeout.ms', 60000],
    ['queue.buffering.max.messages', 1000]);
my @http = ("evbus_topic $topic;", 'evbus_unavailable_after 60s;');

$ns->start_ok(brokers => $k->brokers, properties => \@props, http => \@http);
$sp->start_ok(brokers => $k->brokers, properties => \@props,
    http => [@http, "evbus_spool $spool max_size=256k;"]);

for my $t ($ns, $sp) {
    my ($st) = $t->post('/e', '{"event_type":"warm"}');
    is($st, 202, "$t->{name}: first event accepted");
}
EvbusFault::topic_keys($k->brokers, $topic, {}, 1);

ok($k->signal('STOP'), 'broker frozen');

my %r;
for my $t ($ns, $sp) {
    my (@lines, $n503);
    for my $i (1 .. 100) {
        my @ids = map { "$t->{name}-$i-$_" } 1 .. 150;
        my $body = join "\n",
            map { qq{{"event_type":"q","event_id":"$_"}} } @ids;
        my ($st, $h, $j, $raw) = $t->post('/e', $body,
            content_type => 'application/x-ndjson');
        my $errs = ref $j eq 'HASH' ? $j->{errors} || [] : [];
        push @lines, {
            path => '/e', status => $st, retry => $h->{'retry-after'} // '',
            sent => join(',', @ids),
            acc => $st =~ /^2/ && ref $j eq 'HASH'
                ? join(',', @{ $j->{event_ids} || [] }) : '',
            results => '',
            note => (ref $j eq 'HASH' ? $j->{error} // '' : $raw)
                . (@$errs ? " errors: $errs->[0]{error}" : ''),
            count => ref $j eq 'HASH' ? $j->{accepted} // '-' : '-',
        };
        $n503++ if $st == 503;
        last if ($n503 // 0) >= 6;
    }
    $r{ $t->{name} } = EvbusFault::Ledger->new(@lines);
}

my $ln = $r{'qfull-nospool'};
my $ls = $r{'qfull-spool'};
note('nospool: ' . $ln->summary);
note('spool: ' . $ls->summary);

for my $l ($ln, $ls) {
    my @odd = $l->odd(202, 503);
    ok(!@odd, 'only 202, and 503 with a Retry-After of 1..60 s')
        or diag(join "\n", @odd[0 .. ($#odd > 10 ? 10 : $#odd)]);
}

my @n503 = grep { $_->{status} == 503 } $ln->lines;
cmp_ok(scalar @n503, '>=', 6, 'nospool: 503 once the queue is full');
like($n503[0]{note} // '', qr/could not be queued/, 'nospool: 503 says why');
like($n503[0]{note} // '', qr/queue full/i, 'nospool: the reason is a full queue');
my @partial = grep { $_->{status} == 202 && $_->{note} =~ /queue full/i }
    $ln->lines;
cmp_ok(scalar @partial, '>', 0,
    'nospool: partial 202s name the events that did not fit');
my $nacc = keys %{ $ln->accepted };
cmp_ok($nacc, '>=', 900, "nospool: $nacc events accepted before the queue"
    . ' was full (1000 per worker)');
cmp_ok($nacc, '<=', 2000, 'nospool: no more than the two workers\' queues');

my @s503 = grep { $_->{status} == 503 } $ls->lines;
cmp_ok(scalar @s503, '>=', 1, 'spool: 503 once queue and spool are full');
like($s503[0]{note} // '', qr/spool is full/, 'spool: 503 says the spool is full');
my $sacc = keys %{ $ls->accepted };
cmp_ok($sacc, '>', $nacc, "spool: $sacc events accepted, more than the"
    . ' queues hold');

ok($k->signal('CONT'), 'broker resumed');

my $got = EvbusFault::check_delivered($k->brokers, $topic, $ln, 60,
    'nospool: every accepted id is in Kafka after the drain');
EvbusFault::check_delivered($k->brokers, $topic, $ls, 60,
    'spool: every accepted id is in Kafka after the drain');
my @leaked = grep { $got->{$_} } keys %{ $ln->refused };
ok(!@leaked, 'nospool: no id of a 503 request reached Kafka');

my ($st) = $ns->post('/e', '{"event_type":"after"}');
is($st, 202, 'nospool: accepted again after the drain');

ok(wait_for(sub { !grep { -s } glob "$spool/*.spool" }, 20),
    'spool: replayed spool files are removed');

ok($ns->stop, 'nospool: nginx stopped in time');
ok($sp->stop, 'spool: nginx stopped in time');
EvbusFault::check_error_log($ns);
EvbusFault::check_error_log($sp);

note(sprintf 'run time %.0fs', time() - $t0);
done_testing();

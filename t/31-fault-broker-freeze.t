#!/usr/bin/perl

# Fault 2: the broker is frozen with SIGSTOP for longer than
# message.timeout.ms, under load, then resumed with SIGCONT.
#   - "spool" nginx, /e queued and /k with evbus_ack kafka: every id
#     answered 2xx is in Kafka (timed-out queued events go to the spool and
#     are replayed); a 200 names the partition and offset the event really
#     has; events that timed out under /k are reported as failed, never 200.
#   - "nospool" nginx, queued: an accepted event that timed out in the
#     queue is lost, but never silently: the ids missing from Kafka are at
#     most the failures the workers counted, and "lost" is logged.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(sleep time);
use Evbus;
use EvbusFault qw(wait_for);

my $t0 = time();

my $k = EvbusFault->broker('freeze')
    or Evbus::missing('cannot run a private Kafka broker (java, kcat, jars)');

my $sp = Evbus->new('freeze-spool');
my $ns = Evbus->new('freeze-nospool');

$k->start or BAIL_OUT('private broker did not start: ' . $k->log_tail);

my $topic = $sp->topic;
my $spool = $sp->dir . '/spool';

my @props = (['linger.ms', 5], ['message.timeout.ms', 5000]);
my @http = ("evbus_topic $topic;", 'evbus_unavailable_after 2s;');

$sp->start_ok(brokers => $k->brokers, properties => \@props,
    http => [@http, "evbus_spool $spool max_size=64m;"],
    locations => "location = /e { evbus; }\n"
        . "location = /k { evbus; evbus_ack kafka; evbus_ack_timeout 20s; }");
$ns->start_ok(brokers => $k->brokers, properties => \@props, http => \@http);

for my $t ($sp, $ns) {
    my ($st) = $t->post('/e', '{"event_type":"warm"}');
    is($st, 202, "$t->{name}: first event accepted");
}

my %load = (batch => 5, pause => 0.01, seconds => 120);
my $lsp = EvbusFault::load(%load, clients => 3, prefix => 's',
    dir => $sp->dir,
    targets => [[$sp->port, '/e'], [$sp->port, '/k']]);
my $lns = EvbusFault::load(%load, clients => 1, prefix => 'n',
    dir => $ns->dir, port => $ns->port);

sleep 2;
ok($k->signal('STOP'), 'broker frozen with SIGSTOP under load');
sleep 8;
ok($k->signal('CONT'), 'broker resumed with SIGCONT after 8s');
sleep 4;

my $ls = $lsp->finish;
my $ln = $lns->finish;

note('spool: ' . $ls->summary);
note('nospool: ' . $ln->summary);

my @odd = $ls->odd(200, 202, 503);
ok(!@odd, 'spool: only 200, 202, or 503 with Retry-After')
    or diag(join "\n", @odd[0 .. ($#odd > 10 ? 10 : $#odd)]);
@odd = $ln->odd(202, 503);
ok(!@odd, 'nospool: only 202, or 503 with Retry-After')
    or diag(join "\n", @odd[0 .. ($#odd > 10 ? 10 : $#odd)]);

my @failed = grep { $_->{path} eq '/k' && $_->{note} =~ /delivery failed/ }
    $ls->lines;
cmp_ok(scalar @failed, '>', 0,
    'spool: /k events that timed out in the frozen broker are reported'
    . ' "delivery failed"');

# Kafka needs a moment after a freeze; the spool is replayed meanwhile
my $got = EvbusFault::check_delivered($k->brokers, $topic, $ls, 90,
    'spool: every id answered 2xx is in Kafka');

my $res = $ls->results;
my %at;
$at{"$_->[0]:$_->[1]"} = $_->[2]
    for @{ EvbusFault::topic_messages($k->brokers, $topic) };
my @wrong = grep { ($at{"$res->{$_}[0]:$res->{$_}[1]"} // '') ne $_ }
    keys %$res;
cmp_ok(scalar keys %$res, '>', 0, '/k: some events answered 200');
ok(!@wrong, '/k: every 200 names the partition and offset of its event')
    or diag(scalar(@wrong) . " wrong, e.g. $wrong[0] at @{ $res->{$wrong[0]} }");

ok(wait_for(sub { !grep { -s } glob "$spool/*.spool" }, 30),
    'spool: replayed spool files are removed')
    or diag(`ls -l $spool`);

# the same nginx works normally after the freeze
my ($st, $h, $j) = $sp->post('/k', '{"event_type":"after","event_id":"a-1"}');
is($st, 200, 'spool: /k answers 200 after the freeze');
($st) = $ns->post('/e', '{"event_type":"after","event_id":"a-2"}');
is($st, 202, 'nospool: 202 after the freeze');

ok($sp->stop, 'spool: nginx stopped in time');
ok($ns->stop, 'nospool: nginx stopped in time');

# nospool: whatever was lost was counted and logged
my $acc = $ln->accepted;
$got = EvbusFault::topic_keys($k->brokers, $topic, { 'a-2' => 1 }, 20);
my $lost = grep { !$got->{$_} } keys %$acc;
my $stats = EvbusFault::producer_stats($ns, 2);
note("nospool: $lost accepted ids not in Kafka; workers counted"
    . " $stats->{failed} failed deliveries, $stats->{delivered} delivered");
cmp_ok($lost, '<=', $stats->{failed},
    'nospool: ids missing from Kafka are at most the failures counted');
# events queued before evbus_unavailable_after (2s) time out after
# message.timeout.ms (5s) in a broker frozen for 8s: some are always lost
cmp_ok($stats->{failed}, '>', 0, 'nospool: the frozen broker failed some'
    . ' deliveries');
is($stats->{lost}, $stats->{failed}, 'nospool: without a spool every failed'
    . ' delivery is counted lost');
like($ns->error_log, qr/delivery to "\Q$topic\E" failed: .*lost/,
    'nospool: lost events were logged as lost');

EvbusFault::check_error_log($sp);
EvbusFault::check_error_log($ns);

note(sprintf 'run time %.0fs', time() - $t0);
done_testing();

#!/usr/bin/perl

# Fault 1: the broker is killed with SIGKILL under load, then restarted.
# Two nginx instances post to one private broker at the same time:
#   - "spool": evbus_spool configured: every id answered 2xx is in Kafka;
#   - "nospool": what could not be queued got a 503 with Retry-After, never
#     a 2xx, and (message.timeout.ms outlasting the outage) every id
#     answered 202 is in Kafka too.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(sleep time);
use Evbus;
use EvbusFault qw(wait_for);

my $t0 = time();

my $k = EvbusFault->broker('kill')
    or Evbus::missing('cannot run a private Kafka broker (java, kcat, jars)');

my $sp = Evbus->new('kill-spool');
my $ns = Evbus->new('kill-nospool');

$k->start or BAIL_OUT('private broker did not start: ' . $k->log_tail);

my $topic = $sp->topic;
my $spool = $sp->dir . '/spool';

my @props = (['linger.ms', 5], ['message.timeout.ms', 90000]);

$sp->start_ok(brokers => $k->brokers, properties => \@props,
    http => ["evbus_topic $topic;", 'evbus_unavailable_after 2s;',
             "evbus_spool $spool max_size=64m fsync=batch;"]);
$ns->start_ok(brokers => $k->brokers, properties => \@props,
    http => ["evbus_topic $topic;", 'evbus_unavailable_after 2s;']);

# warm up: topic created, metadata known
my ($st) = $sp->post('/e', '{"event_type":"warm","event_id":"warm-1"}');
is($st, 202, 'first event accepted');
ok(EvbusFault::topic_keys($k->brokers, $topic, { 'warm-1' => 1 },
    20)->{'warm-1'}, 'first event in Kafka');

my %load = (clients => 2, batch => 5, pause => 0.01, seconds => 120);
my $lsp = EvbusFault::load(%load, port => $sp->port, prefix => 's',
    dir => $sp->dir);
my $lns = EvbusFault::load(%load, port => $ns->port, prefix => 'n',
    dir => $ns->dir);

sleep 2;
my $before = $lsp->count + $lns->count;
ok($k->kill9, 'broker killed with SIGKILL under load');

# longer than evbus_unavailable_after, then the broker comes back (its
# restart after a SIGKILL takes a while: the load goes on meanwhile)
sleep 5;
my $spooled = 0;
$spooled += -s $_ for glob "$spool/*.spool";
ok($k->start, 'broker restarted');
sleep 3;

my $ls = $lsp->finish;
my $ln = $lns->finish;

note('spool: ' . $ls->summary);
note('nospool: ' . $ln->summary);

cmp_ok($before, '>', 20, 'load ran before the kill');

my @odd = $ls->odd(202, 503);
ok(!@odd, 'spool: only 202, or 503 with Retry-After')
    or diag(join "\n", @odd[0 .. ($#odd > 10 ? 10 : $#odd)]);
@odd = $ln->odd(202, 503);
ok(!@odd, 'nospool: only 202, or 503 with Retry-After')
    or diag(join "\n", @odd[0 .. ($#odd > 10 ? 10 : $#odd)]);

cmp_ok($ln->count(503), '>', 0,
    'nospool: requests refused with 503 while Kafka was down');
is($ls->count(503), 0, 'spool: no 503, the spool took what Kafka could not');

cmp_ok($spooled, '>', 0, 'spool: events were spooled while Kafka was down');

my $got = EvbusFault::check_delivered($k->brokers, $topic, $ls, 90,
    'spool: every id answered 202 is in Kafka');
EvbusFault::check_delivered($k->brokers, $topic, $ln, 30,
    'nospool: every id answered 202 is in Kafka');

my @leaked = grep { $got->{$_} } keys %{ $ln->refused };
ok(!@leaked, 'nospool: no id of a 503 request reached Kafka')
    or diag("@leaked[0 .. ($#leaked > 5 ? 5 : $#leaked)]");

ok(wait_for(sub { !grep { -s } glob "$spool/*.spool" }, 20),
    'spool: replayed spool files are removed')
    or diag(`ls -l $spool`);

ok($sp->stop, 'spool: nginx stopped in time');
ok($ns->stop, 'nospool: nginx stopped in time');

EvbusFault::check_error_log($sp);
EvbusFault::check_error_log($ns);

note(sprintf 'run time %.0fs', time() - $t0);
done_testing();

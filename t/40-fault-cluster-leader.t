#!/usr/bin/perl

# Fault 8: a three-node Kafka cluster (replication 3, min.insync.replicas
# 2, acks all); the leader of a partition is killed with SIGKILL under
# load on /e (queued, no spool) and /k (evbus_ack kafka), later restarted:
# nothing answered 2xx is lost, and a 200 names the partition and offset
# its event keeps after the leader change.
#
# Slow (three JVMs): it runs with `make test-cluster`
# (scripts/test-cluster.sh), not in `make test`.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(sleep time);
use Evbus;
use EvbusFault qw(wait_for);

# on Evbus's list of files that may skip under make test
Evbus::missing('three-broker cluster test: run make test-cluster')
    unless $ENV{EVBUS_TEST_CLUSTER};

my $t0 = time();

my $c = EvbusFault->cluster('leader')
    or Evbus::missing('cannot run a private Kafka cluster (java, kcat)');

my $t = Evbus->new('cluster-leader');

$c->cluster_start or BAIL_OUT('cluster did not start');

my $topic = $t->topic;
my $brokers = $c->cluster_brokers;

$t->start_ok(brokers => $brokers,
    properties => [['linger.ms', 5], ['acks', 'all'],
                   ['message.timeout.ms', 60000]],
    http => ["evbus_topic $topic;", 'evbus_unavailable_after 20s;'],
    locations => "location = /e { evbus; }\n"
        . "location = /k { evbus; evbus_ack kafka; evbus_ack_timeout 30s; }");

my ($st) = $t->post('/k', '{"event_type":"warm","event_id":"warm-1"}');
is($st, 200, 'first event delivered (topic created)');

my $parts = $c->cluster_partitions($topic);
is(scalar keys %$parts, 4, 'four partitions');
my @rf = grep { @{ $parts->{$_}{replicas} } == 3 && @{ $parts->{$_}{isrs} } == 3 }
    keys %$parts;
is(scalar @rf, 4, 'each with three replicas, all in sync');

my $load = EvbusFault::load(clients => 3, batch => 5, pause => 0.005,
    seconds => 180, prefix => 'c', dir => $t->dir,
    targets => [[$t->port, '/e'], [$t->port, '/k']]);

sleep 3;
my $leader = $parts->{0}{leader};
ok($c->cluster_kill($leader), "leader of partition 0 (node $leader) killed");

my $moved = wait_for(sub {
    my $p = $c->cluster_partitions($topic);
    my $l = $p->{0} && $p->{0}{leader};
    defined $l && $l != $leader && $l >= 0 ? $l : 0;
}, 30, 0.5);
ok($moved, "partition 0 has a new leader ($moved)");

sleep 8;
ok($c->cluster_start($leader), "node $leader restarted");
sleep 3;

my $l = $load->finish(60);
note($l->summary);

my @odd = $l->odd(200, 202);
ok(!@odd, 'only 200 and 202 while a leader changed')
    or diag(join "\n", @odd[0 .. ($#odd > 10 ? 10 : $#odd)]);
cmp_ok($l->count(200), '>', 20, '/k: requests answered 200');
cmp_ok($l->count(202), '>', 20, '/e: requests answered 202');

EvbusFault::check_delivered($brokers, $topic, $l, 60);

my $res = $l->results;
my %at;
$at{"$_->[0]:$_->[1]"} = $_->[2]
    for @{ EvbusFault::topic_messages($brokers, $topic, 60) };
my @wrong = grep { ($at{"$res->{$_}[0]:$res->{$_}[1]"} // '') ne $_ }
    keys %$res;
ok(!@wrong, '/k: every 200 names the partition and offset of its event')
    or diag(scalar(@wrong) . " wrong, e.g. $wrong[0] at @{ $res->{$wrong[0]} }");

ok($t->stop, 'nginx stopped in time');
my $stats = EvbusFault::producer_stats($t, 1);
note("producer: $stats->{produced} produced, $stats->{delivered} delivered,"
    . " $stats->{failed} failed");
is($stats->{failed}, 0, 'no delivery failed');
is($stats->{lost}, 0, 'no event lost');
EvbusFault::check_error_log($t);

note(sprintf 'run time %.0fs', time() - $t0);
done_testing();

#!/usr/bin/perl

# Fault 4: nginx workers killed with SIGKILL under load on a location with
# evbus_ack kafka (linger.ms 300, so responses are held when the kill
# comes): clients of a killed worker get no answer, never a 200 for an
# event that is not in Kafka; every 200 names the partition and offset
# the event really has; the master replaces the workers and they serve.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(sleep time);
use Evbus;
use EvbusFault qw(wait_for);

my $t0 = time();

my $k = EvbusFault->broker('wkill')
    or Evbus::missing('cannot run a private Kafka broker (java, kcat, jars)');

my $t = Evbus->new('wkill');

$k->start or BAIL_OUT('private broker did not start: ' . $k->log_tail);

my $topic = $t->topic;

$t->start_ok(brokers => $k->brokers, properties => [['linger.ms', 300]],
    http => ["evbus_topic $topic;"],
    locations => "location = /k { evbus; evbus_ack kafka; }");

my ($st) = $t->post('/k', '{"event_type":"warm"}');
is($st, 200, 'first event delivered');

my $load = EvbusFault::load(clients => 6, batch => 5, seconds => 120,
    prefix => 'w', dir => $t->dir, port => $t->port, path => '/k');

my @killed;
for my $i (1 .. 3) {
    sleep 1.5;
    my @w = $t->worker_pids;
    my $victim = $w[$i % @w];
    kill 'KILL', $victim;
    push @killed, $victim;
    ok(wait_for(sub { my @n = grep { $_ != $victim } $t->worker_pids;
                      @n == 2 }, 10),
        "worker $victim killed, the master started a new one");
}
sleep 1.5;

my $l = $load->finish;
note($l->summary);

my @odd = $l->odd(200, 599);
ok(!@odd, 'only 200, or no answer (599: connection reset) from a killed worker')
    or diag(join "\n", @odd[0 .. ($#odd > 10 ? 10 : $#odd)]);
cmp_ok($l->count(599), '>', 0,
    'some requests were held by a worker when it was killed');
cmp_ok($l->count(200), '>', 20, 'requests answered 200');

EvbusFault::check_delivered($k->brokers, $topic, $l, 30,
    'every id answered 200 is in Kafka');

my $res = $l->results;
my %at;
$at{"$_->[0]:$_->[1]"} = $_->[2]
    for @{ EvbusFault::topic_messages($k->brokers, $topic) };
my @wrong = grep { ($at{"$res->{$_}[0]:$res->{$_}[1]"} // '') ne $_ }
    keys %$res;
is(scalar keys %$res, scalar keys %{ $l->accepted },
    'every 200 has a result per accepted event');
ok(!@wrong, 'every 200 names the partition and offset of its event')
    or diag(scalar(@wrong) . " wrong, e.g. $wrong[0] at @{ $res->{$wrong[0]} }");

my ($s2, $h, $j) = $t->post('/k', '{"event_type":"after","event_id":"after-1"}');
is($s2, 200, 'the new workers deliver');
is(ref $j eq 'HASH' && $j->{results} && $j->{results}[0]{event_id}, 'after-1',
    'with a result for the event');

ok($t->stop, 'nginx stopped in time');

my @sig = $t->error_log =~ /worker process (\d+) exited on signal 9/g;
is(scalar @sig, 3, 'the master saw three workers killed');
EvbusFault::check_error_log($t, undef, qr/exited on signal 9/);

note(sprintf 'run time %.0fs', time() - $t0);
done_testing();

#!/usr/bin/perl

# Fault 3: ten reloads under load, on /e (queued) and /k (evbus_ack kafka),
# with a spool configured: zero loss (every id answered 2xx is in Kafka, a
# 200 names the event's real partition and offset), zero hung workers
# (every old worker exits), and no 5xx but the designed 503 with
# Retry-After.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(sleep time);
use Evbus;
use EvbusFault qw(wait_for);

my $t0 = time();

my $k = EvbusFault->broker('reloads')
    or Evbus::missing('cannot run a private Kafka broker (java, kcat, jars)');

my $t = Evbus->new('reloads');

$k->start or BAIL_OUT('private broker did not start: ' . $k->log_tail);

my $topic = $t->topic;
my $spool = $t->dir . '/spool';

$t->start_ok(brokers => $k->brokers,
    http => ["evbus_topic $topic;", "evbus_spool $spool;",
             'evbus_flush_timeout 5s;'],
    locations => "location = /e { evbus; }\n"
        . "location = /k { evbus; evbus_ack kafka; evbus_ack_timeout 10s; }");

my ($st) = $t->post('/e', '{"event_type":"warm"}');
is($st, 202, 'first event accepted');

my $load = EvbusFault::load(clients => 3, batch => 5, pause => 0.005,
    seconds => 120, prefix => 'r', dir => $t->dir,
    targets => [[$t->port, '/e'], [$t->port, '/k']]);

sleep 1;

my %seen = map { $_ => 1 } $t->worker_pids;
my $reloaded = 0;
for my $i (1 .. 10) {
    $reloaded++ if $t->reload;
    $seen{$_} = 1 for $t->worker_pids;
    sleep 0.5;
}
is($reloaded, 10, 'ten reloads, each with a new set of workers');

sleep 1;
my $l = $load->finish;
note($l->summary);

my @current = $t->worker_pids;
is(scalar @current, 2, 'two current workers');

# old workers: all gone once their held requests are answered
my %cur = map { $_ => 1 } @current;
my @old = grep { !$cur{$_} } keys %seen;
cmp_ok(scalar @old, '>=', 20, 'at least 20 old workers');
my $gone = wait_for(sub { !grep { -d "/proc/$_" } @old }, 20);
ok($gone, 'every old worker exited (none hung)')
    or diag('still there: ' . join ', ', map { "$_ " . _cmd($_) }
        grep { -d "/proc/$_" } @old);
my $ch = EvbusFault::children($t);
is(scalar(keys %$ch), 2, 'the master has exactly its two workers')
    or diag(join "\n", map { "$_: $ch->{$_}" } sort keys %$ch);

my @odd = $l->odd(200, 202, 503);
ok(!@odd, 'only 200, 202, or 503 with Retry-After')
    or diag(join "\n", @odd[0 .. ($#odd > 10 ? 10 : $#odd)]);
cmp_ok($l->count(200), '>', 20, '/k: requests answered 200 across reloads');
cmp_ok($l->count(202), '>', 20, '/e: requests answered 202 across reloads');

EvbusFault::check_delivered($k->brokers, $topic, $l, 60);

my $res = $l->results;
my %at;
$at{"$_->[0]:$_->[1]"} = $_->[2]
    for @{ EvbusFault::topic_messages($k->brokers, $topic) };
my @wrong = grep { ($at{"$res->{$_}[0]:$res->{$_}[1]"} // '') ne $_ }
    keys %$res;
ok(!@wrong, '/k: every 200 names the partition and offset of its event')
    or diag(scalar(@wrong) . " wrong, e.g. $wrong[0] at @{ $res->{$wrong[0]} }");

ok($t->stop, 'nginx stopped in time');

my $log = $t->error_log;
unlike($log, qr/are lost/, 'nothing was lost at reload');
# 22 workers at least (two per generation) said what they did
my $stats = EvbusFault::producer_stats($t, 22);
note("workers: $stats->{exits} exits, $stats->{produced} produced,"
    . " $stats->{delivered} delivered, $stats->{failed} failed");
is($stats->{failed}, 0, 'no failed deliveries');
is($stats->{lost}, 0, 'no lost events');

EvbusFault::check_error_log($t);

note(sprintf 'run time %.0fs', time() - $t0);
done_testing();

sub _cmd {
    open my $fh, '<', "/proc/$_[0]/cmdline" or return '';
    my $c = <$fh> // '';
    $c =~ s/\0+$//;
    return $c;
}

#!/usr/bin/perl

# Fault 10: workers killed during replay, with the broker frozen.  Events
# are spooled while the (private) broker is down; nginx is stopped, the
# broker is started and frozen with SIGSTOP, nginx is started again: its
# workers replay the spool into librdkafka's queue, where nothing can be
# delivered.  Both workers are then killed with SIGKILL, the broker is
# resumed: every id answered 202 arrives, because a spool file is removed
# only once each of its records has a successful delivery report (before,
# it was removed once its records were in librdkafka's queue, and the kill
# lost them).  Duplicates are allowed.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(sleep time);
use Evbus;
use EvbusFault qw(wait_for);

my $t0 = time();

my $k = EvbusFault->broker('rkill')
    or Evbus::missing('cannot run a private Kafka broker (java, kcat, jars)');

my $t = Evbus->new('replay-kill');

my $topic = $t->topic;
my $spool = $t->dir . '/spool';

my @conf = (brokers => $k->brokers,
    properties => [['linger.ms', 5], ['message.timeout.ms', 120000]],
    http => ["evbus_topic $topic;", 'evbus_unavailable_after 1s;',
             'evbus_flush_timeout 1s;',
             "evbus_spool $spool fsync=always;"]);

# the broker is not running yet: events are queued, then spooled
$t->start_ok(@conf);

my $load = EvbusFault::load(clients => 2, batch => 10, pause => 0.01,
    seconds => 120, prefix => 'r', dir => $t->dir, port => $t->port);
sleep 3;
my $l = $load->finish;
note($l->summary);

my $n = keys %{ $l->accepted };
cmp_ok($n, '>', 100, "$n ids accepted while Kafka is down");
ok($t->stop(timeout => 20), 'nginx stopped: what was queued is spooled');

my @files = grep { -s } glob "$spool/*.spool";
cmp_ok(scalar @files, '>', 0, scalar(@files) . ' spool files');

ok($k->start, 'broker started');
ok($k->signal('STOP'), 'broker frozen');

# unavailable only after 10 s without a delivery: replay goes on meanwhile
$conf[-1][1] = 'evbus_unavailable_after 10s;';
$t->start_ok(@conf);

# every file claimed and handed to librdkafka
ok(wait_for(sub { $t->error_log =~ /replaying/ }, 10),
    'the workers replay the spool');
sleep 3;
my @left = glob "$spool/*.spool";
note(scalar(@left) . ' spool files while the broker is frozen');
ok(scalar @left, 'replayed files are kept while their records are not in'
    . ' Kafka');

my @victims = $t->worker_pids;
kill 'KILL', @victims;
ok(wait_for(sub {
        my %old = map { $_ => 1 } @victims;
        my @new = grep { !$old{$_} } $t->worker_pids;
        @new >= 2 }, 10),
    'workers killed with SIGKILL during replay, the master started new ones');

sleep 1;
ok($k->signal('CONT'), 'broker resumed');

my $got = EvbusFault::check_delivered($k->brokers, $topic, $l, 90,
    "all $n ids answered 202 arrived despite the kill");

ok(wait_for(sub { !glob "$spool/*.spool" }, 30),
    'the spool files are removed once delivered')
    or diag(`ls -l $spool`);

ok($t->stop, 'nginx stopped in time');
EvbusFault::check_error_log($t, undef, qr/exited on signal 9/);

note(sprintf 'run time %.0fs', time() - $t0);
done_testing();

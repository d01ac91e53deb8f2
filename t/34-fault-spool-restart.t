#!/usr/bin/perl

# Fault 5: nginx restarted with a non-empty spool.  With the (private)
# broker down, events are accepted into librdkafka's queue and then into
# the spool; nginx is stopped (what is still queued goes to the spool
# within evbus_flush_timeout), the broker is started, nginx is started
# again and replays the spool: every id answered 202 arrives.
#
# Spool files left by dead processes are claimed too: a file of our own
# making with one valid record and a torn tail (the record arrives, the
# tail is logged and skipped), one with a bad checksum (logged, never
# produced), and one of 5,000 records, more than one replay budget (4,096
# records per tick): every record of it arrives.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(sleep time);
use Evbus;
use EvbusFault qw(wait_for);

my $t0 = time();

my $k = EvbusFault->broker('spool')
    or Evbus::missing('cannot run a private Kafka broker (java, kcat, jars)');
eval { require Compress::Zlib; 1 }
    or Evbus::missing('Compress::Zlib is missing');

my $t = Evbus->new('spool-restart');

my $topic = $t->topic;
my $spool = $t->dir . '/spool';

my @conf = (brokers => $k->brokers,
    properties => [['linger.ms', 5], ['message.timeout.ms', 60000]],
    http => ["evbus_topic $topic;", 'evbus_unavailable_after 1s;',
             'evbus_flush_timeout 2s;',
             "evbus_spool $spool max_size=64m fsync=always;"]);

# the broker is not running yet
$t->start_ok(@conf);

my $load = EvbusFault::load(clients => 2, batch => 10, pause => 0.01,
    seconds => 120, prefix => 'p', dir => $t->dir, port => $t->port);
sleep 4;
my $l = $load->finish;
note($l->summary);

my @odd = $l->odd(202);
ok(!@odd, 'only 202 while Kafka is down: queued, then spooled')
    or diag(join "\n", @odd[0 .. ($#odd > 10 ? 10 : $#odd)]);
my $n = keys %{ $l->accepted };
cmp_ok($n, '>', 100, "$n ids accepted");

my $t1 = time();
ok($t->stop(timeout => 20), 'nginx stopped with Kafka down');
cmp_ok(time() - $t1, '<', 10, 'stopping took about evbus_flush_timeout');

my @files = grep { -s } glob "$spool/*.spool";
my $bytes = 0;
$bytes += -s $_ for @files;
cmp_ok(scalar @files, '>', 0, "the spool holds $bytes bytes in "
    . scalar(@files) . ' files');
like($t->error_log, qr/bytes left in the spool/,
    'the workers said what they left in the spool');
unlike($t->error_log, qr/are lost/, 'nothing was lost at exit');
my $stats = EvbusFault::producer_stats($t, 2);
is($stats->{lost}, 0, 'the workers lost nothing at exit');
cmp_ok($stats->{spooled}, '>', 0, 'the workers spooled what Kafka did not'
    . ' take');

# files of a dead process: a valid record then a torn tail, and a record
# whose checksum does not match
my $now = int(time() * 1000);
Evbus::write_file("$spool/evbus-999991-1-0.spool",
    Evbus::spool_record($topic, 'fake-ok', $now)
    . pack('LLL', 0x32425645, 5000, 0) . 'x' x 100);
my $bad = Evbus::spool_record($topic, 'fake-bad', $now);
substr($bad, 8, 4) = pack('L', unpack('L', substr($bad, 8, 4)) ^ 1);
Evbus::write_file("$spool/evbus-999992-1-0.spool", $bad);
my @big = map { "fake-big-$_" } 1 .. 5000;
Evbus::write_file("$spool/evbus-999993-1-0.spool",
    join '', map { Evbus::spool_record($topic, $_, $now) } @big);

ok($k->start, 'broker started');
$t->start_ok(@conf);

my $want = { %{ $l->accepted }, 'fake-ok' => 202,
    map { $_ => 1 } @big };
my $got = EvbusFault::topic_keys($k->brokers, $topic, $want, 60);
my @missing = grep { !$got->{$_} } keys %$want;
ok(!@missing, "all $n spooled ids, the dead process's valid record and"
    . ' its 5,000-record file arrived after the restart')
    or diag(scalar(@missing) . " missing, e.g. @missing[0 .. ($#missing > 5 ? 5 : $#missing)]");

my %sent = map { $_ => 1 } map { split /,/, $_->{sent} } $l->lines;
my @garbage = grep { !$sent{$_} && !$want->{$_} } keys %$got;
ok(!@garbage, 'nothing else was produced (no garbage, no bad record)')
    or diag("@garbage[0 .. ($#garbage > 5 ? 5 : $#garbage)]");

ok(wait_for(sub { !(my @f = glob "$spool/*.spool") }, 20),
    'replayed spool files are removed')
    or diag(`ls -l $spool`);

my $log = $t->error_log;
like($log, qr/replaying ".*evbus-999991-1-0\.spool"/,
    'the dead process\'s file was claimed');
my @twice = grep { ($got->{$_} // 0) > 1 } @big;
ok(!@twice, 'the 5,000-record file was replayed once, not from the start'
    . ' again at each tick') or diag(scalar(@twice) . ' twice');
like($log, qr/torn record at offset \d+ of ".*evbus-999991-1-0\.spool"/,
    'the torn tail was detected and logged');
like($log, qr/corrupt record at offset 0 of ".*evbus-999992-1-0\.spool"/,
    'the bad checksum was detected and logged');

ok($t->stop, 'nginx stopped in time');
EvbusFault::check_error_log($t);

note(sprintf 'run time %.0fs', time() - $t0);
done_testing();


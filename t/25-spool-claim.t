#!/usr/bin/perl

# The spool without a fault test's private broker:
#   - fsync=off spools and replays like the other modes: with the brokers
#     unreachable events are accepted into the spool; after a reload to a
#     live broker the new worker claims the files the old one left and
#     every accepted id arrives (metrics: records written and replayed);
#   - order: files left by dead processes are replayed oldest first (by
#     modification time, not name): in every partition the records of an
#     older file have lower offsets;
#   - claiming: a file locked (flock) by a live process is left alone; once
#     released it is claimed by the periodic scan (every 5 s).

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Fcntl qw(:flock);
use Time::HiRes qw(sleep time);
use Evbus qw(free_port);
use EvbusFault qw(wait_for);

eval { require Compress::Zlib; 1 }
    or Evbus::missing('Compress::Zlib is missing');

my $t = Evbus->new('spool-claim')->need_kafka;
my $topic = $t->topic;
my $spool = $t->dir . '/spool';
mkdir $spool;
my $dead = '127.0.0.1:' . free_port();

my %conf = (workers => 1,
    properties => [['linger.ms', 5], ['message.timeout.ms', 60000]],
    http => ["evbus_topic $topic;", 'evbus_unavailable_after 1s;',
        'evbus_flush_timeout 1s;', "evbus_spool $spool fsync=off;"],
    locations => "location = /e { evbus; }\n"
        . "location = /metrics { evbus_status; }");

sub metric { return $t->metric(@_) }

# fsync=off, Kafka unreachable: accepted into the queue, then the spool

$t->start_ok(%conf, brokers => $dead);
my @acc;
for my $i (1 .. 30) {
    my ($st, $h, $j) = $t->post('/e',
        qq{[{"event_type":"s","event_id":"off-$i-1"},}
        . qq{{"event_type":"s","event_id":"off-$i-2"}]});
    push @acc, @{ $j->{event_ids} || [] } if $st == 202;
    sleep 0.1;
}
is(scalar @acc, 60, 'fsync=off: every event accepted with Kafka down');
ok(wait_for(sub { metric('evbus_spool_records_total{op="written"}') > 0 },
    5), 'fsync=off: events were written to the spool');
# the gauge is refreshed once a second
ok(wait_for(sub {
        my (undef, undef, undef, $raw) = $t->http('GET', '/metrics');
        ($raw // '') =~ /^evbus_spool_bytes\{worker="\d+"\} [1-9]\d*$/m;
    }, 5), 'metrics: evbus_spool_bytes of the worker is not 0');

ok($t->reload(conf => [%conf]), 'reload to a live broker');
my $got = EvbusFault::topic_keys(Evbus::brokers(), $topic,
    { map { $_ => 1 } @acc }, 30);
my @missing = grep { !$got->{$_} } @acc;
ok(!@missing, 'every accepted id arrived: the old worker\'s spool and queue'
    . ' were claimed and replayed') or diag(scalar(@missing) . ' missing');
is(metric('evbus_spool_records_total{op="replayed"}'),
    metric('evbus_spool_records_total{op="written"}'),
    'metrics: every record written was replayed');
ok(wait_for(sub { !(my @f = glob "$spool/*.spool") }, 10),
    'the replayed files are removed');

# order: three files of dead processes, the oldest named last

my $now = int(time() * 1000);
my %file = (c => 'evbus-999981-1-0', b => 'evbus-999982-1-0',
            a => 'evbus-999983-1-0');
my %age = (a => 300, b => 200, c => 100);    # seconds old
for my $f (qw(a b c)) {
    my $tmp = "$spool/$file{$f}.tmp";
    Evbus::write_file($tmp, join '', map { Evbus::spool_record($topic, "ord-$f-$_",
        $now) } 1 .. 40);
    utime time() - $age{$f}, time() - $age{$f}, $tmp or die;
}
# appear oldest first: whenever a scan runs, the oldest present is oldest
rename "$spool/$file{$_}.tmp", "$spool/$file{$_}.spool" or die for qw(a b c);

my @ord = map { my $f = $_; map { "ord-$f-$_" } 1 .. 40 } qw(a b c);
$got = EvbusFault::topic_keys(Evbus::brokers(), $topic,
    { map { $_ => 1 } @ord }, 30);
@missing = grep { !$got->{$_} } @ord;
ok(!@missing, 'the three files were replayed') or diag("@missing");

my %last;    # partition => [file, offset] seen last
my @wrong;
my %rank = (a => 0, b => 1, c => 2);
for my $m (sort { $a->[0] <=> $b->[0] || $a->[1] <=> $b->[1] }
    @{ EvbusFault::topic_messages(Evbus::brokers(), $topic) })
{
    my ($p, $o, $k) = @$m;
    my ($f) = $k =~ /^ord-([abc])-/ or next;
    push @wrong, "$k at $p:$o after a record of file $last{$p}"
        if defined $last{$p} && $rank{ $last{$p} } > $rank{$f};
    $last{$p} = $f;
}
cmp_ok(scalar keys %last, '>', 1, 'the records spread over partitions');
ok(!@wrong, 'oldest file first: in every partition the older file\'s'
    . ' records come first') or diag(join "\n", @wrong[0 .. 4]);

# claiming: a file a live process holds is not touched

my $held = "$spool/evbus-999984-1-0.spool";
Evbus::write_file($held, join '', map { Evbus::spool_record($topic, "held-$_",
    $now) } 1 .. 5);
open my $lock, '<', $held or die;
flock($lock, LOCK_EX | LOCK_NB) or die "flock: $!";
# two periodic scans (every 5 s)
sleep 11;
my $msgs = EvbusFault::topic_messages(Evbus::brokers(), $topic);
ok(!grep({ $_->[2] =~ /^held-/ } @$msgs),
    'a spool file locked by a live process is not replayed');
ok(-s $held, 'nor removed');
close $lock;

$got = EvbusFault::topic_keys(Evbus::brokers(), $topic,
    { map { ("held-$_" => 1) } 1 .. 5 }, 15);
is(scalar(grep { $got->{"held-$_"} } 1 .. 5), 5,
    'released, it is claimed by the periodic scan and replayed');
ok(wait_for(sub { !-e $held }, 10), 'and removed');
my $claim = qr/replaying ".*evbus-999984-1-0\.spool" \(\d+ bytes\) left by/;
like($t->error_log, qr/$claim an earlier process/, 'the claim is logged');

$t->done;


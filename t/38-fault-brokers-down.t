#!/usr/bin/perl

# Availability from broker state, shared by the workers (issue 7): with
# every broker unreachable from the start and nothing waiting in any queue,
# after evbus_unavailable_after every answer of every worker is 503 (before,
# a worker with an empty queue answered 202 while the other 503).  When a
# broker comes up (librdkafka's mock cluster, taken down and up again), the
# workers take events again, and they arrive.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use IPC::Open2;
use Time::HiRes qw(sleep time);
use Evbus qw(free_port);
use EvbusFault qw(wait_for);

my $t = Evbus->new('brokers-down');

# every answer says which worker gave it
my $loc = "location = /e { evbus; add_header X-Worker \$pid always; }";

sub round {
    my ($t, $n, $tag) = @_;
    my (%st, %pids, @odd);
    for my $i (1 .. $n) {
        my ($st, $h, $j, $raw) = $t->post('/e',
            qq{{"event_type":"d","event_id":"$tag-$i"}});
        $st{$st}++;
        $pids{ $h->{'x-worker'} // 'none' }{$st}++;
        push @odd, "$st: $raw" if $st == 503 && !($h->{'retry-after'});
    }
    return (\%st, \%pids, \@odd);
}

# brokers unreachable from the start, no spool

$t->start_ok(brokers => '127.0.0.1:' . free_port(),
    http => ['evbus_topic t-brokers-down;', 'evbus_unavailable_after 2s;'],
    locations => $loc);

my @workers = $t->worker_pids;
is(scalar @workers, 2, 'two workers');

sleep 3;

my ($st, $pids, $odd);
for my $try (1 .. 5) {
    ($st, $pids, $odd) = round($t, 40, "down$try");
    last if keys %$pids >= 2;
}
note(explain($pids));
is_deeply([sort keys %$pids], [sort @workers],
    'both workers answered');
is_deeply($st, { 503 => $st->{503} }, 'every answer is 503')
    or diag(explain($st));
ok(!@$odd, 'each with Retry-After') or diag("@$odd");

ok($t->stop(timeout => 30), 'nginx stopped with the brokers down');
$t->check_error_log;

# a broker down, then up: the mock cluster

SKIP: {
    my $bin = $t->dir . '/mock-cluster';
    my $out = `'$FindBin::Bin/../tools/mock-cluster/build.sh' '$bin' 2>&1`;
    skip "cannot build tools/mock-cluster: $out", 12
        if $? && Evbus::skip_allowed("cannot build tools/mock-cluster: $out");
    my $nokcat = `which kcat` !~ /kcat/;
    skip 'kcat is not installed', 12
        if $nokcat && Evbus::skip_allowed('kcat is not installed');

    my $topic = $t->topic;
    my $mpid = open2(my $from, my $to, $bin, 1, $topic, 2)
        || undef;
    skip 'cannot run the mock cluster', 12
        if !$mpid && Evbus::skip_allowed('cannot run the mock cluster');
    my $line = <$from> // '';
    my ($bootstraps) = $line =~ /^bootstraps (\S+)/
        or BAIL_OUT("mock cluster said: $line");

    my $mock = sub {
        print $to "$_[0]\n";
        $to->flush;
        my $r = <$from> // '';
        chomp $r;
        return $r;
    };

    is($mock->('down 1'), 'ok', 'the broker is down');

    my $m = Evbus->new('brokers-down-mock');
    $m->start_ok(brokers => $bootstraps,
        http => ["evbus_topic $topic;", 'evbus_unavailable_after 2s;'],
        locations => $loc);

    sleep 3;
    my ($st2) = round($m, 20, 'mdown');
    is_deeply($st2, { 503 => 20 }, 'down since start: every answer 503')
        or diag(explain($st2));

    is($mock->('up 1'), 'ok', 'the broker is up');

    my $up = wait_for(sub {
        my ($s) = $m->post('/e', '{"event_type":"d","event_id":"probe"}');
        return $s == 202;
    }, 20);
    ok($up, 'a broker up again: 202');

    my ($st3, $pids3) = round($m, 20, 'mup');
    is_deeply($st3, { 202 => 20 }, 'then every answer is 202')
        or diag(explain($st3));

    my $got = EvbusFault::topic_keys($bootstraps, $topic,
        { map { ("mup-$_" => 1) } 1 .. 20 }, 20);
    is(scalar(grep { /^mup-/ } keys %$got), 20, 'and the events arrive');

    # down while running, nothing waiting: librdkafka's "all brokers down"
    is($mock->('down 1'), 'ok', 'the broker is down again');
    sleep 3;
    my ($st4, $pids4) = round($m, 40, 'mdown2');
    is_deeply($st4, { 503 => 40 }, 'all brokers down: every answer 503')
        or diag(explain($st4));
    note(explain($pids4));
    like($m->error_log, qr/ALL_BROKERS_DOWN/,
        'librdkafka said so (error callback)');
    is($mock->('up 1'), 'ok', 'the broker is up again');
    ok(wait_for(sub {
        my ($s) = $m->post('/e', '{"event_type":"d","event_id":"probe2"}');
        return $s == 202;
    }, 20), 'and events are taken again');

    ok($m->stop(timeout => 30), 'nginx stopped');
    $m->check_error_log;

    print $to "quit\n";
    close $to;
    kill 'KILL', $mpid unless wait_for(sub { waitpid($mpid, 1) }, 3);
}

done_testing();

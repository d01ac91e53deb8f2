#!/usr/bin/perl

# Reloads under traffic: five `nginx -s reload` while a client posts
# events; every event answered 202 reaches Kafka, and the only 5xx is 503
# with Retry-After.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use HTTP::Tiny;
use Evbus;

my $t = Evbus->new('reload')->need_kafka;
my $topic = $t->topic;
my $dir = $t->dir;

$t->start_ok(http => ["evbus_topic $topic;"]);

# three clients: batches of 5 events with unique ids, one request per
# connection and some on a kept-alive connection, until told to stop

my $stop = "$dir/stop";
my $results = "$dir/results";

my @pids;
for my $c (1 .. 3) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        eval { client("$results.$c") };
        POSIX::_exit($@ ? 1 : 0);
    }
    push @pids, $pid;
}

sub client {
    my ($file) = @_;
    open my $out, '>', $file or die "$file: $!";
    $out->autoflush(1);
    my $ka = HTTP::Tiny->new(timeout => 10, keep_alive => 1);
    my $one = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
    my $url = 'http://127.0.0.1:' . $t->port . '/e';
    my $deadline = time() + 30;
    my $n = 0;
    while (!-e $stop && time() < $deadline && $n < 20000) {
        $n++;
        my @ids = map { "r$$-$n-$_" } 1 .. 5;
        my $body = '[' . join(',',
            map { qq{{"event_type":"reload","event_id":"$_"}} } @ids) . ']';
        my $ua = $n % 2 ? $ka : $one;
        my %req = (headers => { 'Content-Type' => 'application/json' },
            content => $body);
        my $res = $ua->request('POST', $url, \%req);
        # an idle keep-alive connection closed by an old worker at its
        # shutdown: a real client retries on a fresh connection
        if ($res->{status} == 599 && $ua == $ka) {
            printf $out "retry\t%s\n", $res->{content} =~ s/\s+/ /gr;
            $res = $one->request('POST', $url, \%req);
        }
        my $j = Evbus::json_decode($res->{content} // '');
        my $acc = ref $j eq 'HASH' && ref $j->{event_ids} eq 'ARRAY'
            ? join(',', @{ $j->{event_ids} }) : '';
        printf $out "%s\t%s\t%s\t%s\n", $res->{status},
            $res->{headers}{'retry-after'} // '', join(',', @ids), $acc;
        sleep 0.002;
    }
    close $out;
}

sleep 1;
my $reloaded = 0;
for my $i (1 .. 5) {
    $reloaded++ if $t->reload;
    sleep 1;
}
is($reloaded, 5, 'five reloads, each with a new set of workers');

open my $fh, '>', $stop or die;
close $fh;

my $deadline = time() + 30;
for my $pid (@pids) {
    while (waitpid($pid, WNOHANG) == 0) {
        if (time() > $deadline) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
            fail("client $pid stopped in time");
            last;
        }
        sleep 0.1;
    }
    is($? >> 8, 0, "client $pid exited cleanly");
}

ok($t->stop, 'nginx stopped in time after the reloads');

# what the client saw

my (%accepted, %refused, %status, @odd);
my $retries = 0;
for my $file (map { "$results.$_" } 1 .. 3) {
    open $fh, '<', $file or die "no results in $file: $!";
    while (my $line = <$fh>) {
        chomp $line;
        my ($st, $retry, $sent, $acc) = split /\t/, $line, -1;
        if ($st eq 'retry') {
            $retries++;
            next;
        }
        $status{$st}++;
        if ($st == 202) {
            $accepted{$_}++ for split /,/, $acc;
            push @odd, "202 with ids '$acc' for '$sent'" if $acc ne $sent;
        } elsif ($st == 503) {
            push @odd, "503 with Retry-After '$retry'"
                unless $retry =~ /^\d+$/ && $retry >= 1 && $retry <= 60;
            $refused{$_}++ for split /,/, $sent;
        } else {
            push @odd, "status $st";
        }
    }
    close $fh;
}

note('statuses: ' . join ', ', map { "$_ x $status{$_}" } sort keys %status);
note("$retries requests retried on a fresh connection after a keep-alive"
    . ' connection was closed at a reload');
cmp_ok($status{202} // 0, '>', 20, 'requests were accepted during reloads');
ok(!@odd, 'only 202, and 503 with Retry-After')
    or diag(join "\n", @odd[0 .. ($#odd > 10 ? 10 : $#odd)]);

# what reached Kafka

my $n = keys %accepted;
my $msgs = $t->kafka_read($topic, $n, 30);
my %got;
$got{ $_->{key} // '' }++ for @$msgs;

my @missing = grep { !$got{$_} } sort keys %accepted;
ok(!@missing, "all $n accepted events reached Kafka")
    or diag(scalar(@missing) . " missing, e.g. @missing[0 .. ($#missing > 5 ? 5 : $#missing)]");

my @leaked = grep { $refused{$_} } keys %got;
ok(!@leaked, 'no event of a 503 request reached Kafka')
    or diag("@leaked[0 .. ($#leaked > 5 ? 5 : $#leaked)]");

my $dups = grep { $got{$_} > 1 } keys %got;
note("$dups events delivered more than once") if $dups;

$t->done;

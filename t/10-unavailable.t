#!/usr/bin/perl

# Kafka unreachable: once nothing of a request can be queued the answer is
# 503 with Retry-After, never another 5xx, and nginx still stops in
# bounded time.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(time);
use Evbus qw(free_port);

my $t = Evbus->new('unavailable');

# a port nobody listens on
my $dead = '127.0.0.1:' . free_port();

$t->start_ok(
    brokers => $dead,
    properties => [['linger.ms', 5], ['queue.buffering.max.messages', 2],
        ['message.timeout.ms', 4000]],
    http => ['evbus_topic t-unavailable;']);

my (@statuses, $first503, @odd);
for my $i (1 .. 6) {
    my $body = '[' . join(',', map { qq{{"event_type":"u","event_id":"u$i-$_"}} }
        1 .. 3) . ']';
    my ($st, $h, $j, $raw) = $t->post('/e', $body);
    push @statuses, $st;
    if ($st == 503) {
        $first503 //= [$h, $j, $raw];
    } elsif ($st == 202) {
        push @odd, "202 without accepted events: $raw"
            unless ref $j eq 'HASH' && ($j->{accepted} // 0) >= 1
            && ($j->{accepted} + $j->{rejected}) == 3;
    } else {
        push @odd, "status $st: $raw";
    }
}

note("statuses: @statuses");
ok(!@odd, 'only 202 and 503') or diag(join "\n", @odd);
ok($first503, 'a 503 once the producer queue is full');

SKIP: {
    skip 'no 503', 3 unless $first503;
    my ($h, $j, $raw) = @$first503;
    like($h->{'retry-after'} // '', qr/^[1-9]\d*$/,
        '503: Retry-After in seconds');
    like(ref $j eq 'HASH' ? $j->{error} // '' : '', qr/\S/,
        '503: JSON error field') or diag($raw);
    like($h->{'content-type'} // '', qr{^application/json}i,
        '503: application/json');
}

# a request rejected for its own events is still a 400, not a 503
my ($st, $h, $j) = $t->post('/e', '{"event_type":""}');
is($st, 400, 'invalid event while Kafka is down: 400');

my $t0 = time();
ok($t->stop(timeout => 30), 'nginx stopped with Kafka down');
cmp_ok(time() - $t0, '<', 30, 'stop was bounded');

$t->check_error_log;
done_testing();

#!/usr/bin/perl

# evbus_health: 200 {"status":"ok"} while this nginx can deliver, 503 with
# the reason when its broker stops, 200 again when the broker returns; the
# broker's state changes are logged once per change.  A private broker
# (t/lib/EvbusFault.pm), never the shared one.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(sleep time);
use Evbus;
use EvbusFault qw(wait_for);

my $k = EvbusFault->broker('health')
    or Evbus::missing('cannot run a private Kafka broker (java, kcat, jars)');

$k->start or BAIL_OUT('private broker did not start: ' . $k->log_tail);

my $t = Evbus->new('health');
my $topic = $t->topic;

$t->start_ok(brokers => $k->brokers,
    properties => [['linger.ms', 5], ['reconnect.backoff.max.ms', 1000],
                   ['statistics.interval.ms', 1000]],
    http => ["evbus_topic $topic;"],
    locations => "location = /e { evbus; }\n"
        . "location = /health { evbus_health; }\n"
        . "location = /metrics { evbus_status; }");

sub health {
    my ($st, $h, $j) = $t->http('GET', '/health');
    return ($st, $j);
}

my ($st) = $t->post('/e', '{"event_type":"h","event_id":"h-1"}');
is($st, 202, 'first event accepted');
ok(EvbusFault::topic_keys($k->brokers, $topic, { 'h-1' => 1 },
    20)->{'h-1'}, 'first event in Kafka');

my $j;
ok(wait_for(sub { ($st, $j) = health(); $st == 200 }, 10, 0.2),
   'health 200 while the broker runs');
is_deeply($j, { status => 'ok' }, 'health body');

# librdkafka's statistics come once a second (statistics.interval.ms):
# wait for both workers' first ones before the broker goes away
my $raw;
my $b = $k->brokers;
my $up = qr/^evbus_rdkafka_broker_up\{worker="\d+",broker="\Q$b\E\/\d+"\} 1$/m;
wait_for(sub { (undef, undef, undef, $raw) = $t->http('GET', '/metrics');
    my @n = $raw =~ /$up/g; @n >= 2 }, 15, 0.2);
like($raw, $up, 'broker up in evbus_status');

ok($k->stop, 'private broker stopped');

ok(wait_for(sub { ($st, $j) = health(); $st == 503 }, 30, 0.2),
   'health 503 when the broker is gone');
is($j->{status}, 'unavailable', '503 body: status');
like($j->{reason} // '', qr/broker|Kafka/, '503 body: a reason')
    or diag(explain $j);

(undef, undef, undef, $raw) = $t->http('GET', '/metrics');
like($raw, qr/^evbus_rdkafka_broker_up\{worker="\d+",broker="\Q$b\E\/\d+"\} 0$/m,
     'broker down in evbus_status');

$k->start or BAIL_OUT('private broker did not restart: ' . $k->log_tail);

ok(wait_for(sub { ($st, $j) = health(); $st == 200 }, 60, 0.5),
   'health 200 again when the broker returns');

($st) = $t->post('/e', '{"event_type":"h","event_id":"h-2"}');
is($st, 202, 'event accepted after the return');
ok(EvbusFault::topic_keys($k->brokers, $topic, { 'h-2' => 1 },
    30)->{'h-2'}, 'and in Kafka');

# once per change and worker: up, down, up
my $log = $t->error_log;
my %per;
while ($log =~ /(\d+)#\d+: evbus: Kafka broker "\Q$b\E\/\d+" is (up|down)/g) {
    push @{ $per{$1} }, $2;
}
is(scalar keys %per, 2, 'both workers logged the broker');
for my $pid (sort keys %per) {
    is(join(',', @{ $per{$pid} }), 'up,down,up',
       "worker $pid: up, down, up, each once");
}

$t->done;

#!/usr/bin/perl

# The producer's settings as librdkafka took them, from each worker's
# "producer started" line: the module's defaults (issue 13: linger.ms 50
# when no location holds answers for Kafka, 5 with an `evbus_ack kafka`
# location; statistics every 10 s; snappy), and what evbus_kafka_property
# overrides.  Events still reach Kafka with each of them.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus;

my $t = Evbus->new('defaults')->need_kafka;
my $topic = $t->topic;

# the settings of every "producer started" line since the last call
sub started {
    my ($name) = @_;
    my @lines = $t->error_log_new
        =~ /evbus: producer started \(librdkafka [^;]+;([^)]*)\)/g;
    is(scalar @lines, 2, "$name: both workers started a producer")
        or return {};
    is($lines[0], $lines[1], "$name: with the same settings");
    my %s = map { /^\s*(\S+) (.*)$/ ? ($1, $2) : () } split /,/, $lines[0];
    return \%s;
}

# one event in, read back from Kafka by its event_id
my $in_kafka = 0;
sub roundtrip {
    my ($name, $path, $status) = @_;
    my $id = "$name-" . int(rand(1e9));
    my ($st) = $t->post($path, qq({"event_type":"click","event_id":"$id"}));
    is($st, $status, "$name: $status");
    my ($m) = grep { ($_->{key} // '') eq $id }
        @{ $t->kafka_read($topic, ++$in_kafka) };
    ok($m, "$name: the event is in Kafka, keyed by its event_id");
    is($m && $m->{value}{event_id}, $id, "$name: with its body");
    is($m && $m->{headers}{event_type}, 'click',
        "$name: with its event_type header");
}

# the module's defaults, queued only: a long linger

$t->start_ok(properties => [], http => ["evbus_topic $topic;"],
    locations => "location = /e { evbus; }");
my $s = started('queued only');
is($s->{'linger.ms'}, '50', 'queued only: linger.ms 50');
is($s->{'statistics.interval.ms'}, '10000',
    'queued only: statistics every 10 s');
is($s->{'compression.type'}, 'snappy', 'queued only: snappy');
is($s->{'queue.buffering.max.messages'}, '100000',
    'queued only: 100000 messages a worker');
is($s->{'acks'}, '-1', 'queued only: acks all');
is($s->{'queue.buffering.max.kbytes'}, '65536',
    'queued only: 64 MiB a worker');
roundtrip('queued only', '/e', 202);
ok($t->stop, 'queued only: stopped');

# an evbus_ack kafka location: the short linger

$t->error_log_new;
$t->start_ok(properties => [], http => ["evbus_topic $topic;"],
    locations => "location = /e { evbus; }\n"
        . "location = /k { evbus; evbus_ack kafka; }");
$s = started('ack kafka');
is($s->{'linger.ms'}, '5', 'ack kafka: linger.ms 5');
is($s->{'statistics.interval.ms'}, '10000',
    'ack kafka: statistics every 10 s');
roundtrip('ack kafka', '/k', 200);
ok($t->stop, 'ack kafka: stopped');

# evbus_kafka_property wins over every default

$t->error_log_new;
$t->start_ok(http => ["evbus_topic $topic;"],
    properties => [['linger.ms', 20], ['statistics.interval.ms', 1000],
        ['compression.type', 'none']],
    locations => "location = /k { evbus; evbus_ack kafka; }");
$s = started('overridden');
is($s->{'linger.ms'}, '20', 'overridden: linger.ms 20');
is($s->{'statistics.interval.ms'}, '1000', 'overridden: statistics 1 s');
is($s->{'compression.type'}, 'none', 'overridden: no compression');
roundtrip('overridden', '/k', 200);

$t->done;

#!/usr/bin/perl

# Kafka headers and timestamp; evbus_topic with variables, inheritance and
# the default topic.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus qw(rfc3339_ms);

my $t = Evbus->new('headers')->need_kafka;
my $base = $t->topic;
my $hdr = "$base-h";
my $srv = "$base-srv";

$t->start_ok(
    http => ["evbus_source_service hdr-svc;"],
    server => ["evbus_topic $srv;"],
    locations => <<"EOF");
location = /h { evbus; evbus_topic $hdr; }
location = /t { evbus; evbus_topic $base-\$evbus_event_type; }
location = /s { evbus; }
EOF

# headers

my ($st) = $t->post('/h', '[{"event_type":"alpha","event_id":"h-1"},'
    . '{"event_type":"beta.v2","event_id":"h-2","event_version":4,'
    . '"metadata":{"ingest_timestamp":"x"}}]');
is($st, 202, 'events accepted');

my $msgs = $t->kafka_read($hdr, 2);
is(scalar @$msgs, 2, 'both in Kafka');

for my $m (@$msgs) {
    my $id = $m->{value}{event_id} // '?';
    my $md = $m->{value}{metadata} || {};
    my $h = $m->{headers};

    is_deeply([sort keys %$h], [sort qw(event_type event_version
        source_service ingest_timestamp)], "$id: the four headers");
    is($h->{event_type}, $m->{value}{event_type}, "$id: event_type header");
    is($h->{event_version}, $md->{event_version},
        "$id: event_version header");
    is($h->{source_service}, 'hdr-svc', "$id: source_service header");
    is($h->{ingest_timestamp}, $md->{ingest_timestamp},
        "$id: ingest_timestamp header = metadata");
    is($m->{tstype}, 'create', "$id: timestamp type create");
    is($m->{ts}, rfc3339_ms($md->{ingest_timestamp}),
        "$id: Kafka timestamp = ingest_timestamp, to the ms");
}

my ($h2) = grep { ($_->{value}{event_id} // '') eq 'h-2' } @$msgs;
is($h2 && $h2->{headers}{event_version}, '4', 'event_version header 4');

# a topic per event type

($st) = $t->post('/t', '[{"event_type":"alpha","event_id":"t-1"},'
    . '{"event_type":"beta.v2","event_id":"t-2"},'
    . '{"event_type":"alpha","event_id":"t-3"}]');
is($st, 202, 'events for per-type topics accepted');

$msgs = $t->kafka_read("$base-alpha", 2);
is_deeply([sort map { $_->{key} } @$msgs], ['t-1', 't-3'],
    'alpha events in their topic');
$msgs = $t->kafka_read("$base-beta.v2", 1);
is_deeply([map { $_->{key} } @$msgs], ['t-2'], 'beta.v2 event in its topic');

# NDJSON goes the same way
($st) = $t->post('/t', qq{{"event_type":"gamma","event_id":"t-4"}\n},
    content_type => 'application/x-ndjson');
is($st, 202, 'ndjson event accepted');
$msgs = $t->kafka_read("$base-gamma", 1);
is_deeply([map { $_->{key} } @$msgs], ['t-4'], 'ndjson event in its topic');

# inherited from the server level

($st) = $t->post('/s', '{"event_type":"s","event_id":"s-1"}');
is($st, 202, 'event on a location inheriting evbus_topic');
$msgs = $t->kafka_read($srv, 1);
is_deeply([map { $_->{key} } @$msgs], ['s-1'], 'server-level topic used');

# the default topic "events"

my $t2 = Evbus->new('headers-default');
$t2->start_ok;
my $id = "default-$$-" . time();
($st) = $t2->post('/e', qq{{"event_type":"d","event_id":"$id"}});
is($st, 202, 'event without any evbus_topic accepted');

my $found;
for (1 .. 20) {
    $msgs = $t2->kafka_read('events', 1, 1);
    $found = grep { ($_->{key} // '') eq $id } @$msgs;
    last if $found;
    sleep 1;
}
is($found, 1, 'default topic is "events"');
ok($t2->stop, 'second nginx stopped');
$t2->check_error_log('second nginx: error.log clean');

$t->done;

#!/usr/bin/perl

# Accepted bodies: one object, an array of objects, NDJSON; what the
# response says and what reaches Kafka (value, and the event_id as key);
# evbus_ack kafka: 200 with each event's partition and offset.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus qw(uuid_re);

my $t = Evbus->new('ingest')->need_kafka;
my $topic = $t->topic;

$t->start_ok(http => ["evbus_topic $topic;"],
    locations => "location = /e { evbus; }\n"
        . "location = /k { evbus; evbus_ack kafka; evbus_ack_timeout 30s; }");

my (%sent, @ids);    # event_id => x

sub accepted {
    my ($name, $st, $j, $n, $ids) = @_;

    is($st, 202, "$name: 202");
    is(ref $j, 'HASH', "$name: JSON body") or return;
    is($j->{accepted}, $n, "$name: accepted $n");
    is($j->{rejected}, 0, "$name: rejected 0");
    is(ref $j->{errors}, 'ARRAY', "$name: errors is an array");
    is(scalar @{ $j->{errors} || [] }, 0, "$name: no errors");
    is_deeply($j->{event_ids}, $ids, "$name: event_ids in input order")
        if $ids;
    push @ids, @{ $j->{event_ids} || [] };
}

# one object

my ($st, $h, $j) = $t->post('/e',
    '{"event_type":"page_view","event_id":"one-1","x":1}');
accepted('object', $st, $j, 1, ['one-1']);
like($h->{'content-type'} // '', qr{^application/json}i,
    'object: response is application/json');
$sent{'one-1'} = 1;

# an array of objects, with white space around and between

($st, $h, $j) = $t->post('/e',
    qq{ \n[ {"event_type":"click","event_id":"arr-1","x":2} ,\n}
    . qq{  {"event_type":"click","event_id":"arr-2","x":3},}
    . qq{{"event_type":"a.b-c_D9","event_id":"arr-3","x":4}\n] \n});
accepted('array', $st, $j, 3, ['arr-1', 'arr-2', 'arr-3']);
@sent{qw(arr-1 arr-2 arr-3)} = (2, 3, 4);

# an array of one

($st, $h, $j) = $t->post('/e', '[{"event_type":"click","event_id":"arr1-1","x":5}]');
accepted('array of one', $st, $j, 1, ['arr1-1']);
$sent{'arr1-1'} = 5;

# charset parameter

($st, $h, $j) = $t->post('/e', '{"event_type":"click","event_id":"cs-1","x":6}',
    content_type => 'application/json; charset=utf-8');
accepted('json with charset', $st, $j, 1, ['cs-1']);
$sent{'cs-1'} = 6;

($st, $h, $j) = $t->post('/e', '{"event_type":"click","event_id":"cs-2","x":13}',
    content_type => 'application/json;charset=UTF-8');
accepted('json with charset, no space', $st, $j, 1, ['cs-2']);
$sent{'cs-2'} = 13;

# NDJSON, blank lines ignored, last line without a newline

($st, $h, $j) = $t->post('/e',
    qq{{"event_type":"nd","event_id":"nd-1","x":7}\n\n}
    . qq{{"event_type":"nd","event_id":"nd-2","x":8}\n\n\n}
    . qq{{"event_type":"nd","event_id":"nd-3","x":9}},
    content_type => 'application/x-ndjson');
accepted('ndjson', $st, $j, 3, ['nd-1', 'nd-2', 'nd-3']);
@sent{qw(nd-1 nd-2 nd-3)} = (7, 8, 9);

# lines of white space are blank lines too
($st, $h, $j) = $t->post('/e',
    qq{  \n{"event_type":"nd","event_id":"nd-5","x":15}\n \t \n}
    . qq{{"event_type":"nd","event_id":"nd-6","x":16}\n\n},
    content_type => 'application/x-ndjson');
accepted('ndjson with white-space lines', $st, $j, 2, ['nd-5', 'nd-6']);
@sent{qw(nd-5 nd-6)} = (15, 16);

($st, $h, $j) = $t->post('/e',
    qq{{"event_type":"nd","event_id":"nd-4","x":10}\n},
    content_type => 'application/x-ndjson; charset=utf-8');
accepted('ndjson with charset, trailing newline', $st, $j, 1, ['nd-4']);
$sent{'nd-4'} = 10;

# ids with characters JSON must escape

($st, $h, $j) = $t->post('/e',
    '{"event_type":"esc","event_id":"q\\"uo\\\\te\\n\\u00e9\\/","x":14}');
accepted('escaped id', $st, $j, 1, ["q\"uo\\te\n\x{e9}/"]);
$sent{"q\"uo\\te\n\x{e9}/"} = 14;

# no event_id: one is generated and returned

($st, $h, $j) = $t->post('/e',
    '[{"event_type":"gen","x":11},{"event_type":"gen","event_id":"gen-2","x":12}]');
accepted('generated id', $st, $j, 2);
my $gen = $j->{event_ids}[0] // '';
like($gen, uuid_re(), 'generated id is a UUIDv7');
is($j->{event_ids}[1], 'gen-2', 'client id kept beside a generated one');
@sent{$gen, 'gen-2'} = (11, 12);

# evbus_ack kafka: held until the delivery reports, then 200 with results

($st, $h, $j) = $t->post('/k', '[{"event_type":"ack","event_id":"k-1","x":21},'
    . '{"event_type":"ack","event_id":"k-2","x":22}]');
is($st, 200, 'evbus_ack kafka: 200');
is_deeply($j->{event_ids}, ['k-1', 'k-2'], 'evbus_ack kafka: event_ids');
is_deeply([map { [$_->{index}, $_->{event_id}] } @{ $j->{results} || [] }],
    [[0, 'k-1'], [1, 'k-2']], 'evbus_ack kafka: a result per event');
my %res = map { $_->{event_id} => "$_->{partition}/$_->{offset}" }
    @{ $j->{results} || [] };
push @ids, 'k-1', 'k-2';
@sent{qw(k-1 k-2)} = (21, 22);

# what reached Kafka: every accepted event, once

my $want = scalar keys %sent;
my $msgs = $t->kafka_read($topic, $want);
is(scalar @$msgs, $want, "$want messages in $topic");

my (%got, @bad, @badkey, %at);
for my $m (@$msgs) {
    my $v = $m->{value};
    push(@bad, "$m->{partition}/$m->{offset}"), next unless ref $v eq 'HASH';
    $got{ $v->{event_id} // '' } = $v->{x};
    $at{ $v->{event_id} // '' } = "$m->{partition}/$m->{offset}";
    my $id = $v->{event_id} // '';
    utf8::encode($id);
    push @badkey, "$m->{partition}/$m->{offset}"
        unless defined $m->{key} && $m->{key} eq $id;
}
ok(!@bad, 'every message is a JSON object') or diag("not: @bad");
ok(!@badkey, 'every message\'s key is its event_id') or diag("not: @badkey");
is_deeply([@at{qw(k-1 k-2)}], [@res{qw(k-1 k-2)}],
    'evbus_ack kafka: the results name the real partition and offset');
is_deeply(\%got, \%sent, 'each accepted event reached Kafka with its fields');
is_deeply([sort keys %got], [sort @ids], 'Kafka holds the ids answered');

$t->done;

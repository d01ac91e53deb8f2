#!/usr/bin/perl

# Keys and partitions: key = event_id, partition = XXH3_64bits(event_type
# "\0" event_id) mod partition count, checked against Debian's xxhsum.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus qw(xxh3_partition);

my $t = Evbus->new('partition')->need_kafka->need_xxhsum;
my $topic = $t->topic;

$t->start_ok(http => ["evbus_topic $topic;"]);

my @types = qw(click page_view a signup.completed cart-add X_9);
my (@events, %type);

for my $i (1 .. 40) {
    my $ty = $types[$i % @types];
    my $id = "p$i-" . join '', map { ('a' .. 'z', 0 .. 9)[rand 36] } 1 .. 8;
    $type{$id} = $ty;
    push @events, qq{{"event_type":"$ty","event_id":"$id","i":$i}};
}

my ($st, $h, $j) = $t->post('/e', '[' . join(',', @events) . ']');
is($st, 202, '40 events with ids accepted');

# generated ids are partitioned the same way
for my $i (41 .. 50) {
    my $ty = $types[$i % @types];
    my ($st, $h, $j) = $t->post('/e', qq{{"event_type":"$ty","i":$i}});
    is($st, 202, "event $i without id accepted");
    $type{ $j->{event_ids}[0] // "missing-$i" } = $ty;
}

# escapes: the key and the hash use the decoded strings
($st, $h, $j) = $t->post('/e',
    '{"event_type":"cl\\u0069ck","event_id":"p-esc-\\u00e9\\u0041"}');
is($st, 202, 'event with escaped event_type and event_id accepted');
$type{"p-esc-\xc3\xa9A"} = 'click';

my $msgs = $t->kafka_read($topic, 51);
is(scalar @$msgs, 51, '51 messages in Kafka');

my $count = $t->partition_count($topic);
ok($count && $count > 1, "topic has $count partitions");
$count ||= 1;

my (%seen, $bad_key, $bad_part, $bad_type);
for my $m (@$msgs) {
    # decoded, as UTF-8 bytes
    my $id = $m->{value}{event_id} // '';
    my $ty = $m->{value}{event_type} // '';
    utf8::encode($id);
    utf8::encode($ty);

    $bad_key++, diag("key $m->{key} != event_id $id")
        unless defined $m->{key} && $m->{key} eq $id;
    $bad_type++ unless ($type{$id} // '') eq $ty;

    my $want = xxh3_partition($ty, $id, $count);
    $bad_part++, diag("$ty/$id: partition $m->{partition}, want $want")
        unless $m->{partition} == $want;
    $seen{ $m->{partition} }++;
}

ok(!$bad_key, 'key is the event_id');
ok(!$bad_type, 'each message is the event sent');
ok(!$bad_part, 'partition = XXH3_64bits(event_type "\0" event_id) mod count');
is_deeply([sort map { $_->{key} // '' } @$msgs], [sort keys %type],
    'every event once');
my ($esc) = grep { ($_->{key} // '') eq "p-esc-\xc3\xa9A" } @$msgs;
is($esc && $esc->{headers}{event_type}, 'click',
    'escaped event_type decoded in the header');
cmp_ok(scalar keys %seen, '>', 1, 'events spread over several partitions');

$t->done;

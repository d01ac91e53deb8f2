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

my $msgs = $t->kafka_read($topic, 50);
is(scalar @$msgs, 50, '50 messages in Kafka');

my $count = $t->partition_count($topic);
ok($count && $count > 1, "topic has $count partitions");
$count ||= 1;

my (%seen, $bad_key, $bad_part, $bad_type);
for my $m (@$msgs) {
    my $id = $m->{value}{event_id} // '';
    my $ty = $m->{value}{event_type} // '';

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
is_deeply([sort keys %{{ map { ($_->{value}{event_id} // '') => 1 } @$msgs }}],
    [sort keys %type], 'every event once');
cmp_ok(scalar keys %seen, '>', 1, 'events spread over several partitions');

$t->done;

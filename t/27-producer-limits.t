#!/usr/bin/perl

# Clients must not choose Kafka's shape (issue 7):
#   - evbus_max_topics: the distinct computed topics a worker produces to
#     (default 64); an event whose topic would be one more is rejected, its
#     error names the limit, its dead letter has kind "topic", and the
#     broker gets no topic beyond the limit;
#   - a computed topic starting with "_" is rejected (internal topics);
#   - metadata.user_agent is at most 512 bytes, cut on a UTF-8 boundary.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(sleep time);
use Evbus;

my $t = Evbus->new('limits')->need_kafka;
my $base = $t->topic;
my $dlq = "$base-dlq";
my $ua_topic = "$base-ua";

# one worker: the limit is per worker
$t->start_ok(workers => 1,
    http => ["evbus_dead_letter_topic $dlq;",
             'large_client_header_buffers 4 16k;',
             'map $evbus_event_type $evbus_allowed {',
             '    volatile;',
             "    click     $base-click;",
             "    purchase  $base-purchase;",
             "    default   $base-other;",
             '}'],
    locations => <<"EOF2");
location = /e { evbus; evbus_topic $base-ty-\$evbus_event_type; }
location = /map { evbus; evbus_topic \$evbus_allowed; }
location = /bare { evbus; evbus_topic \$evbus_event_type; }
location = /ua { evbus; evbus_topic $ua_topic; }
EOF2

# the README's way to allow a fixed set of types: a volatile map (each
# event of a request is mapped anew)

my ($st, $h, $j) = $t->post('/map', '[{"event_type":"click","event_id":"m-1"},'
    . '{"event_type":"purchase","event_id":"m-2"},'
    . '{"event_type":"invented","event_id":"m-3"},'
    . '{"event_type":"click","event_id":"m-4"}]');
is($st, 202, 'map: 202');
is($j->{accepted}, 4, 'map: 4 accepted');
for (['click', 'm-1 m-4'], ['purchase', 'm-2'], ['other', 'm-3']) {
    my ($suffix, $ids) = @$_;
    my @want = split / /, $ids;
    my $got = $t->kafka_read("$base-$suffix", scalar @want);
    is_deeply([sort map { $_->{key} } @$got], \@want,
        "map: $suffix events in $base-$suffix");
}

# 70 invented types: with the 3 topics above, 61 more topics; 9 events
# rejected, naming the limit

my @types = map { sprintf 'ty%02d', $_ } 0 .. 69;
my $body = '[' . join(',', map { qq{{"event_type":"$_","event_id":"id-$_"}} }
    @types) . ']';
($st, $h, $j) = $t->post('/e', $body);
is($st, 202, '70 types: 202');
is($j->{accepted}, 61, '61 accepted');
is($j->{rejected}, 9, '9 rejected');
my @errs = @{ $j->{errors} || [] };
is_deeply([map { $_->{index} } @errs], [61 .. 69],
    'the events of the 65th computed topic on are the rejected ones');
my @bad = grep { $_->{error} !~ /^topic "\Q$base\E-ty-ty\d\d" refused: .*64 .*evbus_max_topics/ }
    @errs;
ok(!@bad, 'each error names the topic and evbus_max_topics')
    or diag(explain(\@bad));

# a known computed topic still works, a new one still does not
($st, $h, $j) = $t->post('/e', '[{"event_type":"ty00","event_id":"again-00"},'
    . '{"event_type":"ty65","event_id":"again-65"}]');
is($st, 202, 'known and new type: 202');
is($j->{accepted}, 1, 'the known type accepted');
is($j->{errors}[0]{index}, 1, 'the new type rejected');

# internal topics
($st, $h, $j) = $t->post('/bare', '[{"event_type":"_x","event_id":"u-1"},'
    . '{"event_type":"__consumer_offsets","event_id":"u-2"}]');
is($st, 400, 'topics starting with "_": 400');
is(scalar(grep { $_->{error} =~ /must not start with "_"/ }
    @{ $j->{errors} || [] }), 2, 'both rejected for the "_"')
    or diag(explain($j));

# what the broker has: the 64 topics, none beyond

my $b = Evbus::brokers();
my (%have, $deadline);
$deadline = time() + 90;    # 61 topics auto-created at once: slow on a loaded broker
while (1) {
    my $md = `timeout 90 kcat -L -b '$b' -m 60 2>/dev/null`;
    %have = map { $_ => 1 } $md =~ /topic "(\Q$base\E-ty-[^"]+)"/g;
    last if keys %have >= 61 || time() > $deadline;
    sleep 0.5;
}
is(scalar(keys %have), 61, 'the broker has the 61 topics');
ok(!(grep { $have{"$base-ty-$_"} } @types[61 .. 69]),
    'and none of the rejected types');
my $m0 = $t->kafka_read("$base-ty-ty00", 2);
is_deeply([sort map { $_->{key} } @$m0], ['again-00', 'id-ty00'],
    'a topic within the limit got its events');

# dead letters of kind "topic"

my $dl = $t->kafka_read($dlq, 12);
my %dead = map { ($_->{key} // '') => $_ } @$dl;
is_deeply([sort keys %dead],
    [sort((map { "id-$_" } @types[61 .. 69]), 'again-65', 'u-1', 'u-2')],
    'a dead letter per rejected event');
my @badenv = grep {
    my $m = $dead{$_};
    !($m->{value}{error}{kind} eq 'topic'
      && $m->{headers}{error_kind} eq 'topic'
      && ($m->{value}{error}{message} =~ /evbus_max_topics|start with "_"/)
      && Evbus::json_decode($m->{value}{raw})->{event_id} eq $_)
} keys %dead;
ok(!@badenv, 'kind "topic", the error and the raw event in each')
    or diag("@badenv");

# the User-Agent: 8 KB of control bytes, 512 bytes kept

my $ua = join '', map { my $c = 1 + $_ % 30; $c = 0x1f if $c == 9 || $c == 10
    || $c == 13; chr $c } 0 .. 8191;
my $ev = '{"event_type":"ua","event_id":"ua-ctl"}';
($st) = $t->raw_request("POST /ua HTTP/1.1\r\nHost: localhost\r\n"
    . "User-Agent: $ua\r\nContent-Type: application/json\r\n"
    . 'Content-Length: ' . length($ev) . "\r\nConnection: close\r\n\r\n$ev");
is($st, 202, '8 KB User-Agent of control bytes: 202');

# a two-byte character across byte 512 is left out whole
my $ua2 = ('a' x 511) . "\xc3\xa9" . ('b' x 100);
$ev = '{"event_type":"ua","event_id":"ua-utf8"}';
($st) = $t->raw_request("POST /ua HTTP/1.1\r\nHost: localhost\r\n"
    . "User-Agent: $ua2\r\nContent-Type: application/json\r\n"
    . 'Content-Length: ' . length($ev) . "\r\nConnection: close\r\n\r\n$ev");
is($st, 202, 'User-Agent with a character across byte 512: 202');

my $um = $t->kafka_read($ua_topic, 2);
my %u = map { ($_->{key} // '') => $_ } @$um;
my $got = $u{'ua-ctl'} && $u{'ua-ctl'}{value}{metadata}{user_agent};
is(length($got // ''), 512, 'user_agent: 512 characters');
is($got, substr($ua, 0, 512), 'the first 512 bytes of the header');
cmp_ok(length($u{'ua-ctl'}{raw} // ''), '<', 4096,
    'the Kafka value stays small');
is($u{'ua-utf8'} && $u{'ua-utf8'}{value}{metadata}{user_agent}, 'a' x 511,
    'cut before the character that would cross 512 bytes');

$t->done;

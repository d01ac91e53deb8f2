#!/usr/bin/perl

# Every byte produced is valid JSON and valid UTF-8 (issue 7): form feed
# and vertical tab, which yajl takes for whitespace, reject their event
# (or the body around events); invalid UTF-8 in the User-Agent and in the
# raw text of a dead letter reaches Kafka as U+FFFD.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Encode ();
use Evbus;

my $t = Evbus->new('strict-bytes')->need_kafka;
my $topic = $t->topic;
my $dlq = $t->topic('dlq');
my $nd = $t->topic('nd');

$t->start_ok(locations => <<"EOF2");
location = /e { evbus; evbus_topic $topic; }
location = /d { evbus; evbus_topic $nd; evbus_dead_letter_topic $dlq; }
EOF2

# strict UTF-8: undef unless every byte is part of a well-formed sequence
sub strict_utf8 {
    my ($bytes) = @_;
    my $copy = $bytes;
    return eval { Encode::decode('UTF-8', $copy, Encode::FB_CROAK) };
}

my $ws = 'a form feed or vertical tab is not JSON whitespace';

# form feed and vertical tab inside events: those events are rejected

my ($st, $h, $j) = $t->post('/e', "[{\"event_type\":\"a\",\"event_id\":"
    . "\"ff-1\",\"v\":[\f1]},{\"event_type\":\"a\",\"event_id\":\"vt-1\","
    . "\"v\":\x0b1},{\"event_type\":\"a\",\"event_id\":\"ok-1\",\"v\":[ 1 ]}]");
is($st, 202, 'form feed, vertical tab in events: 202');
is_deeply([ map { [$_->{index}, $_->{error}] } @{ $j->{errors} || [] } ],
    [ [0, "invalid JSON: $ws"], [1, "invalid JSON: $ws"] ],
    'both events rejected as invalid JSON');

# around the events of a JSON body: 400, nothing produced

for my $body ("[\f{\"event_type\":\"a\",\"event_id\":\"ff-2\"}]",
    "[{\"event_type\":\"a\",\"event_id\":\"ff-3\"},\x0b"
        . "{\"event_type\":\"a\",\"event_id\":\"ff-4\"}]",
    "{\"event_type\":\"a\",\"event_id\":\"ff-5\"}\f")
{
    ($st, $h, $j) = $t->post('/e', $body);
    (my $show = $body) =~ s/([\f\x0b])/sprintf '\\x%02x', ord $1/ge;
    is($st, 400, "around events: 400 ($show)");
    like($j && $j->{error}, qr/\Q$ws\E/, 'the error names it');
}

# NDJSON: the line is rejected, the others produced

($st, $h, $j) = $t->post('/e', "{\"event_type\":\"a\",\"event_id\":\"ok-2\"}\n"
    . "\f{\"event_type\":\"a\",\"event_id\":\"ff-6\"}\n",
    content_type => 'application/x-ndjson');
is($st, 202, 'NDJSON: 202');
is_deeply([ map { $_->{index} } @{ $j->{errors} || [] } ], [1],
    'NDJSON: the line with a form feed is rejected');

my $msgs = $t->kafka_read($topic, 2);
sleep 1;
$msgs = $t->kafka_read($topic, 2);
is_deeply([ sort map { $_->{key} } @$msgs ], [ 'ok-1', 'ok-2' ],
    'Kafka holds exactly the events without form feed or vertical tab');
ok(!grep({ $_->{raw} =~ /[\f\x0b]/ } @$msgs),
    'no form feed or vertical tab reached Kafka');

# invalid UTF-8 in the User-Agent and in dead letters' raw text

my $fffd = "\xef\xbf\xbd";
my $ua = "ua-\xc3\xc3-\xc2\xff-\xf8\x88\x80\x80\x80-\xfb\xbf-end";
my $ua_want = "ua-$fffd$fffd-$fffd$fffd-" . ($fffd x 5) . "-"
    . ($fffd x 2) . "-end";

sub raw_post {
    my ($path, $type, $body) = @_;
    return $t->raw_request("POST $path HTTP/1.1\r\nHost: localhost\r\n"
        . "User-Agent: $ua\r\nContent-Type: $type\r\n"
        . "Content-Length: " . length($body) . "\r\n"
        . "Connection: close\r\n\r\n$body");
}

($st) = raw_post('/e', 'application/json',
    '{"event_type":"ua","event_id":"ua-1"}');
is($st, 202, 'a User-Agent with invalid UTF-8: 202');

my %bad = (
    'c3c3' => "\xc3\xc3",
    'c2ff' => "\xc2\xff",
    'f8'   => "\xf8\x88\x80\x80\x80",
    'fb'   => "\xfb\xbf",
    'c080' => "\xc0\x80",
);
my %bad_want = (
    'c3c3' => "$fffd$fffd",
    'c2ff' => "$fffd$fffd",
    'f8'   => $fffd x 5,
    'fb'   => "$fffd$fffd",
    'c080' => "$fffd$fffd",
);

my $nd_body = '';
for my $k (sort keys %bad) {
    $nd_body .= "{\"event_id\":\"dl-$k\",\"event_type\":\"a\","
        . "\"s\":\"x$bad{$k}y\"}\n";
}
$nd_body .= "{\"event_type\":\"a\",\"event_id\":\"dl-ok\"}\n";

($st, $h, $j) = raw_post('/d', 'application/x-ndjson', $nd_body);
is($st, 202, 'NDJSON with invalid UTF-8 lines: 202');
is(scalar @{ $j->{errors} || [] }, scalar keys %bad,
    'each invalid line is rejected');

$msgs = $t->kafka_read($topic, 3);
my ($m) = grep { ($_->{key} // '') eq 'ua-1' } @$msgs;
ok($m, 'the event with the bad User-Agent reached Kafka');
ok($m && defined strict_utf8($m->{raw}), 'its value is valid UTF-8');
is($m && $m->{value} && Encode::encode('UTF-8',
    $m->{value}{metadata}{user_agent}), $ua_want,
    'metadata.user_agent: every invalid sequence is U+FFFD');

my $dl = $t->kafka_read($dlq, scalar keys %bad);
is(scalar @$dl, scalar keys %bad, 'one dead letter per invalid line');
for my $k (sort keys %bad) {
    my ($d) = grep { $_->{raw} =~ /dl-\Q$k\E/ } @$dl;
    ok($d, "dead letter of $k") or next;
    ok(defined strict_utf8($d->{raw}), "dead letter of $k: valid UTF-8");
    my $v = $d->{value} || {};
    is(Encode::encode('UTF-8', $v->{raw} // ''),
        "{\"event_id\":\"dl-$k\",\"event_type\":\"a\","
        . "\"s\":\"x$bad_want{$k}y\"}",
        "dead letter of $k: raw with U+FFFD");
    is(Encode::encode('UTF-8', $v->{metadata}{user_agent} // ''), $ua_want,
        "dead letter of $k: metadata.user_agent with U+FFFD");
}

$t->done;

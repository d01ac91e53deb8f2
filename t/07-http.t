#!/usr/bin/perl

# HTTP-level answers: 405 with Allow, 415, 413 for too many events and for
# nginx's client_max_body_size; none of them produces anything.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus;

my $t = Evbus->new('http')->need_kafka;
my $topic = $t->topic;

$t->start_ok(
    http => ["evbus_topic $topic;"],
    locations => <<'EOF');
location = /e { evbus; }
location = /m { evbus; evbus_max_events 3; }
location = /l { evbus; client_max_body_size 1k; }
EOF

my $ev = '{"event_type":"h","event_id":"bad"}';

# methods

for my $m (qw(GET PUT DELETE PATCH OPTIONS)) {
    my ($st, $h, $j, $raw) = $t->http($m, '/e',
        $m =~ /PUT|PATCH/ ? $ev : undef, content_type => 'application/json');
    is($st, 405, "$m: 405");
    is($h->{allow}, 'POST', "$m: Allow: POST");
    is(ref $j eq 'HASH' ? $j->{error} : undef, 'method not allowed, use POST',
        "$m: JSON error field") or diag($raw);
    is(ref $j eq 'HASH' ? $j->{accepted} : undef, 0, "$m: accepted 0");
}

my ($st, $h) = $t->http('HEAD', '/e');
is($st, 405, 'HEAD: 405');
is($h->{allow}, 'POST', 'HEAD: Allow: POST');

# content types

my $bad_ct = 'unsupported content type, use application/json or'
    . ' application/x-ndjson';

for my $ct ('text/plain', 'application/xml', 'application/jsonx',
    'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x',
    'application/ndjson-x', 'json')
{
    my ($st, $h, $j, $raw) = $t->post('/e', $ev, content_type => $ct);
    is($st, 415, "Content-Type $ct: 415");
    is(ref $j eq 'HASH' ? $j->{error} : undef, $bad_ct,
        "Content-Type $ct: JSON error field") or diag($raw);
}

($st, $h, my $j, my $raw) = $t->raw_request("POST /e HTTP/1.1\r\n"
    . "Host: localhost\r\nContent-Length: " . length($ev) . "\r\n"
    . "Connection: close\r\n\r\n$ev");
is($st, 415, 'no Content-Type: 415');
is(ref $j eq 'HASH' ? $j->{error} : undef, $bad_ct,
    'no Content-Type: JSON error field') or diag($raw);

# too many events

my $too_many = 'more than 3 events in one request (evbus_max_events)';

my $four = '[' . join(',', map { qq{{"event_type":"h","event_id":"m4-$_"}} }
    1 .. 4) . ']';
($st, $h, $j, $raw) = $t->post('/m', $four);
is($st, 413, '4 events where evbus_max_events is 3: 413');
is_deeply($j, { accepted => 0, rejected => 0, event_ids => [], errors => [],
    error => $too_many }, '413: the body says why, nothing accepted')
    or diag($raw);

($st, $h, $j, $raw) = $t->post('/m', join("\n",
    map { qq{{"event_type":"h","event_id":"n4-$_"}} } 1 .. 4),
    content_type => 'application/x-ndjson');
is($st, 413, '4 ndjson events where evbus_max_events is 3: 413');
is($j->{error}, $too_many, 'ndjson 413: the error') or diag($raw);
is($j->{accepted}, 0, 'ndjson 413: nothing accepted');

my $three = '[' . join(',', map { qq{{"event_type":"h","event_id":"ok3-$_"}} }
    1 .. 3) . ']';
($st, $h, $j) = $t->post('/m', $three);
is($st, 202, '3 events where evbus_max_events is 3: 202');
is($j->{accepted}, 3, '3 accepted');

# rejected events count too
($st, $h, $j, $raw) = $t->post('/m',
    '[{"event_type":"h","event_id":"r4-1"},{},{},{}]');
is($st, 413, '1 valid and 3 invalid events: 413');
is($j->{error}, $too_many, '1 valid and 3 invalid: the error') or diag($raw);
is_deeply($j->{event_ids}, [], '1 valid and 3 invalid: no id accepted');

# the default limit is 500
my $many = sub {
    my ($p, $n) = @_;
    '[' . join(',', map { qq{{"event_type":"h","event_id":"$p-$_"}} } 1 .. $n)
        . ']';
};
($st, $h, $j, $raw) = $t->post('/e', $many->('d501', 501));
is($st, 413, '501 events by default: 413');
is($j->{error}, 'more than 500 events in one request (evbus_max_events)',
    '501 events: the error names the limit') or diag($raw);
($st, $h, $j) = $t->post('/e', $many->('ok500', 500));
is($st, 202, '500 events by default: 202');
is($j->{accepted}, 500, '500 accepted');

# client_max_body_size

($st, $h, $j, $raw) = $t->post('/l',
    '{"event_type":"h","event_id":"big","pad":"' . ('x' x 2000) . '"}');
is($st, 413, 'body over client_max_body_size: 413');
like($h->{'content-type'} // '', qr{^application/json},
    'client_max_body_size: answered as JSON');
like(ref $j eq 'HASH' ? $j->{error} // '' : '', qr/client_max_body_size|
    too large/x, 'client_max_body_size: the error says why') or diag($raw);
is(ref $j eq 'HASH' ? $j->{accepted} : undef, 0,
    'client_max_body_size: nothing accepted');

my $bigc = '{"event_type":"h","event_id":"bigc","pad":"' . ('x' x 2000) . '"}';
($st, $h, $j, $raw) = $t->raw_request(["POST /l HTTP/1.1\r\nHost: localhost\r\n"
    . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    . "Connection: close\r\n\r\n",
    map({ sprintf("%x\r\n%s\r\n", length $_, $_) } $bigc =~ /(.{1,500})/gs),
    "0\r\n\r\n"], pause => 0.01);
is($st, 413, 'chunked body over client_max_body_size: 413');
like(ref $j eq 'HASH' ? $j->{error} // '' : '', qr/\S/,
    'chunked body over client_max_body_size: JSON error') or diag($raw);

($st, $h, $j) = $t->post('/l', '{"event_type":"h","event_id":"ok-small"}');
is($st, 202, 'body under client_max_body_size: 202');

# two requests pipelined on one connection

my $p1 = '{"event_type":"h","event_id":"pl-1"}';
my $p2 = '[{"event_type":"h","event_id":"pl-2"},{"event_type":"h","event_id":"pl-3"}]';
my $pipe = "POST /e HTTP/1.1\r\nHost: localhost\r\n"
    . "Content-Type: application/json\r\nContent-Length: " . length($p1)
    . "\r\n\r\n$p1"
    . "POST /e HTTP/1.1\r\nHost: localhost\r\n"
    . "Content-Type: application/json\r\nContent-Length: " . length($p2)
    . "\r\nConnection: close\r\n\r\n$p2";
$t->raw_request($pipe);
$raw = $t->{last_raw};
($st, $h, $j) = Evbus::parse_response($raw);
is($st, 202, 'pipelined: first 202');
my ($second) = $raw =~ /\A.+(HTTP\/1\.1 .*)\z/s;
my ($st2, $h2, $j2) = Evbus::parse_response($second // '');
is($st2, 202, 'pipelined: second 202');
is_deeply($j2 && $j2->{event_ids}, ['pl-2', 'pl-3'],
    'pipelined: second request\'s own events');

# a refused request's body is not taken for the next request

my $req = sub {
    my ($method, $path, $ct, $body, $close) = @_;
    return "$method $path HTTP/1.1\r\nHost: localhost\r\n"
        . (defined $ct ? "Content-Type: $ct\r\n" : '')
        . "Content-Length: " . length($body) . "\r\n"
        . ($close ? "Connection: close\r\n" : '') . "\r\n$body";
};
my $next = '{"event_type":"h","event_id":"after-%s"}';
my $smuggle = 'POST /e HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
    . 'Content-Length: 38\r\n\r\n{"event_type":"h","event_id":"smuggle"}';
for my $c (['415', 'POST', '/e', 'text/plain', $smuggle],
    ['405', 'PUT', '/e', 'application/json', $smuggle],
    ['413', 'POST', '/m', 'application/json', $four],
    ['400', 'POST', '/e', 'application/json', '{"event_type":'])
{
    my ($want, $m, $path, $ct, $body) = @$c;
    $t->raw_request($req->($m, $path, $ct, $body)
        . $req->('POST', '/e', 'application/json', sprintf($next, $want), 1));
    my @st = $t->{last_raw} =~ m{^HTTP/1\.1 (\d{3})}mg;
    is("@st", "$want 202", "$want, then a request on the same connection");
}

# Expect: 100-continue

my $ec = '{"event_type":"h","event_id":"ec-1"}';
$t->raw_request(["POST /e HTTP/1.1\r\n"
    . "Host: localhost\r\nContent-Type: application/json\r\n"
    . "Content-Length: " . length($ec) . "\r\nExpect: 100-continue\r\n"
    . "Connection: close\r\n\r\n", $ec], pause => 0.2);
$raw = $t->{last_raw};
like($raw, qr{^HTTP/1\.1 100 Continue\r\n\r\n}, 'Expect: 100-continue: 100');
($st, $h, $j) = Evbus::parse_response(
    $raw =~ s{^HTTP/1\.1 100 Continue\r\n\r\n}{}r);
is($st, 202, 'Expect: 100-continue: 202');

# exactly the accepted events reached Kafka

my @want = ('ok-small', 'pl-1', 'pl-2', 'pl-3', 'ec-1',
    map({ "after-$_" } qw(415 405 413 400)), map({ "ok3-$_" } 1 .. 3),
    map({ "ok500-$_" } 1 .. 500));
$t->stop_and_check_topics([$topic, \@want,
    'only events of accepted requests reached Kafka']);

$t->done;

#!/usr/bin/perl

# README contract items that no other file covers:
#   - metadata.user_agent: null without a User-Agent, invalid UTF-8
#     replaced by U+FFFD;
#   - metadata.client_ip is $remote_addr, so the realip module applies;
#   - one request_id per request, shared by its events;
#   - Content-Type application/ndjson;
#   - a computed topic that is not a valid Kafka topic name rejects the
#     event;
#   - nginx's own errors in an evbus location (400 for a broken chunked
#     body, 408 for client_body_timeout, limit_req's 503) in the JSON shape;
#   - metrics: evbus_dead_letters_total, evbus_ack_timeouts_total.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus qw(free_port);

my $t = Evbus->new('contract')->need_kafka;
my $topic = $t->topic;
my $dlq = $t->topic('dlq');

$t->start_ok(
    http => ["evbus_topic $topic;",
        'limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;'],
    locations => <<"EOF");
location = /e { evbus; }
location = /rip {
    evbus;
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;
}
location = /t { evbus; evbus_topic \$http_x_topic; }
location = /d { evbus; evbus_dead_letter_topic $dlq; }
location = /slow { evbus; client_body_timeout 1s; }
location = /lim { evbus; limit_req zone=one; }
location = /metrics { evbus_status; }
EOF

sub metrics { return scalar $t->metrics }

# a request with exactly these header lines (no User-Agent unless given)
sub raw_post {
    my ($path, $body, @headers) = @_;
    return $t->raw_request("POST $path HTTP/1.1\r\nHost: localhost\r\n"
        . join('', map { "$_\r\n" } @headers)
        . 'Content-Length: ' . length($body) . "\r\n"
        . "Connection: close\r\n\r\n$body");
}

my ($st, $h, $j, $raw) = raw_post('/e', '{"event_type":"ua","event_id":"ua-none"}',
    'Content-Type: application/json');
is($st, 202, 'no User-Agent: 202') or diag($raw);
($st, $h, $j, $raw) = raw_post('/e', '{"event_type":"ua","event_id":"ua-bad"}',
    'Content-Type: application/json', "User-Agent: sdk\xff\xc3/1.0");
is($st, 202, 'User-Agent with invalid UTF-8: 202') or diag($raw);

($st, $h, $j) = $t->post('/rip', '{"event_type":"ip","event_id":"ip-1"}',
    headers => { 'X-Forwarded-For' => '203.0.113.7' });
is($st, 202, 'behind a trusted proxy: 202');

($st, $h, $j) = $t->post('/e',
    '[{"event_type":"r","event_id":"r1-a"},{"event_type":"r","event_id":"r1-b"},'
    . '{"event_type":"r","event_id":"r1-c"}]');
is($st, 202, 'request 1: 202');
($st, $h, $j) = $t->post('/e', '{"event_type":"r","event_id":"r2-a"}');
is($st, 202, 'request 2: 202');

($st, $h, $j) = $t->post('/e', qq{{"event_type":"nd","event_id":"nd-1"}\n}
    . qq{{"event_type":"nd","event_id":"nd-2"}\n},
    content_type => 'application/ndjson');
is($st, 202, 'application/ndjson: 202');
is_deeply($j->{event_ids}, ['nd-1', 'nd-2'], 'application/ndjson: two events');

($st, $h, $j, $raw) = $t->post('/t', '{"event_type":"tp","event_id":"tp-1"}',
    headers => { 'X-Topic' => 'bad topic!' });
is($st, 400, 'an invalid computed topic: 400') or diag($raw);
is($j->{rejected}, 1, 'the event is rejected');
like($j->{errors}[0]{error} // '', qr/topic/, 'the reason names the topic')
    or diag($raw);

my @want = qw(ua-none ua-bad ip-1 r1-a r1-b r1-c r2-a nd-1 nd-2);
my $msgs = $t->kafka_read($topic, scalar @want);
my %m = map { ($_->{key} // '') => $_ } @$msgs;
is_deeply([sort keys %m], [sort @want], 'the events arrived');

like($m{'ua-none'}{raw} // '', qr/"user_agent":null[,}]/,
    'no User-Agent: user_agent is null');
my $ua = $m{'ua-bad'} ? $m{'ua-bad'}{raw} : '';
like($ua, qr/"user_agent":"sdk\xef\xbf\xbd\xef\xbf\xbd\/1\.0"/,
    'invalid UTF-8 in User-Agent: U+FFFD for each bad byte') or diag($ua);
is($m{'ip-1'} && $m{'ip-1'}{value}{metadata}{client_ip}, '203.0.113.7',
    'client_ip: the realip module\'s address');
is($m{'ua-none'} && $m{'ua-none'}{value}{metadata}{client_ip}, '127.0.0.1',
    'client_ip: the peer without realip');

my %rid = map { $_ => $m{$_} && $m{$_}{value}{metadata}{request_id} }
    qw(r1-a r1-b r1-c r2-a);
like($rid{'r1-a'} // '', qr/^[0-9a-f]{32}$/, 'request_id: 32 hex');
is_deeply([@rid{qw(r1-b r1-c)}], [$rid{'r1-a'}, $rid{'r1-a'}],
    'one request_id for the events of one request');
isnt($rid{'r2-a'}, $rid{'r1-a'}, 'another for the next request');

# dead letters are counted

my $m0 = metrics();
($st) = $t->post('/d', '[{"event_type":"dl","event_id":"dl-ok"},{"x":1}]');
is($st, 202, 'one valid, one invalid: 202');
my $dl = $t->kafka_read($dlq, 1);
is(scalar @$dl, 1, 'one dead letter');
is(metrics()->{evbus_dead_letters_total}
    - ($m0->{evbus_dead_letters_total} // 0), 1,
    'evbus_dead_letters_total counts it');

# nginx's own errors, answered in the JSON shape

sub json_error {
    my ($name, $want, $st, $h, $j, $raw) = @_;
    is($st, $want, "$name: $want");
    like($h->{'content-type'} // '', qr{^application/json}, "$name: JSON")
        or diag($raw);
    ok(ref $j eq 'HASH' && ($j->{error} // '') =~ /\S/
        && ($j->{accepted} // -1) == 0 && ref $j->{event_ids} eq 'ARRAY',
        "$name: error, accepted 0, event_ids") or diag($raw);
}

json_error('broken chunked body', 400, $t->raw_request(
    "POST /e HTTP/1.1\r\nHost: localhost\r\n"
    . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    . "Connection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"));

# nginx 1.22 answers no 408 at all: on client_body_timeout it closes the
# connection (ngx_http_finalize_request terminates the request); if it ever
# answers, the answer must be JSON
my @r = $t->raw_request("POST /slow HTTP/1.1\r\nHost: localhost\r\n"
    . "Content-Type: application/json\r\nContent-Length: 100\r\n"
    . "Connection: close\r\n\r\n{\"event_type\":", timeout => 10);
if ($r[0] == 0) {
    is($t->{last_raw}, '', 'client_body_timeout: closed without an answer');
} else {
    json_error('client_body_timeout', 408, @r);
}

($st) = $t->post('/lim', '{"event_type":"lim","event_id":"lim-1"}');
is($st, 202, 'limit_req: the first request passes');
json_error('limit_req', 503,
    $t->post('/lim', '{"event_type":"lim","event_id":"lim-2"}'));

ok($t->stop, 'nginx stopped in time');
$t->check_error_log;

# a held response that times out with Kafka unreachable: counted

my $n = Evbus->new('contract-ack');
$n->start_ok(brokers => '127.0.0.1:' . free_port(), workers => 1,
    locations => "location = /k { evbus; evbus_ack kafka;"
        . " evbus_ack_timeout 1s; }\n"
        . "location = /metrics { evbus_status; }");
($st, $h, $j) = $n->post('/k', '{"event_type":"k","event_id":"k-1"}');
is($st, 504, 'evbus_ack_timeout with Kafka unreachable: 504');
is_deeply([@$j{qw(accepted unknown error)}], [0, 1, 'timed out waiting for'
    . ' Kafka: the outcome of some events is unknown, they may or may not'
    . ' arrive'], '504: unknown 1, the error');
($st, $h, $j, $raw) = $n->http('GET', '/metrics');
like($raw, qr/^evbus_ack_timeouts_total 1$/m,
    'evbus_ack_timeouts_total counts it');
like($raw, qr/^evbus_responses_total\{class="5xx"\} 1$/m, 'a 5xx');
ok($n->stop(timeout => 30), 'stopped');
$n->check_error_log;

done_testing();

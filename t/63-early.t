#!/usr/bin/perl

# Early rejects: method, declared length (client_max_body_size and
# evbus_max_inflated_size), content type, encoding, origin and write key
# are decided from the headers, before the body is read: a request
# declaring 1 GB, or one whose body never comes, is answered in
# milliseconds.  Nothing of them reaches Kafka.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus;

my $t = Evbus->new('early')->need_kafka;
my $topic = $t->topic;

open my $fh, '>', $t->dir . '/keys.txt' or die $!;
print $fh "wk_early early\n";
close $fh;

$t->start_ok(
    http => ["evbus_topic $topic;"],
    locations => <<'EOF');
location = /e {
    evbus;
    evbus_write_keys keys.txt;
    evbus_cors_origins https://shop.example;
}
location = /unlimited {
    evbus;
    client_max_body_size 0;
    evbus_max_inflated_size 64k;
}
EOF

my $head = sub {
    my ($method, $path, %h) = @_;
    my $req = "$method $path HTTP/1.1\r\nHost: localhost\r\n";
    $req .= "$_: $h{$_}\r\n" for sort keys %h;
    return "$req\r\n";
};
my %json = ('Content-Type' => 'application/json');
my %key = ('X-Write-Key' => 'wk_early');

for my $c (
    ['1 GB declared', 413, 'POST', '/e', %json, %key,
        'Content-Length' => 1 << 30],
    ['1 GB declared, gzip, no client_max_body_size', 413, 'POST',
        '/unlimited', %json, 'Content-Encoding' => 'gzip',
        'Content-Length' => 1 << 30],
    ['no key, body never sent', 401, 'POST', '/e', %json,
        'Content-Length' => 1000],
    ['no key, chunked, body never sent', 401, 'POST', '/e', %json,
        'Transfer-Encoding' => 'chunked'],
    ['unknown key, body never sent', 401, 'POST', '/e', %json,
        'X-Write-Key' => 'nope', 'Content-Length' => 1000],
    ['other origin, no key', 403, 'POST', '/e', %json,
        Origin => 'https://evil.example', 'Content-Length' => 1000],
    ['no key, wrong type', 401, 'POST', '/e',
        'Content-Type' => 'text/html', 'Content-Length' => 1000],
    ['key, wrong type', 415, 'POST', '/e', %key,
        'Content-Type' => 'text/html', 'Content-Length' => 1000],
    ['key, unknown encoding', 415, 'POST', '/e', %key, %json,
        'Content-Encoding' => 'br', 'Content-Length' => 1000],
    ['GET with a body declared', 405, 'GET', '/e', %key,
        'Content-Length' => 1000])
{
    my ($name, $want, $method, $path, %h) = @$c;
    my ($st, $h, $j, $body, $ms) = $t->first_response(
        $head->($method, $path, %h));
    is($st, $want, "$name: $want");
    like($j && $j->{error} // '', qr/\S/, "$name: JSON error")
        or diag($body);
    cmp_ok($ms, '<', 500, "$name: answered in ${\ int $ms} ms");
}

# a preflight carries no key: it is answered before the key is asked for
my ($pst, $ph) = $t->http('OPTIONS', '/e', undef, headers => {
    Origin => 'https://shop.example',
    'Access-Control-Request-Method' => 'POST',
    'Access-Control-Request-Headers' => 'x-write-key' });
is($pst, 204, 'preflight without a key where keys are required: 204');
is($ph->{'access-control-allow-origin'}, 'https://shop.example',
    'preflight: Access-Control-Allow-Origin');

# the one accepted request is all that reached Kafka
my ($st) = $t->post('/e', '{"event_type":"early","event_id":"ok-1"}',
    headers => \%key);
is($st, 202, 'a request with its key and body: 202');

my $msgs = $t->kafka_read($topic, 1);
sleep 1;
$msgs = $t->kafka_read($topic, 1, 2);
is_deeply([map { $_->{key} } @$msgs], ['ok-1'],
    'nothing of the refused requests reached Kafka');
is($msgs->[0] && $msgs->[0]{value}{metadata}{write_key}, 'early',
    'the accepted one carries its label');

$t->done;

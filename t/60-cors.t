#!/usr/bin/perl

# Browsers: evbus_cors_origins (preflight 204 with the allowed methods and
# headers, Access-Control-Allow-Origin and Vary: Origin on answers, 403
# without reading the body for other origins, suffix wildcards) and
# evbus_accept_text_plain (sendBeacon's text/plain).  What reached Kafka
# is exactly the events of allowed requests.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus;

my $t = Evbus->new('cors')->need_kafka;
my $topic = $t->topic;

$t->start_ok(
    http => ["evbus_topic $topic;"],
    locations => <<'EOF');
location = /e {
    evbus;
    evbus_cors_origins https://shop.example https://*.cdn.example;
}
location = /any { evbus; evbus_cors_origins *; }
location = /small {
    evbus;
    evbus_cors_origins https://shop.example;
    client_max_body_size 100;
}
location = /beacon {
    evbus;
    evbus_cors_origins https://shop.example;
    evbus_accept_text_plain on;
}
location = /nocors { evbus; }
EOF

my $ev = sub { qq{{"event_type":"c","event_id":"$_[0]"}} };
my @want;

# preflight

my ($st, $h, $j, $raw) = $t->http('OPTIONS', '/e', undef, headers => {
    'Origin' => 'https://shop.example',
    'Access-Control-Request-Method' => 'POST',
    'Access-Control-Request-Headers' => 'content-type, content-encoding',
});
is($st, 204, 'preflight from an allowed origin: 204');
is($h->{'access-control-allow-origin'}, 'https://shop.example',
    'preflight: Access-Control-Allow-Origin echoes the origin');
like($h->{'access-control-allow-methods'} // '', qr/\bPOST\b/,
    'preflight: POST allowed');
for my $hd (qw(Content-Type Content-Encoding Authorization X-Write-Key
    traceparent))
{
    like($h->{'access-control-allow-headers'} // '', qr/\b\Q$hd\E\b/i,
        "preflight: $hd allowed");
}
is($h->{'access-control-max-age'}, '7200', 'preflight: Max-Age');
like($h->{vary} // '', qr/\bOrigin\b/, 'preflight: Vary: Origin');
is($raw, '', 'preflight: no body');
ok(!exists $h->{'access-control-expose-headers'},
    'preflight: no Access-Control-Expose-Headers');

($st, $h, $j, $raw) = $t->http('OPTIONS', '/e', undef, headers => {
    'Origin' => 'https://evil.example',
    'Access-Control-Request-Method' => 'POST',
});
is($st, 403, 'preflight from another origin: 403');
ok(!exists $h->{'access-control-allow-origin'},
    'preflight from another origin: no Access-Control-Allow-Origin');
like($j && $j->{error} // '', qr/origin/, '403: JSON error') or diag($raw);

($st, $h) = $t->http('OPTIONS', '/nocors', undef, headers => {
    'Origin' => 'https://shop.example',
    'Access-Control-Request-Method' => 'POST',
});
is($st, 405, 'no evbus_cors_origins: OPTIONS is 405');
ok(!exists $h->{'access-control-allow-origin'},
    'no evbus_cors_origins: no CORS headers');

($st, $h) = $t->http('OPTIONS', '/e', undef);
is($st, 405, 'OPTIONS that is not a preflight: 405');

# requests

for my $c (['https://shop.example', 202, 'exact'],
    ['https://SHOP.example', 202, 'exact, other case'],
    ['https://a.cdn.example', 202, 'wildcard'],
    ['https://a.b.cdn.example', 202, 'wildcard, two labels'],
    ['https://cdn.example', 403, 'wildcard needs a label'],
    ['https://evilcdn.example', 403, 'wildcard: suffix is a label'],
    ['https://a.cdn.example.evil.com', 403, 'wildcard: not a prefix match'],
    ['https://a.cdn.example:8443', 403, 'wildcard: other port'],
    ['http://shop.example', 403, 'other scheme'],
    ['https://shop.example.evil.com', 403, 'exact: not a prefix'],
    ['null', 403, 'null origin'])
{
    my ($origin, $want, $name) = @$c;
    my $id = "o-$name" =~ s/\W+/-/gr;
    ($st, $h, $j, $raw) = $t->post('/e', $ev->($id),
        headers => { Origin => $origin });
    is($st, $want, "$origin ($name): $want");
    like($h->{vary} // '', qr/\bOrigin\b/, "$origin: Vary: Origin");
    if ($want == 202) {
        is($h->{'access-control-allow-origin'}, $origin,
            "$origin: Access-Control-Allow-Origin");
        # a page's script may read Retry-After (browser SDKs back off)
        is($h->{'access-control-expose-headers'}, 'Retry-After',
            "$origin: Access-Control-Expose-Headers: Retry-After");
        push @want, $id;
    } else {
        ok(!exists $h->{'access-control-allow-origin'},
            "$origin: no Access-Control-Allow-Origin");
        ok(!exists $h->{'access-control-expose-headers'},
            "$origin: no Access-Control-Expose-Headers");
        like($j && $j->{error} // '', qr/origin/, "$origin: JSON error")
            or diag($raw);
    }
}

($st, $h, $j) = $t->post('/e', $ev->('no-origin'));
is($st, 202, 'no Origin (not a browser): 202');
ok(!exists $h->{'access-control-allow-origin'},
    'no Origin: no Access-Control-Allow-Origin');
push @want, 'no-origin';

($st, $h, $j) = $t->post('/any', $ev->('any-1'),
    headers => { Origin => 'https://whoever.example' });
is($st, 202, '*: any origin: 202');
is($h->{'access-control-allow-origin'}, 'https://whoever.example',
    '*: the origin is echoed');
push @want, 'any-1';

# errors carry the CORS headers, so that the page can read them

($st, $h, $j) = $t->post('/e', '{"event_type":',
    headers => { Origin => 'https://shop.example' });
is($st, 400, 'allowed origin, bad body: 400');
is($h->{'access-control-allow-origin'}, 'https://shop.example',
    '400: Access-Control-Allow-Origin');

($st, $h, $j) = $t->post('/small', '{"event_type":"c","pad":"'
    . ('x' x 200) . '"}', headers => { Origin => 'https://shop.example' });
is($st, 413, 'allowed origin, nginx\'s own 413');
is($h->{'access-control-allow-origin'}, 'https://shop.example',
    'nginx\'s own 413: Access-Control-Allow-Origin');
is($h->{'access-control-expose-headers'}, 'Retry-After',
    'nginx\'s own 413: Retry-After exposed');
like($j && $j->{error} // '', qr/client_max_body_size/, '413: JSON error');

# another origin is refused before its body is read: headers only

($st, $h, $j, $raw, my $ms) = $t->first_response("POST /e HTTP/1.1\r\n"
    . "Host: localhost\r\nOrigin: https://evil.example\r\n"
    . "Content-Type: application/json\r\nContent-Length: 100000\r\n"
    . "\r\n");
is($st, 403, 'another origin, body never sent: 403');
cmp_ok($ms, '<', 2000, "answered without the body (${\ int $ms} ms)");

# a refused request's body is not taken for the next request

my $smuggle = $ev->('smuggled');
$t->raw_request("POST /e HTTP/1.1\r\nHost: localhost\r\n"
    . "Origin: https://evil.example\r\nContent-Type: application/json\r\n"
    . "Content-Length: " . length($smuggle) . "\r\n\r\n$smuggle"
    . "POST /e HTTP/1.1\r\nHost: localhost\r\n"
    . "Content-Type: application/json\r\nContent-Length: "
    . length($ev->('after-403')) . "\r\nConnection: close\r\n\r\n"
    . $ev->('after-403'));
my @st = $t->{last_raw} =~ m{^HTTP/1\.1 (\d{3})}mg;
is("@st", "403 202", '403, then a request on the same connection');
push @want, 'after-403';

# sendBeacon: text/plain

($st, $h, $j) = $t->post('/beacon', '[' . $ev->('beacon-1') . ','
    . $ev->('beacon-2') . ']', content_type => 'text/plain;charset=UTF-8',
    headers => { Origin => 'https://shop.example' });
is($st, 202, 'evbus_accept_text_plain: text/plain 202');
is($j && $j->{accepted}, 2, 'text/plain: 2 accepted');
is($h->{'access-control-allow-origin'}, 'https://shop.example',
    'text/plain: Access-Control-Allow-Origin');
push @want, 'beacon-1', 'beacon-2';

($st, $h, $j) = $t->post('/e', $ev->('plain-refused'),
    content_type => 'text/plain');
is($st, 415, 'text/plain without evbus_accept_text_plain: 415');

($st, $h, $j) = $t->post('/beacon', $ev->('html-refused'),
    content_type => 'text/html');
is($st, 415, 'text/html with evbus_accept_text_plain: 415');

# exactly the allowed requests' events reached Kafka

my $msgs = $t->kafka_read($topic, scalar @want);
sleep 1;
$msgs = $t->kafka_read($topic, scalar @want, 2);
is_deeply([sort map { $_->{key} // '' } @$msgs], [sort @want],
    'only events of allowed requests reached Kafka');

$t->done;

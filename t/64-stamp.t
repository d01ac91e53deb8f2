#!/usr/bin/perl

# Stamped metadata: corrected_timestamp from an event's timestamp and the
# request's or the event's sent_at (ingest - (sent_at - timestamp),
# clamped to ingest, absent when a time cannot be read), and
# evbus_metadata members from nginx variables (the userid cookie, a map
# that anonymises the address), null when empty, never set by a client.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus qw(rfc3339_ms);

my $t = Evbus->new('stamp')->need_kafka;
my $topic = $t->topic;

# built-in and duplicate names are configuration errors
my $c = Evbus->new('stamp-conf');
for my $bad (['client_ip', 'evbus_metadata client_ip $remote_addr;'],
    ['write_key', 'evbus_metadata write_key x;'],
    ['corrected_timestamp', 'evbus_metadata corrected_timestamp x;'],
    ['duplicate', 'evbus_metadata a x; evbus_metadata a y;'])
{
    my ($name, $line) = @$bad;
    my ($rc, $out) = $c->nginx_t(http => ["evbus_topic $topic;", $line]);
    isnt($rc, 0, "evbus_metadata $name: nginx -t fails");
    like($out, qr/built-in|duplicate/, "$name: says why") or diag($out);
}

$t->start_ok(
    http => ["evbus_topic $topic;",
        'map $remote_addr $ip_anon {',
        '    ~^(?P<net>\d+\.\d+\.\d+)\.\d+$ $net.0;',
        '    default "";',
        '}'],
    locations => <<'EOF');
location = /e {
    evbus;
    userid on;
    userid_name uid;
    evbus_metadata uid $uid_got;
    evbus_metadata ip_anon $ip_anon;
    evbus_metadata country $http_x_country;
    evbus_metadata "odd \"name\"" "v-$http_x_country";
}
location = /plain { evbus; }
EOF

my %want;    # event_id -> sub checking its metadata
my $post = sub {
    my ($path, $events, %o) = @_;
    my ($st, $h, $j, $raw) = $t->post($path, $events, %o);
    is($st, 202, "$path: 202") or diag($raw);
    return $h;
};

# time: the event's own sent_at
my $ev = sub {
    my ($id, %f) = @_;
    Evbus::json_encode({ event_type => 't', event_id => $id, %f });
};

$post->('/plain', '[' . join(',',
    $ev->('own-sent-at', timestamp => '2020-01-01T00:00:00.000Z',
        sent_at => '2020-01-01T00:00:05.000Z'),
    $ev->('offsets', timestamp => '2020-01-01T02:00:00+02:00',
        sent_at => '2020-01-01T00:01:00.5Z'),
    $ev->('future', timestamp => '2020-01-01T00:01:00Z',
        sent_at => '2020-01-01T00:00:00Z'),
    $ev->('bad-ts', timestamp => 'yesterday',
        sent_at => '2020-01-01T00:00:00Z'),
    $ev->('bad-sent', timestamp => '2020-01-01T00:00:00Z',
        sent_at => 1577836800),
    $ev->('no-sent', timestamp => '2020-01-01T00:00:00Z'),
    $ev->('forged', timestamp => '2020-01-01T00:00:00Z',
        metadata => { corrected_timestamp => 'forged', kept => 1 }),
    ) . ']');
$want{'own-sent-at'} = -5000;
$want{offsets} = -60500;
$want{future} = 0;
$want{'bad-ts'} = undef;
$want{'bad-sent'} = undef;
$want{'no-sent'} = undef;
$want{forged} = undef;

# the request's sent_at: X-Sent-At, and the sent_at argument
$post->('/plain', $ev->('header', timestamp => '2020-01-01T00:00:00Z'),
    headers => { 'X-Sent-At' => '2020-01-01T00:00:30Z' });
$want{header} = -30000;

$post->('/plain?sent_at=2020-01-01T01%3A00%3A10%2B01%3A00',
    $ev->('arg', timestamp => '2020-01-01T00:00:00Z'));
$want{arg} = -10000;

$post->('/plain', $ev->('event-wins', timestamp => '2020-01-01T00:00:00Z',
    sent_at => '2020-01-01T00:00:01Z'),
    headers => { 'X-Sent-At' => '2020-01-01T00:00:30Z' });
$want{'event-wins'} = -1000;

$post->('/plain', $ev->('bad-header', timestamp => '2020-01-01T00:00:00Z'),
    headers => { 'X-Sent-At' => 'now' });
$want{'bad-header'} = undef;

# evbus_metadata: the userid cookie, a map, a header, null when empty

my $h = $post->('/e', $ev->('md-1', metadata => { uid => 'forged' }),
    headers => { 'X-Country' => 'FR' });
my ($cookie) = ($h->{'set-cookie'} // '') =~ /^(uid=[^;]+)/;
ok($cookie, "userid set a cookie: " . ($cookie // 'none'));

$post->('/e', $ev->('md-2'), headers => { Cookie => $cookie // '' });

# a value is copied into every event of the request: at most 512 bytes,
# cut on a UTF-8 boundary (2-byte characters after one ASCII byte)
{
    my $body = $ev->('md-long');
    my ($st) = $t->raw_request("POST /e HTTP/1.1\r\nHost: localhost\r\n"
        . "Content-Type: application/json\r\nConnection: close\r\n"
        . 'X-Country: x' . ("\xc3\xa9" x 300) . "\r\n"
        . 'Content-Length: ' . length($body) . "\r\n\r\n$body");
    is($st, 202, 'a 601-byte header value: 202');
}

my $msgs = $t->kafka_read($topic, 14);
sleep 1;
$msgs = $t->kafka_read($topic, 14, 2);
my %by = map { $_->{key} => $_ } @$msgs;
is(scalar @$msgs, 14, "14 events reached Kafka");

for my $id (sort keys %want) {
    my $md = $by{$id} && $by{$id}{value}{metadata} || {};
    my $ingest = rfc3339_ms($md->{ingest_timestamp});
    if (defined $want{$id}) {
        my $got = rfc3339_ms($md->{corrected_timestamp});
        is(defined $got && defined $ingest ? $got - $ingest : 'none',
            $want{$id}, "$id: corrected_timestamp is ingest $want{$id} ms"
            . " ($md->{corrected_timestamp})");
    } else {
        ok(!exists $md->{corrected_timestamp},
            "$id: no corrected_timestamp");
    }
}
is($by{forged} && $by{forged}{value}{metadata}{kept}, 1,
    'the client\'s other metadata is kept');

my $md1 = $by{'md-1'} && $by{'md-1'}{value}{metadata} || {};
is_deeply([@$md1{qw(uid ip_anon country), 'odd "name"'}],
    [undef, '127.0.0.0', 'FR', 'v-FR'],
    'first request: no cookie yet (null), the map, the header');
ok(exists $md1->{uid}, 'an empty value is null, not absent');

my $md2 = $by{'md-2'} && $by{'md-2'}{value}{metadata} || {};
like($md2->{uid} // '', qr/^uid=[0-9A-F]{32}$/,
    "second request: the cookie's id ($md2->{uid})") if $cookie;
is($md2->{country}, undef, 'no X-Country: null');
is($md2->{'odd "name"'}, 'v-', 'a complex value');

my $md3 = $by{'md-long'} && $by{'md-long'}{raw} || '';
my ($country) = $md3 =~ /"country":"([^"]*)"/;
my ($odd) = $md3 =~ /"odd \\"name\\"":"([^"]*)"/;
is(length($country // ''), 511, 'a 601-byte value is cut to 511 bytes');
is($country, 'x' . ("\xc3\xa9" x 255), '... at the last whole character');
is($odd, 'v-x' . ("\xc3\xa9" x 254), 'a complex value is cut likewise');

$t->done;

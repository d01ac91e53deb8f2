#!/usr/bin/perl

# Write keys: evbus_write_keys file, the key from Authorization: Basic
# base64(key:), X-Write-Key or the writeKey argument; missing or unknown
# keys 401 before the body is read; the label (never the key) in
# metadata.write_key and $evbus_write_key; a reload rotates the keys.

use strict;
use warnings;

use Test::More;
use MIME::Base64 qw(encode_base64);
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus;

my $t = Evbus->new('write-keys')->need_kafka;
my $topic = $t->topic;
my $dir = $t->dir;

sub keys_file {
    open my $fh, '>', "$dir/keys.txt" or die $!;
    print $fh @_;
    close $fh;
}

my $locations = <<'EOF';
location = /e {
    evbus;
    evbus_write_keys keys.txt;
    add_header X-Label "$evbus_write_key" always;
}
location = /open { evbus; add_header X-Label "[$evbus_write_key]" always; }
location = /rl {
    evbus;
    evbus_write_keys keys.txt;
    limit_req zone=wk nodelay;
}
EOF
my %conf = (http => ["evbus_topic $topic;",
    'limit_req_zone $evbus_write_key zone=wk:1m rate=1r/m;'],
    locations => $locations);

# configuration errors, checked in a prefix of their own (its error.log
# gets the [emerg] lines)

my $c = Evbus->new('write-keys-conf');
my $cdir = $c->dir;
my $ckeys = sub {
    open my $fh, '>', "$cdir/keys.txt" or die $!;
    print $fh @_;
    close $fh;
};

$ckeys->("k1 a b\n");
my ($rc, $out) = $c->nginx_t(%conf);
isnt($rc, 0, 'three words on a line: nginx -t fails');
like($out, qr/invalid line 1 in .*keys\.txt/, 'the line is named');

$ckeys->("# only a comment\n\n");
($rc, $out) = $c->nginx_t(%conf);
isnt($rc, 0, 'no key: nginx -t fails');

$ckeys->("k1 a\nk1 b\n");
($rc, $out) = $c->nginx_t(%conf);
like($out, qr/duplicate write key on line 2/, 'duplicate key: nginx -t fails');

keys_file("wk_live_abc123 web-shop   # the shop\n"
    . "# a comment line\n\n"
    . "wk_app_9\tios-app\r\n"
    . "wk_nolabel\n");
($rc, $out) = $t->nginx_t(%conf);
is($rc, 0, 'keys file: nginx -t passes') or diag($out);

$t->start_ok(%conf);

my $ev = sub {
    my ($id, $md) = @_;
    '{"event_type":"k","event_id":"' . $id . '"'
        . ($md ? ',"metadata":' . $md : '') . '}';
};
my $basic = sub { 'Basic ' . encode_base64("$_[0]:", '') };
my (%label, @want);

my ($st, $h, $j, $body) = $t->post('/e', $ev->('basic-1'),
    headers => { Authorization => $basic->('wk_live_abc123') });
is($st, 202, 'Authorization: Basic base64(key:): 202') or diag($body);
is($h->{'x-label'}, 'web-shop', '$evbus_write_key is the label');
$label{'basic-1'} = 'web-shop';

($st, $h, $j, $body) = $t->post('/e', $ev->('basic-pw'),
    headers => { Authorization => 'Basic '
        . encode_base64('wk_live_abc123:ignored', '') });
is($st, 202, 'Basic with a password part: 202');
$label{'basic-pw'} = 'web-shop';

($st, $h, $j) = $t->post('/e', $ev->('header-1'),
    headers => { 'X-Write-Key' => 'wk_app_9' });
is($st, 202, 'X-Write-Key: 202');
is($h->{'x-label'}, 'ios-app', 'X-Write-Key: its label');
$label{'header-1'} = 'ios-app';

($st, $h, $j) = $t->post('/e?a=1&writeKey=wk_nolabel', $ev->('arg-1'));
is($st, 202, 'writeKey argument: 202');
like($h->{'x-label'} // '', qr/^wk-[0-9a-f]{8}$/,
    'a key without a label: wk- and 8 hex digits');
my $hashed = $h->{'x-label'};
$label{'arg-1'} = $hashed;

# the client cannot set metadata.write_key
($st, $h, $j) = $t->post('/e', $ev->('forged', '{"write_key":"forged","x":1}'),
    headers => { 'X-Write-Key' => 'wk_app_9' });
is($st, 202, 'metadata.write_key from the client: 202');
$label{forged} = 'ios-app';

($st, $h, $j) = $t->post('/open', $ev->('open-forged',
    '{"write_key":"forged","x":2}'));
is($st, 202, 'no evbus_write_keys: 202 without a key');
is($h->{'x-label'}, '[]', 'no evbus_write_keys: $evbus_write_key empty');
$label{'open-forged'} = undef;

# limit_req per key: $evbus_write_key is known before the body
($st) = $t->post('/rl', $ev->('rl-shop-1'),
    headers => { 'X-Write-Key' => 'wk_live_abc123' });
is($st, 202, 'limit_req per key: the first of web-shop 202');
($st) = $t->post('/rl', $ev->('refused'),
    headers => { 'X-Write-Key' => 'wk_live_abc123' });
is($st, 503, 'limit_req per key: the second of web-shop 503');
($st) = $t->post('/rl', $ev->('rl-ios-1'),
    headers => { 'X-Write-Key' => 'wk_app_9' });
is($st, 202, 'limit_req per key: the first of ios-app 202');
@label{qw(rl-shop-1 rl-ios-1)} = qw(web-shop ios-app);

# missing and unknown keys: 401, nothing produced

for my $c (['no key', {}],
    ['unknown X-Write-Key', { 'X-Write-Key' => 'wk_live_abc124' }],
    ['prefix of a key', { 'X-Write-Key' => 'wk_live_abc12' }],
    ['longer than a key', { 'X-Write-Key' => 'wk_live_abc1234' }],
    ['unknown Basic', { Authorization => $basic->('nope') }],
    ['Basic of an empty key', { Authorization => $basic->('') }],
    ['Basic, not base64', { Authorization => 'Basic %%%' }],
    ['Bearer', { Authorization => 'Bearer wk_live_abc123' }],
    ['label as key', { 'X-Write-Key' => 'web-shop' }])
{
    my ($name, $hd) = @$c;
    ($st, $h, $j, $body) = $t->post('/e', $ev->('refused'), headers => $hd);
    is($st, 401, "$name: 401");
    like($h->{'www-authenticate'} // '', qr/^Basic/,
        "$name: WWW-Authenticate");
    like($j && $j->{error} // '', qr/write key/, "$name: JSON error")
        or diag($body);
}

($st) = $t->post('/e?writeKey=', $ev->('refused'));
is($st, 401, 'empty writeKey argument: 401');

# a page's request: no Basic challenge, which would make the browser ask
# its user for a password and the page's script wait for ever
($st, $h, $j) = $t->post('/e?writeKey=wk_nope', $ev->('refused'),
    headers => { Origin => 'https://shop.example' });
is($st, 401, 'from a page, unknown key: 401');
ok(!exists $h->{'www-authenticate'}, 'from a page: no WWW-Authenticate');
like($j && $j->{error} // '', qr/write key/, 'from a page: JSON error');

# 401 before the body: headers only, the body never comes
($st, $h, $j, $body, my $ms) = $t->first_response("POST /e HTTP/1.1\r\n"
    . "Host: localhost\r\nContent-Type: application/json\r\n"
    . "Content-Length: 100000\r\n\r\n");
is($st, 401, 'no key, body never sent: 401');
cmp_ok($ms, '<', 1000, "answered before the body (${\ int $ms} ms)");

# a reload rotates the keys

keys_file("wk_new_1 rotated\nwk_live_abc123 web-shop\n");
my @old = $t->worker_pids;
ok($t->reload, 'reload with new keys');
for (1 .. 100) {
    last unless grep { kill 0, $_ } @old;
    select(undef, undef, undef, 0.1);
}

($st) = $t->post('/e', $ev->('refused'),
    headers => { 'X-Write-Key' => 'wk_app_9' });
is($st, 401, 'after the reload the removed key: 401');

($st, $h) = $t->post('/e', $ev->('rotated-1'),
    headers => { 'X-Write-Key' => 'wk_new_1' });
is($st, 202, 'after the reload the new key: 202');
is($h->{'x-label'}, 'rotated', 'the new key\'s label');
$label{'rotated-1'} = 'rotated';

# Kafka: the label, never the key

my @ids = sort keys %label;
my $msgs = $t->kafka_read($topic, scalar @ids);
sleep 1;
$msgs = $t->kafka_read($topic, scalar @ids, 2);
is_deeply([sort map { $_->{key} // '' } @$msgs], \@ids,
    'only events of requests with a known key reached Kafka');

for my $m (@$msgs) {
    my $md = $m->{value} && $m->{value}{metadata} || {};
    is($md->{write_key}, $label{$m->{key}},
        "$m->{key}: metadata.write_key " . ($label{$m->{key}} // 'absent'));
    unlike($m->{raw}, qr/wk_live|wk_app|wk_nolabel|wk_new_1/,
        "$m->{key}: no key in the message");
}
my %by = map { $_->{key} => $_ } @$msgs;
is($by{forged} && $by{forged}{value}{metadata}{x}, 1,
    'the client\'s other metadata is kept');

unlike($t->error_log, qr/wk_live_abc124|wk_live_abc123/,
    'no key in error.log');

$t->done;

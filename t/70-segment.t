#!/usr/bin/perl

# evbus_format segment (issue 10): Segment's HTTP Tracking API.  A batch
# and single calls, long and short paths; the write key from Basic auth or
# from the body's writeKey (checked after reading); the mapping (event_type
# from track's event name or the type, messageId as event_id and Kafka
# key, batch-level context added to items without one, corrected_timestamp
# from sentAt and timestamp); the client's bytes kept; per-event
# rejections dead-lettered; Segment's limits and answers.

use strict;
use warnings;

use Test::More;
use MIME::Base64 qw(encode_base64);
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus qw(rfc3339_ms free_port);

my $t = Evbus->new('segment')->need_kafka;
my $topic = $t->topic;
my $dlq = $t->topic('dlq');
my $dir = $t->dir;

open my $fh, '>', "$dir/keys.txt" or die $!;
print $fh "wk_seg_1 shop-web\nwk_seg_2 shop-ios\n";
close $fh;

$t->start_ok(http => ["evbus_topic $topic;",
        "evbus_dead_letter_topic $dlq;"],
    locations => <<'CONF');
location /v1/ {
    evbus;
    evbus_format segment;
    evbus_write_keys keys.txt;
}
location /open/v1/ { evbus; evbus_format segment; }
CONF

my $basic = 'Basic ' . encode_base64('wk_seg_1:', '');
my $now = time();
my $iso = sub {
    my @t = gmtime($_[0]);
    sprintf('%04d-%02d-%02dT%02d:%02d:%02d.000Z', $t[5] + 1900, $t[4] + 1,
        @t[3, 2, 1, 0]);
};

# the client's clock is 100 s fast: the event happened 10 s before it
# sent the batch
my $sent = $iso->($now + 100);
my $when = $iso->($now + 90);

my @items = (
    '{"type":"track","event":"Order Completed","userId":"u-1",'
        . '"messageId":"seg-track-1","timestamp":"' . $when . '",'
        . '"properties":{"total":12.50,"currency":"EUR","n":1e2}}',
    '{"type":"identify","anonymousId":"anon-1","messageId":"seg-ident-1",'
        . '"traits":{"email":"a@example.com"},'
        . '"context":{"ip":"10.0.0.1"}}',
    '{"type":"page","name":"Home","messageId":"seg-page-nouser"}',
    '{"type":"group","userId":"u-1","groupId":"g-1",'
        . '"messageId":"seg-group-1"}',
);
my $body = '{"batch":[' . join(',', @items) . '],'
    . '"context":{"library":{"name":"test","version":"1"}},'
    . '"sentAt":"' . $sent . '"}';

my ($st, $h, $j, $raw) = $t->post('/v1/batch', $body,
    headers => { Authorization => $basic });
is($st, 200, 'batch: 200') or diag($raw);
is($raw, qq({"success":true}\n), 'batch: {"success":true}');

# single calls: short path, the key in the body
($st, $h, $j, $raw) = $t->post('/v1/t', '{"event":"Signed Up",'
    . '"userId":"u-2","messageId":"seg-single-t","writeKey":"wk_seg_2",'
    . '"properties":{"plan":"pro"}}');
is($st, 200, '/v1/t with writeKey in the body: 200') or diag($raw);

($st, $h, $j, $raw) = $t->post('/v1/alias', '{"previousId":"anon-1",'
    . '"userId":"u-1","messageId":"seg-single-alias"}',
    headers => { Authorization => $basic });
is($st, 200, '/v1/alias: 200') or diag($raw);

($st, $h, $j, $raw) = $t->post('/open/v1/s', '{"name":"Home",'
    . '"anonymousId":"x","messageId":"seg-single-screen"}');
is($st, 200, '/v1/s without evbus_write_keys: 200') or diag($raw);

# the key: missing, unknown (in the body: after reading)
($st, $h, $j) = $t->post('/v1/batch', $body);
is($st, 401, 'no key anywhere: 401');
($st, $h, $j) = $t->post('/v1/track', '{"event":"x","userId":"u",'
    . '"messageId":"refused-1","writeKey":"nope"}');
is($st, 401, 'unknown key in the body: 401');
like($j && $j->{error} // '', qr/unknown write key/, 'unknown key: reason');
($st) = $t->post('/v1/track', '{"event":"x","userId":"u",'
    . '"messageId":"refused-2","writeKey":"wk_seg_1"}',
    headers => { Authorization => 'Basic ' . encode_base64('bad:', '') });
is($st, 401, 'an unknown Basic key is not saved by a body key: 401');

# malformed, unknown path, limits
($st, $h, $j) = $t->post('/v1/batch', '{"batch":[{"type":"track"',
    headers => { Authorization => $basic });
is($st, 400, 'truncated body: 400');
($st, $h, $j) = $t->post('/v1/batch', '{"sentAt":"x"}',
    headers => { Authorization => $basic });
is($st, 400, 'no batch: 400');
like($j && $j->{error} // '', qr/batch/, 'no batch: reason');
($st) = $t->post('/v1/nope', '{}', headers => { Authorization => $basic });
is($st, 404, 'unknown call: 404');

my $item = '{"type":"track","event":"e","userId":"u"}';
($st, $h, $j) = $t->post('/v1/batch',
    '{"batch":[' . join(',', ($item) x 2501) . ']}',
    headers => { Authorization => $basic });
is($st, 413, '2,501 events: 413');
like($j && $j->{error} // '', qr/more than 2500 events/, '2,501 events: reason');
($st) = $t->post('/v1/batch',
    '{"batch":[{"type":"track","event":"e","userId":"u","p":"'
    . ('x' x 512000) . '"}]}', headers => { Authorization => $basic });
is($st, 413, 'more than 500 KB: 413');

my $big = '{"type":"track","event":"Big","userId":"u","messageId":"seg-big",'
    . '"p":"' . ('x' x 33000) . '"}';
($st, $h, $j, $raw) = $t->post('/v1/batch', '{"batch":[' . $big . ','
    . '{"type":"track","event":"Small","userId":"u",'
    . '"messageId":"seg-small"}]}', headers => { Authorization => $basic });
is($st, 200, 'a 33 KB item next to a good one: 200') or diag($raw);

# Kafka

my %want = (
    'seg-track-1'       => 'order_completed',
    'seg-ident-1'       => 'identify',
    'seg-group-1'       => 'group',
    'seg-single-t'      => 'signed_up',
    'seg-single-alias'  => 'alias',
    'seg-single-screen' => 'screen',
    'seg-small'         => 'small',
);
my $msgs = $t->kafka_read($topic, scalar keys %want);
sleep 1;
$msgs = $t->kafka_read($topic, scalar keys %want, 2);
is_deeply([sort map { $_->{key} } @$msgs], [sort keys %want],
    'exactly the accepted items reached Kafka, keyed by messageId');

my %m = map { $_->{key} => $_ } @$msgs;

for my $id (sort keys %want) {
    my $v = $m{$id} && $m{$id}{value} || {};
    is($v->{event_id}, $id, "$id: event_id is messageId");
    is($v->{event_type}, $want{$id}, "$id: event_type $want{$id}");
    is($m{$id} && $m{$id}{headers}{event_type}, $want{$id},
        "$id: event_type header");
}

my $tr = $m{'seg-track-1'};
is($tr->{value}{event}, 'Order Completed', 'track: the name kept as sent');
is($tr->{value}{metadata}{write_key}, 'shop-web', 'write key label');
is($tr->{value}{context}{library}{name}, 'test',
    'batch-level context added to an item without one');
my $ct = $tr->{value}{metadata}{corrected_timestamp} // '';
like($ct, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
    'corrected_timestamp set');
ok($ct && abs(rfc3339_ms($ct) / 1000 - ($now - 10)) <= 3,
    "corrected_timestamp: about 10 s before arrival, not 90 s after ($ct)");
ok(index($tr->{raw}, substr($items[0], 1, -1)) > 0,
    'track: the client\'s bytes arrive byte for byte (12.50, 1e2)');

my $id = $m{'seg-ident-1'}{value};
is_deeply($id->{context}, { ip => '10.0.0.1' },
    'an item with its own context keeps it, nothing merged into it');
ok(index($m{'seg-ident-1'}{raw}, substr($items[1], 1, -1)) > 0,
    'identify: the client\'s bytes');
is($m{'seg-single-t'}{value}{metadata}{write_key}, 'shop-ios',
    'a body key: its label in metadata');
ok(!exists $m{'seg-single-screen'}{value}{metadata}{write_key},
    'no evbus_write_keys: no label');

# dead letters: the page without user, the big item
my $dl = $t->kafka_read($dlq, 2);
my %kinds = map { ($_->{value}{error}{kind} // '?') => $_ } @$dl;
ok($kinds{user_id}, 'no userId or anonymousId: dead-lettered, kind user_id');
is($kinds{user_id} && $kinds{user_id}{value}{raw}, $items[2],
    'the dead letter holds the item as sent');
ok($kinds{too_large}, 'a 33 KB item: dead-lettered, kind too_large');

# backpressure: Kafka unreachable, the producer's queue full: 429 with
# Retry-After (Segment's libraries wait for it without spending retries)

my $u = Evbus->new('segment-unavailable');
$u->start_ok(brokers => '127.0.0.1:' . free_port(),
    properties => [['linger.ms', 5], ['queue.buffering.max.messages', 2],
        ['message.timeout.ms', 4000]],
    http => ['evbus_topic t-segment-unavailable;'],
    locations => 'location /v1/ { evbus; evbus_format segment; }');

my (@statuses, $first429);
for my $i (1 .. 6) {
    my ($st, $h, $j, $raw) = $u->post('/v1/batch', '{"batch":['
        . join(',', map { qq({"type":"track","event":"e","userId":"u",)
            . qq("messageId":"bp-$i-$_"}) } 1 .. 3) . ']}');
    push @statuses, $st;
    $first429 //= [$h, $j, $raw] if $st == 429;
}
note("statuses: @statuses");
ok(!grep({ $_ != 200 && $_ != 429 } @statuses), 'only 200 and 429');
ok($first429, 'a 429 once nothing can be queued');
like($first429 && $first429->[0]{'retry-after'} // '', qr/^[1-9]\d*$/,
    '429: Retry-After in seconds');
like($first429 && $first429->[1] && $first429->[1]{error} // '',
    qr/retry later/, '429: JSON error');
ok($u->stop(timeout => 30), 'nginx stopped with Kafka down');
$u->check_error_log;

$t->done;

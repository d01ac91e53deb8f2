#!/usr/bin/perl

# Every dead-letter error.kind of the README, one event each, in a table:
# the exact kind (in the value and the error_kind header), the event_type
# header when the type is known, the key when the event_id was valid, raw
# byte for byte, and the metadata values of the request that sent it.
# Then evbus_max_depth over HTTP: an event exactly at the limit is
# produced, one level deeper is rejected with kind "depth".

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus;

my $t = Evbus->new('dlkinds')->need_kafka;
my $root = Evbus::repo_root();

my $topic = $t->topic;
my $dlq = $t->topic('dlq');
my $dtopic = $t->topic('depth');
my $ddlq = $t->topic('depth-dlq');

$t->start_ok(http => ["evbus_topic $topic;",
        "evbus_schemas $root/conf-examples/schemas;",
        "evbus_dead_letter_topic $dlq;", 'evbus_max_event_size 1k;',
        'evbus_max_depth 4;', 'evbus_source_service dl-edge;'],
    locations => <<"END");
location = /e { evbus; }
location = /d {
    evbus;
    evbus_schemas off;
    evbus_unknown_types accept;
    evbus_max_depth 3;
    evbus_topic $dtopic;
    evbus_dead_letter_topic $ddlq;
}
END

my $ts = '2026-11-26T17:00:00Z';
my $click = qq{"user_id":"u1","element_id":"buy","occurred_at":"$ts"};
my $big = 'x' x 1100;

# an event object of these members
sub ev { return '{' . join(',', @_) . '}' }

my $ct = '"event_type":"click"';

# [kind, NDJSON line, event_type header or undef, key or undef]
my @kinds = (
    ['schema', ev($ct, '"event_id":"k-schema"', '"user_id":5',
        '"element_id":"buy"', qq{"occurred_at":"$ts"}), 'click', 'k-schema'],
    ['duplicate_key', ev($ct, '"event_id":"k-dup"', $click,
        '"user_id":"u2"'), 'click', 'k-dup'],
    ['unknown_type', ev('"event_type":"nope"', '"event_id":"k-unknown"'),
        'nope', 'k-unknown'],
    ['unknown_version', ev('"event_version":9', $ct, '"event_id":"k-version"',
        $click), 'click', 'k-version'],
    # the version after the type: the schema was picked already
    ['unknown_version', ev($ct, '"event_id":"k-version2"', $click,
        '"event_version":9'), 'click', 'k-version2'],
    ['too_large', ev($ct, '"event_id":"k-large"', $click,
        qq{"pad":"$big"}), 'click', 'k-large'],
    ['event_type', ev('"event_id":"k-type"', $click), undef, 'k-type'],
    ['event_id', ev($ct, '"event_id":7', $click), 'click', undef],
    ['event_version', ev($ct, '"event_id":"k-ev"', '"event_version":"1"',
        $click), 'click', 'k-ev'],
    ['metadata', ev($ct, '"event_id":"k-meta"', '"metadata":[1]', $click),
        'click', 'k-meta'],
    ['not_object', '["k-array"]', undef, undef],
    ['depth', ev($ct, '"event_id":"k-depth"', $click,
        '"extra":{"a":{"b":{"c":{}}}}'), 'click', 'k-depth'],
    ['invalid_json', ev($ct, '"event_id":"k-json",'), 'click', 'k-json'],
    ['invalid_utf8', ev($ct, '"event_id":"k-utf8"', $click,
        qq{"page_url":"\xed\xa0\x80"}), 'click', 'k-utf8'],
);
my $valid = ev($ct, '"event_id":"k-valid"', $click);

my $body = join("\n", map { $_->[1] } @kinds) . "\n$valid\n";
my ($st, $h, $j, $raw) = $t->post('/e', $body,
    content_type => 'application/x-ndjson', agent => 'dl-agent/1.0');
is($st, 202, 'one valid event among every kind of invalid one: 202');
is($j->{accepted}, 1, '1 accepted') or diag($raw);
is($j->{rejected}, scalar @kinds, scalar(@kinds) . ' rejected');
is_deeply([map { $_->{index} } @{ $j->{errors} || [] }],
    [0 .. $#kinds], 'errors name each rejected line by its index');

my ($ok) = @{ $t->kafka_read($topic, 1) };
is($ok && $ok->{key}, 'k-valid', 'the valid event was produced');
my $rid = $ok ? $ok->{value}{metadata}{request_id} : '';
like($rid, qr/^[0-9a-f]{32}$/, 'request_id of the request');

my $dl = $t->kafka_read($dlq, scalar @kinds);
is(scalar @$dl, scalar @kinds, 'one dead letter per rejected event');

my %by;
for my $m (@$dl) {
    my $v = $m->{value};
    my $k = ref $v eq 'HASH' && ref $v->{error} eq 'HASH'
        ? $v->{error}{kind} // 'none' : 'not an envelope';
    push @{ $by{$k} }, $m;
}

for my $row (@kinds) {
    my ($kind, $line, $type, $key) = @$row;
    my $ms = [grep { ($_->{key} // '') eq ($key // '') }
        @{ $by{$kind} || [] }];
    is(scalar @$ms, 1, "$kind: exactly one dead letter of this kind"
        . " and key")
        or next;
    my $m = $ms->[0];
    my $v = $m->{value};
    is($m->{headers}{error_kind}, $kind, "$kind: error_kind header");
    is($m->{headers}{event_type}, $type, "$kind: event_type header");
    is($v->{event_type}, $type, "$kind: event_type in the value");
    is($m->{key}, $key, "$kind: key");
    is($m->{headers}{source_service}, 'dl-edge',
        "$kind: source_service header");
    my $want = $line;
    if ($kind eq 'too_large') {
        $want = substr($line, 0, 1024);
        ok($v->{raw_truncated}, "$kind: raw_truncated");
    } else {
        ok(!exists $v->{raw_truncated}, "$kind: not truncated");
    }
    if ($kind eq 'invalid_utf8') {
        $want =~ s/\xed\xa0\x80/\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd/;
    }
    my $got = $v->{raw} // '';
    utf8::encode($got);
    is($got, $want, "$kind: raw is the event's text");
    like($v->{error}{message}, qr/\S/, "$kind: a message");
    my $md = $v->{metadata} || {};
    is_deeply([$md->{source_service}, $md->{client_ip}, $md->{user_agent},
        $md->{request_id}], ['dl-edge', '127.0.0.1', 'dl-agent/1.0', $rid],
        "$kind: metadata of the request");
    is($m->{headers}{ingest_timestamp}, $md->{ingest_timestamp},
        "$kind: ingest_timestamp header equals the metadata");
    like($md->{ingest_timestamp} // '',
        qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
        "$kind: ingest_timestamp is RFC 3339 with milliseconds");
}
my @other = grep { my $k = $_; !grep { $_->[0] eq $k } @kinds } keys %by;
ok(!@other, 'no dead letter of another kind') or diag("@other");

# evbus_max_depth 3 over HTTP: the event object is depth 1

my $at = '{"event_type":"d","event_id":"d-at","a":{"b":[1]}}';
my $past = '{"event_type":"d","event_id":"d-past","a":{"b":[{}]}}';
my $mpast = '{"event_type":"d","event_id":"d-mpast","metadata":{"b":[[]]}}';
($st, $h, $j, $raw) = $t->post('/d', "[$at,$past,$mpast]");
is($st, 202, 'depth: 202');
is_deeply($j->{event_ids}, ['d-at'], 'depth: the event at the limit is'
    . ' accepted') or diag($raw);
is_deeply([map { [$_->{index}, $_->{error}] } @{ $j->{errors} || [] }],
    [[1, 'event nests deeper than 3 levels'],
     [2, 'event nests deeper than 3 levels']],
    'depth: one level past the limit is rejected, in metadata too');

# a sentinel after the events: the topic holds exactly d-at
($st) = $t->post('/d', '{"event_type":"d","event_id":"d-end"}');
is($st, 202, 'depth: sentinel accepted');
my $dm = $t->kafka_read($dtopic, 2);
is_deeply([sort map { $_->{key} } @$dm], ['d-at', 'd-end'],
    'depth: the topic holds exactly the event at the limit and the'
    . ' sentinel');
my ($d) = grep { $_->{key} eq 'd-at' } @$dm;
is($d && $d->{value}{a}{b}[0], 1, 'depth: its nested value arrived');
my $dd = $t->kafka_read($ddlq, 2);
is_deeply([sort map { $_->{value}{error}{kind} . ' ' . $_->{key} } @$dd],
    ['depth d-mpast', 'depth d-past'], 'depth: two dead letters of kind'
    . ' "depth"');

$t->done;

#!/usr/bin/perl

# Hostile input: deep nesting, huge strings, invalid UTF-8 and overlong
# forms, lone surrogates, NUL bytes, 1000-digit numbers, duplicate keys, a
# BOM, trailing garbage.  Each gets a 4xx or a per-event rejection, the
# workers survive (same pids, a valid request right after succeeds) and
# nothing invalid reaches Kafka.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus;

my $t = Evbus->new('hostile')->need_kafka;
my $root = Evbus::repo_root();
my $topic = $t->topic;
my $dlq = $t->topic('dlq');

$t->start_ok(http => ["evbus_topic $topic;", 'client_max_body_size 4m;',
        'client_body_buffer_size 4m;'],
    locations => <<"END");
location = /e { evbus; }
location = /s {
    evbus;
    evbus_schemas $root/conf-examples/schemas;
    evbus_dead_letter_topic $dlq;
}
END

my @workers = $t->worker_pids;
my $n = 0;
my %valid;

sub follow_up {
    my ($name) = @_;
    $n++;
    my $id = "follow-$n";
    my ($st) = $t->post('/e', qq{{"event_type":"ok","event_id":"$id"}});
    is($st, 202, "$name: a valid request right after: 202");
    $valid{$id} = 1;
}

sub hostile {
    my ($name, $path, $body, $want, %o) = @_;
    my ($st, $h, $j) = $t->post($path, $body, %o);
    if (ref $want) {
        ok(grep({ $st == $_ } @$want), "$name: status $st") or diag($st);
    } else {
        is($st, $want, "$name: $want");
    }
    ok(ref $j eq 'HASH', "$name: a JSON answer");
    follow_up($name);
    return $j;
}

my $deep = '{"event_type":"a","x":' . ('[' x 10000) . (']' x 10000) . '}';
my $j = hostile('10000 levels inside an event', '/e', $deep, 400);
like($j->{errors}[0]{error} // '', qr/nests deeper than 32 levels/,
    'deep: the depth limit is the reason');

hostile('10000 levels as the body', '/e', ('[' x 10000) . (']' x 10000), 400);
hostile('10000 open objects', '/e', '[' . ('{"a":' x 10000), 400);
hostile('10000 levels, NDJSON', '/e', $deep . "\n",
    400, content_type => 'application/x-ndjson');

my $mb = '{"event_type":"a","s":"' . ('x' x (1024 * 1024)) . '"}';
$j = hostile('a 1 MB string', '/e', $mb, 400);
like($j->{errors}[0]{error} // '', qr/larger than evbus_max_event_size/,
    '1 MB: the size limit is the reason');
hostile('a 1 MB key', '/e', '{"event_type":"a","' . ('k' x (1024 * 1024))
    . '":1}', 400);
hostile('a 1 MB string to the schema location', '/s', $mb, 400);

for my $c (
    [ 'invalid UTF-8 0xff', qq{{"event_type":"a","s":"\xff"}} ],
    [ 'invalid UTF-8 0xf8', qq{{"event_type":"a","s":"\xf8\x88\x80\x80\x80"}} ],
    [ 'overlong NUL', qq{{"event_type":"a","s":"\xc0\x80"}} ],
    [ 'overlong slash', qq{{"event_type":"a","s":"\xe0\x80\xaf"}} ],
    [ 'UTF-8 surrogate', qq{{"event_type":"a","s":"\xed\xa0\x80"}} ],
    [ 'above U+10FFFF', qq{{"event_type":"a","s":"\xf4\x90\x80\x80"}} ],
    [ 'lone high surrogate', q{{"event_type":"a","s":"\ud800"}} ],
    [ 'high surrogate then a letter', q{{"event_type":"a","s":"\ud800\u0041"}} ],
    [ 'lone low surrogate', q{{"event_type":"a","s":"\udc00x"}} ],
    [ 'lone surrogate in a key', q{{"event_type":"a","\ud83d":1}} ],
    [ 'invalid UTF-8 in event_id', qq{{"event_type":"a","event_id":"\xc3"}} ],
    [ 'raw NUL byte', qq{{"event_type":"a","s":"a\x00b"}} ],
    [ 'NUL outside strings', qq{{"event_type":"a"}\x00} ],
    [ 'trailing garbage', qq{[{"event_type":"a"}] garbage} ],
    [ 'a second value', qq{{"event_type":"a"}{"event_type":"b"}} ],
    [ 'a BOM inside', qq{[\xef\xbb\xbf{"event_type":"a"}]} ],
    [ 'duplicate event_type', q{{"event_type":"a","event_type":"b"}} ],
    [ 'duplicate event_id', q{{"event_type":"a","event_id":"1","event_id":"2"}} ],
    [ 'duplicate metadata', q{{"event_type":"a","metadata":{},"metadata":{}}} ],
) {
    hostile($c->[0], '/e', $c->[1], 400);
}

# a schema-declared member twice cannot slip past its schema

$j = hostile('duplicate declared member', '/s',
    '{"event_type":"session_end","session_id":"0192f0c1-7e1a-7c3b-9d2e-'
    . '4f5a6b7c8d9e","ended_at":"2026-11-26T17:00:00Z","duration_ms":5,'
    . '"duration_ms":"x","reason":"logout"}', 400);
is($j->{errors}[0]{error}, '/duration_ms: duplicate key',
    'duplicate declared member: the reason');

# 1000-digit numbers: valid JSON, kept byte for byte; out of range for a
# schema

my $big = '9' x 1000;
$n++;
my ($st) = $t->post('/e', '{"event_type":"num","event_id":"num-1",'
    . qq{"n":$big,"f":-0.$big,"e":1e$big} . '}');
is($st, 202, '1000-digit numbers: accepted without a schema');
$valid{'num-1'} = 1;
$j = hostile('1000-digit number against a maximum', '/s',
    '{"event_type":"session_end","session_id":"0192f0c1-7e1a-7c3b-9d2e-'
    . '4f5a6b7c8d9e","ended_at":"2026-11-26T17:00:00Z","duration_ms":'
    . $big . ',"reason":"logout"}', 400);
like($j->{errors}[0]{error} // '', qr{^/duration_ms: expected <= 604800000, got 9{40}\.\.\.$},
    '1000 digits: bounded message');

# a BOM first is allowed; NDJSON lines with garbage are rejected alone

($st) = $t->post('/e', qq{\xef\xbb\xbf{"event_type":"bom","event_id":"bom-1"}});
is($st, 202, 'a leading BOM: accepted');
$valid{'bom-1'} = 1;

($st, my $h, $j) = $t->post('/e', qq{{"event_type":"nd","event_id":"nd-1"}\n}
    . qq{\xef\xbb\xbf{"event_type":"nd","event_id":"nd-2"}\n}
    . qq{{"event_type":"nd","event_id":"nd-3","s":"\\ud800"}\n}
    . qq{{"event_type":"nd","event_id":"nd-4"}\ntrailing garbage},
    content_type => 'application/x-ndjson');
is($st, 202, 'NDJSON with hostile lines: 202');
is_deeply($j->{event_ids}, ['nd-1', 'nd-4'], 'NDJSON: only the good lines');
is_deeply([map { $_->{index} } @{ $j->{errors} }], [1, 2, 4],
    'NDJSON: BOM, surrogate and garbage lines rejected');
$valid{$_} = 1 for 'nd-1', 'nd-4';

# the workers survived

is_deeply([$t->worker_pids], \@workers, 'the same workers still run');
unlike($t->error_log, qr/exited on signal|worker process \d+ exited/,
    'no worker crashed');

# Kafka: every valid event, byte for byte, and nothing else

my $msgs = $t->kafka_read($topic, scalar keys %valid);
my %got = map { ($_->{key} // '') => $_ } @$msgs;
is_deeply([sort keys %got], [sort keys %valid],
    'Kafka holds exactly the valid events');
my $num = $got{'num-1'};
ok($num && index($num->{raw}, qq{"n":$big,"f":-0.$big,"e":1e$big}) >= 0,
    '1000-digit numbers arrive byte for byte');
my @bad = grep { !defined $_->{value} } @$msgs;
ok(!@bad, 'every produced value is valid JSON');

# dead letters of hostile events are valid JSON too

my $dl = $t->kafka_read($dlq, 3);
ok(@$dl >= 3 && !grep({ ref $_->{value} ne 'HASH' } @$dl),
    'dead letters of hostile events are valid JSON');

$t->done;

#!/usr/bin/perl

# Rejections: every per-event reason with its exact text, mixed batches
# producing exactly their valid events, and body-level 400s that produce
# nothing.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus;

my $t = Evbus->new('reject')->need_kafka;
my $mixed = $t->topic('mixed');
my $body = $t->topic('body');
my $nd = $t->topic('nd');

$t->start_ok(locations => <<"EOF");
location = /e { evbus; evbus_topic $mixed; evbus_max_event_size 8k; }
location = /b { evbus; evbus_topic $body; }
location = /n { evbus; evbus_topic $nd; }
EOF

my $long = 'a' x 129;
my $max = 'a' x 128;
my $deep = ('{"d":' x 1000) . '1' . ('}' x 1000);
my $nest8 = ('{"d":' x 7) . '1' . ('}' x 7);

# [event text, expected error or undef for valid]
my @cases = (
    ['1', 'event is not an object'],
    ['"str"', 'event is not an object'],
    ['null', 'event is not an object'],
    ['[{"event_type":"x"}]', 'event is not an object'],
    ['{"event_type":"ok","event_id":"v-1"}', undef],
    ['{}', 'event_type is missing'],
    ['{"event_id":"x","data":{"event_type":"nested"}}', 'event_type is missing'],
    ['{"event_type":1}', 'event_type must be a string'],
    ['{"event_type":null}', 'event_type must be a string'],
    ['{"event_type":["a"]}', 'event_type must be a string'],
    ['{"event_type":{"a":1}}', 'event_type must be a string'],
    ['{"event_type":""}', 'event_type is empty'],
    [qq{{"event_type":"$long"}}, 'event_type is longer than 128 bytes'],
    [qq{{"event_type":"$max","event_id":"v-2"}}, undef],
    ['{"event_type":"a b"}', 'event_type may only contain A-Z a-z 0-9 _ . -'],
    ['{"event_type":"a/b"}', 'event_type may only contain A-Z a-z 0-9 _ . -'],
    [qq{{"event_type":"caf\xc3\xa9"}},
        'event_type may only contain A-Z a-z 0-9 _ . -'],
    ['{"event_type":"a\u0000b"}',
        'event_type may only contain A-Z a-z 0-9 _ . -'],
    ['{"event_type":"Az09_.-","event_id":"v-3"}', undef],
    ['{"event_type":"x","event_id":5}', 'event_id must be a string'],
    ['{"event_type":"x","event_id":null}', 'event_id must be a string'],
    ['{"event_type":"x","event_id":""}', 'event_id is empty'],
    [qq{{"event_type":"x","event_id":"$long"}},
        'event_id is longer than 128 bytes'],
    ['{"event_type":"x","event_id":"v4-' . ('b' x 125) . '"}', undef],
    ['{"event_type":"x","event_version":0}',
        'event_version must be a positive integer'],
    ['{"event_type":"x","event_version":-1}',
        'event_version must be a positive integer'],
    ['{"event_type":"x","event_version":1.5}',
        'event_version must be a positive integer'],
    ['{"event_type":"x","event_version":"1"}',
        'event_version must be a positive integer'],
    ['{"event_type":"x","event_version":null}',
        'event_version must be a positive integer'],
    ['{"event_type":"x","event_id":"v-5","event_version":7}', undef],
    ['{"event_type":"x","metadata":[]}', 'metadata must be an object'],
    ['{"event_type":"x","metadata":"m"}', 'metadata must be an object'],
    ['{"event_type":"x","metadata":null}', 'metadata must be an object'],
    ['{"event_type":"x","event_id":"v-6","metadata":{"k":[1]}}', undef],
    ['{"event_type":"a","event_type":"b"}', 'duplicate key "event_type"'],
    ['{"event_type":"x","big":"' . ('z' x 9000) . '"}',
        'event is larger than evbus_max_event_size (8192 bytes)'],
    [qq{{"event_type":"x","deep":$deep}}, qr/^event nests deeper than \d+ levels$/],
    [qq{{"event_type":"x","event_id":"v-7","deep":$nest8}}, undef],
    ['{"event_type":"x","event_id":"v-8"}', undef],
);

my $req = '[' . join(",\n", map { $_->[0] } @cases) . ']';
my ($st, $h, $j) = $t->post('/e', $req);

my @valid = grep { !defined $cases[$_][1] } 0 .. $#cases;
my @invalid = grep { defined $cases[$_][1] } 0 .. $#cases;
my @valid_ids = map { /"event_id":"([^"]+)"/ ? $1 : () }
    map { $cases[$_][0] } @valid;

is($st, 202, 'mixed batch: 202');
is($j->{accepted}, scalar @valid, 'mixed batch: accepted count');
is($j->{rejected}, scalar @invalid, 'mixed batch: rejected count');
is_deeply($j->{event_ids}, \@valid_ids,
    'mixed batch: ids of accepted events in order');

my %err = map { $_->{index} => $_->{error} } @{ $j->{errors} || [] };
is(scalar @{ $j->{errors} || [] }, scalar @invalid,
    'mixed batch: one error per rejected event');
is_deeply([map { $_->{index} } @{ $j->{errors} || [] }], \@invalid,
    'mixed batch: errors in index order');

for my $i (0 .. $#cases) {
    my ($text, $want) = @{ $cases[$i] };
    my $name = "index $i: " . (length $text > 60
        ? substr($text, 0, 57) . '...' : $text);
    if (!defined $want) {
        ok(!exists $err{$i}, "$name accepted");
    } elsif (ref $want) {
        like($err{$i} // '', $want, $name);
    } else {
        is($err{$i}, $want, $name);
    }
}

# none accepted: 400 with the per-event errors

($st, $h, $j) = $t->post('/e', '{"event_type":""}');
is($st, 400, 'single invalid event: 400');
is($j->{accepted}, 0, 'single invalid event: accepted 0');
is($j->{rejected}, 1, 'single invalid event: rejected 1');
is_deeply($j->{errors}, [{ index => 0, error => 'event_type is empty' }],
    'single invalid event: its error at index 0');
is_deeply($j->{event_ids}, [], 'single invalid event: no ids');

($st, $h, $j) = $t->post('/e', '[{},{"event_type":5}]');
is($st, 400, 'all invalid: 400');
is_deeply($j->{errors}, [
    { index => 0, error => 'event_type is missing' },
    { index => 1, error => 'event_type must be a string' },
], 'all invalid: both errors');

my $msgs = $t->kafka_read($mixed, scalar @valid_ids);
is(scalar @$msgs, scalar @valid_ids, 'the valid events reached Kafka');
# exactly them: checked at the end, once nginx has stopped
my @final = ([$mixed, \@valid_ids,
    'exactly the valid events reached Kafka']);
my ($v7) = grep { ($_->{value}{event_id} // '') eq 'v-5' } @$msgs;
is($v7 && $v7->{value}{event_version}, 7, 'event_version 7 kept');

# NDJSON: a bad line is one rejected event

($st, $h, $j) = $t->post('/n', join('', map { "$_\n" }
    '{"event_type":"n","event_id":"n-1"}',
    '{"event_type":"n",',
    '{"event_type":"n","event_id":"n-3"}',
    '5',
    '[{"event_type":"n"}]',
    '{"event_type":"n","event_id":"n-6"} x',
    '{"event_type":"n","event_id":"n-7"}'),
    content_type => 'application/x-ndjson');
is($st, 202, 'ndjson with bad lines: 202');
is($j->{accepted}, 3, 'ndjson: 3 accepted');
is($j->{rejected}, 4, 'ndjson: 4 rejected');
is_deeply($j->{event_ids}, ['n-1', 'n-3', 'n-7'], 'ndjson: accepted ids');
%err = map { $_->{index} => $_->{error} } @{ $j->{errors} || [] };
is_deeply([sort keys %err], [1, 3, 4, 5], 'ndjson: indexes of the bad lines');
like($err{1} // '', qr/^invalid JSON/, 'ndjson: truncated line is invalid JSON');
is($err{3}, 'event is not an object', 'ndjson: scalar line');
is($err{4}, 'event is not an object', 'ndjson: array line');
like($err{5} // '', qr/^invalid JSON/, 'ndjson: trailing garbage on a line');

# the default evbus_max_event_size is 32k
($st, $h, $j) = $t->post('/n', '{"event_type":"n","event_id":"n-8"}' . "\n"
    . '{"event_type":"n","event_id":"n-9","pad":"' . ('p' x 33000) . '"}'
    . "\n" . '{"event_type":"n","event_id":"n-10","pad":"'
    . ('p' x 32000) . '"}' . "\n",
    content_type => 'application/x-ndjson');
is($st, 202, 'ndjson with an event over 32k: 202');
is_deeply($j->{event_ids}, ['n-8', 'n-10'], 'ndjson: events up to 32k accepted');
is_deeply($j->{errors}, [{ index => 1,
    error => 'event is larger than evbus_max_event_size (32768 bytes)' }],
    'ndjson: event over the default 32k rejected, naming the limit');

($st, $h, $j) = $t->post('/n', qq[{"event_type":\n{nope\n],
    content_type => 'application/x-ndjson');
is($st, 400, 'ndjson, all lines bad: 400');
is($j->{rejected}, 2, 'ndjson, all lines bad: rejected 2');

push @final, [$nd, ['n-1', 'n-3', 'n-7', 'n-8', 'n-10'],
    'ndjson: exactly the valid lines reached Kafka'];

# body-level 400s: nothing of the body is produced

my @bodies = (
    ['{"event_type": }', qr/^invalid JSON at byte \d+: /, 'syntax error'],
    ['[{"event_type":"b","event_id":"bad-1"}, {"event_type":]',
        qr/^invalid JSON at byte \d+: /, 'syntax error after a valid event'],
    ['[{"event_type":"b","event_id":"bad-2"}',
        qr/^invalid JSON/, 'truncated array'],
    ['{"event_type":"b","event_id":"bad-3"', qr/^invalid JSON/,
        'truncated object'],
    ['5', qr/^body must be a JSON object or an array of objects$/,
        'top-level number'],
    ['"x"', qr/^body must be a JSON object or an array of objects$/,
        'top-level string'],
    ['null', qr/^body must be a JSON object or an array of objects$/,
        'top-level null'],
    ['', qr/^body is empty$/, 'empty body'],
    ['[]', qr/^body holds no events$/, 'empty array'],
    [' [ ] ', qr/^body holds no events$/, 'empty array with spaces'],
    ['{"event_type":"b","event_id":"bad-4"} x', qr/./, 'trailing garbage'],
    ['{"event_type":"b","event_id":"bad-5"}{"event_type":"b"}', qr/./,
        'two objects in application/json'],
    ['[{"event_type":"b","event_id":"bad-6"}] []', qr/./,
        'trailing array'],
    [qq{[{"event_type":"b","event_id":"bad-7"}]\xff}, qr/./,
        'trailing byte'],
);

for my $b (@bodies) {
    my ($text, $re, $name) = @$b;
    my ($st, $h, $j, $raw) = $t->post('/b', $text);
    is($st, 400, "$name: 400");
    like(ref $j eq 'HASH' ? $j->{error} // '' : '', $re,
        "$name: error field") or diag($raw);
}

($st, $h, $j) = $t->post('/b', '', content_type => 'application/x-ndjson');
is($st, 400, 'empty ndjson body: 400');
like($j->{error} // '', qr/^body is empty$/, 'empty ndjson body: error');

($st) = $t->post('/b', '{"event_type":"b","event_id":"sentinel"}');
is($st, 202, 'a valid event after them accepted');
push @final, [$body, ['sentinel'], 'body-level errors produced nothing'];

$t->stop_and_check_topics(@final);
$t->done;

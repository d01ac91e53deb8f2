#!/usr/bin/perl

# Logs an attacker can neither flood nor forge (issue 7): rejected events
# are logged at most once a second per worker, the line counting those not
# logged; client bytes in those lines (JSON Pointers from the client's
# keys) are escaped, so no newline or control byte reaches error.log.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(make_path);
use Time::HiRes qw(time sleep);
use Evbus;

my $t = Evbus->new('log-flood')->need_kafka;
my $dir = $t->dir;
my $topic = $t->topic;

make_path("$dir/s/strict");
open my $fh, '>', "$dir/s/strict/1.json" or die "$!";
print $fh '{"additionalProperties":false,"properties":{"n":{}}}';
close $fh;

$t->start_ok(workers => 1,
    http => ["evbus_schemas $dir/s;", "evbus_unknown_types accept;"],
    locations => "location = /e { evbus; evbus_topic $topic; }");

# a key with a newline and a forged log line, and control bytes

my $forged = '[alert] 1#1: forged by the client';
my ($st, $h, $j) = $t->post('/e', '[{"event_type":"strict","event_id":"f-1",'
    . '"x\n2026/01/01 00:00:00 ' . $forged . '\r\n":1},'
    . '{"event_type":"strict","event_id":"f-ok","n":1}]');
is($st, 202, 'an event with a forged key: 202');
is(scalar @{ $j->{errors} || [] }, 1, 'it is rejected');

sleep 1.1;

($st) = $t->post('/e', '[{"event_type":"strict","event_id":"f-2",'
    . '"e\u001b[31m\u0007\u0000":1},{"event_type":"strict","event_id":"f-3",'
    . '"y":1}]');
is($st, 400, 'two events with control bytes in keys: 400');

my $log = $t->error_log;
ok(!grep({ /^\d{4}\/01\/01 00:00:00/ || /^\S+ \S+ \Q$forged\E/ }
    split /\n/, $log), 'no line of error.log starts with the forged text');
ok($log !~ /[\x00-\x09\x0b-\x1f\x7f]/, 'no raw control byte in error.log');
like($log, qr/rejected \(schema\): \/x\\x0a2026\S* 00:00:00 \Q$forged\E\\x0d\\x0a: /,
    'the rejected key is logged escaped');
like($log, qr/rejected \(schema\): \/e\\x1b\[31m\\x07\S*: /,
    'the control bytes are escaped too');

# the forged text, escaped, still holds "[alert]" in an info line, which
# the end-of-file check (any "[alert]" in a line) would take for one

my $clean = join '', grep { !/forged by the client/ }
    split /^/, $t->error_log;
open my $lf, '>', "$dir/error.log" or die "$!";
print $lf $clean;
close $lf;
$log = $clean;

# a flood: 10 requests of 500 rejected events, as fast as they go

my $pos = length $log;
my $batch = '[' . join(',', map {
    qq{{"event_type":"strict","event_id":"fl-$_","bad":1}} } 1 .. 500) . ']';

my $t0 = time;
my $ok = 0;
for (1 .. 10) {
    ($st) = $t->post('/e', $batch);
    $ok++ if $st == 400;
}
my $secs = time - $t0;
is($ok, 10, '10 requests of 500 rejected events: 400');

sleep 1.1;
($st) = $t->post('/e', '{"event_type":"strict","event_id":"fl-last","z":1}');

$log = substr($t->error_log, $pos);
my @lines = grep { /rejected \(schema\)/ } split /\n/, $log;
my $max = int($secs) + 3;
ok(@lines >= 1 && @lines <= $max, scalar(@lines) . " lines for 5001 rejected"
    . " events in " . sprintf('%.1f', $secs) . " s (at most $max)");

my $skipped = 0;
for (@lines) {
    $skipped += $1 if /\((\d+) more rejected events not logged\)/;
}
# f-3, not logged before the flood, is counted in its first line
is($skipped + @lines, 1 + 5001,
    'the lines and their counts add up to every rejected event');

my $msgs = $t->kafka_read($topic, 1);
is_deeply([ map { $_->{key} } @$msgs ], [ 'f-ok' ],
    'Kafka holds the one valid event');

$t->stop;
$t->check_error_log;

# events that find the producer's queue full: "not queued" at most once
# a second too (no broker answers, a queue of 10 messages)

my $q = Evbus->new('log-flood-queue');
my $qtopic = $q->topic;

$q->start_ok(workers => 1, brokers => '127.0.0.1:1',
    properties => [['queue.buffering.max.messages', 10],
                   ['message.timeout.ms', 60000]],
    http => ['evbus_unavailable_after 60s;'],
    locations => "location = /e { evbus; evbus_topic $qtopic; }");

$batch = '[' . join(',', map {
    qq{{"event_type":"q","event_id":"q-$_"}} } 1 .. 500) . ']';

$t0 = time;
my %st;
for (1 .. 4) {
    ($st) = $q->post('/e', $batch);
    $st{$st}++;
}
$secs = time - $t0;
ok($st{202} || $st{503}, 'a full queue: ' . join(', ',
    map { "$st{$_} x $_" } sort keys %st));

sleep 1.1;
($st) = $q->post('/e', '{"event_type":"q","event_id":"q-last"}');

@lines = grep { /not queued/ } split /\n/, $q->error_log;
$max = int($secs) + 3;
ok(@lines >= 1 && @lines <= $max, scalar(@lines) . ' "not queued" lines for'
    . ' 1991 events refused in ' . sprintf('%.1f', $secs) . " s (at most"
    . " $max)");

$skipped = 0;
for (@lines) {
    $skipped += $1 if /\((\d+) more not logged\)/;
}
is($skipped + @lines, 4 * 500 + 1 - 10,
    'the lines and their counts add up to every event not queued');

$q->done;

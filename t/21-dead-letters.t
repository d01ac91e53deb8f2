#!/usr/bin/perl

# Dead letters: a batch mixing valid and invalid events produces exactly
# the valid ones to the topic and the invalid ones, in their envelope, to
# evbus_dead_letter_topic; 20 event types loaded at once under mixed
# traffic; without a dead-letter topic rejections are logged at info.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(make_path);
use Sys::Hostname ();
use Evbus;

my $t = Evbus->new('deadletters')->need_kafka;
my $dir = $t->dir;
my $root = Evbus::repo_root();

# the examples, and 13 generated types: 20 types
system('cp', '-r', "$root/conf-examples/schemas", "$dir/s") == 0 or die;
for my $n (1 .. 13) {
    make_path("$dir/s/gen_$n");
    open my $fh, '>', "$dir/s/gen_$n/1.json" or die;
    print $fh qq({"required":["n"],"properties":{"n":{"const":$n}},)
        . qq("additionalProperties":false});
    close $fh;
}
opendir my $dh, "$dir/s" or die;
my $ntypes = grep { !/^\./ } readdir $dh;
is($ntypes, 20, '20 event types in the schema directory');

my $topic = $t->topic;
my $dlq = $t->topic('dlq');
my $topic3 = $t->topic('nodlq');

$t->start_ok(http => ["evbus_topic $topic;", "evbus_schemas $dir/s;",
        "evbus_dead_letter_topic $dlq;", 'evbus_max_event_size 2k;'],
    locations => <<"END");
location = /e { evbus; }
location = /nodlq { evbus; evbus_dead_letter_topic ""; evbus_topic $topic3; }
END

my $ts = '2026-11-26T17:00:00Z';
my %valid = (
    click => qq{"user_id":"u1","element_id":"buy","occurred_at":"$ts"},
    impression => qq{"user_id":"u1","ad_id":"ad_abcd1","placement":"feed",}
        . qq{"occurred_at":"$ts"},
    purchase => qq{"event_version":1,"user_id":"u1","order_id":"ord_abc123",}
        . qq{"amount":9.5,}
        . qq{"currency":"EUR","items":[{"sku":"a","quantity":1,"price":9.5}]},
    session_start => qq{"session_id":"0192f0c1-7e1a-7c3b-9d2e-4f5a6b7c8d9e",}
        . qq{"started_at":"$ts","device":{"os":"ios"}},
    session_end => qq{"session_id":"0192f0c1-7e1a-7c3b-9d2e-4f5a6b7c8d9e",}
        . qq{"ended_at":"$ts","duration_ms":5,"reason":"logout"},
    user_updated => qq{"user_id":"u1","changes":{"locale":"fr-FR"},}
        . qq{"updated_at":"$ts"},
    plan_changed => qq{"account_id":"a","from_plan":"free","to_plan":"pro",}
        . qq{"seats":2,"effective_at":"$ts"},
    map { ("gen_$_" => qq{"n":$_}) } 1 .. 13,
);
my %invalid = (
    click => [qq{"user_id":"u1","element_id":"buy","occurred_at":"yesterday"},
        '/occurred_at'],
    impression => [qq{"user_id":"u1","ad_id":"ad_abcd1","placement":"popup",}
        . qq{"occurred_at":"$ts"}, '/placement'],
    purchase => [qq{"event_version":2,"order_id":"ord_abc123","amount":9.5},
        '/amount'],
    session_start => [qq{"session_id":"x","started_at":"$ts",}
        . qq{"device":{"os":"ios"}}, '/session_id'],
    session_end => [qq{"session_id":"0192f0c1-7e1a-7c3b-9d2e-4f5a6b7c8d9e",}
        . qq{"ended_at":"$ts","duration_ms":-5,"reason":"logout"},
        '/duration_ms'],
    user_updated => [qq{"user_id":"u1","changes":{"admin":true},}
        . qq{"updated_at":"$ts"}, '/changes/admin'],
    plan_changed => [qq{"account_id":"a","from_plan":"free","to_plan":"pro",}
        . qq{"seats":0,"effective_at":"$ts"}, '/seats'],
    map { ("gen_$_" => [qq{"n":0}, '/n']) } 1 .. 13,
);

# mixed traffic: 5 rounds over the 20 types, valid and invalid interleaved,
# as JSON arrays and NDJSON

my (%want_ok, %want_dlq, %want_ptr, $n);
for my $round (1 .. 5) {
    my @ev;
    for my $type (sort keys %valid) {
        $n++;
        my $ok = "ok-$round-$type";
        my $bad = "bad-$round-$type";
        push @ev, qq{{"event_type":"$type","event_id":"$ok",$valid{$type}}};
        push @ev, qq({"event_type":"$type","event_id":"$bad",)
            . $invalid{$type}[0] . '}';
        $want_ok{$ok} = $type;
        $want_dlq{$bad} = $type;
        $want_ptr{$bad} = $invalid{$type}[1];
    }
    my ($st, $h, $j) = $round % 2
        ? $t->post('/e', '[' . join(',', @ev) . ']')
        : $t->post('/e', join("\n", @ev) . "\n",
                   content_type => 'application/x-ndjson');
    is($st, 202, "round $round: 202");
    is($j->{accepted}, 20, "round $round: 20 accepted");
    is($j->{rejected}, 20, "round $round: 20 rejected");
}

# events that are rejected before any schema: still dead letters

my $big = '{"event_type":"click","event_id":"bad-big","pad":"'
    . ('x' x 3000) . '"}';
my ($st, $h, $j) = $t->post('/e', qq{{"event_id":"bad-notype","x":1}});
is($st, 400, 'no event_type: 400');
($st, $h, $j) = $t->post('/e', qq{[{"event_type":"nope","event_id":"bad-unknown"},$big,}
    . qq{{"event_type":"click","event_id":"bad-json-id","user_id":5}]});
is($st, 400, 'unknown type, too large, schema: 400');

my $msgs = $t->kafka_read($topic, scalar keys %want_ok);
my %got = map { ($_->{key} // '') => $_ } @$msgs;
is_deeply([sort keys %got], [sort keys %want_ok],
    'the topic holds exactly the valid events');
my @wrong = grep { ($got{$_}{value}{event_type} // '') ne $want_ok{$_} }
    keys %want_ok;
ok(!@wrong, 'each with its own type') or diag("@wrong");

# evbus_source_service defaults to the host name (nginx's, lower case)
my $host = lc Sys::Hostname::hostname();

my $total = keys(%want_dlq) + 4;
my $dl = $t->kafka_read($dlq, $total);
is(scalar @$dl, $total, "$total dead letters");
my %dead;
for my $m (@$dl) {
    my $v = $m->{value};
    my $raw = ref $v eq 'HASH' ? Evbus::json_decode($v->{raw} // '') : undef;
    my $id = ref $raw eq 'HASH' ? $raw->{event_id} : undef;
    $id //= 'bad-big' if ref $v eq 'HASH' && $v->{raw_truncated};
    $dead{$id // 'undef'} = $m;
}
is_deeply([sort grep { /^bad-\d/ } keys %dead], [sort keys %want_dlq],
    'the dead-letter topic holds exactly the invalid events');

my @badenv;
for my $id (keys %want_dlq) {
    my $m = $dead{$id} or next;
    my $v = $m->{value};
    push @badenv, $id unless ref $v eq 'HASH'
        && $v->{error}{kind} eq 'schema'
        && $v->{error}{pointer} eq $want_ptr{$id}
        && length($v->{error}{message}) > 5
        && $m->{headers}{error_kind} eq 'schema'
        && $m->{headers}{event_type} eq $want_dlq{$id}
        && ($v->{event_type} // '') eq $want_dlq{$id}
        && ($m->{key} // '') eq $id
        && ref $v->{metadata} eq 'HASH'
        && $v->{metadata}{client_ip} eq '127.0.0.1'
        && $v->{metadata}{ingest_timestamp}
            =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
        && $m->{headers}{ingest_timestamp}
            eq $v->{metadata}{ingest_timestamp}
        && $v->{metadata}{request_id} =~ /^[0-9a-f]{32}$/
        && $v->{metadata}{source_service} eq $host
        && $m->{headers}{source_service} eq $host
        && $v->{metadata}{user_agent} eq 'evbus-test/1';
}
ok(!@badenv, 'every schema dead letter: kind, pointer, message, headers,'
    . ' metadata') or diag("@badenv");

# one envelope in full: raw is the client's text, byte for byte

my $one = $dead{'bad-1-click'};
is($one->{value}{raw}, '{"event_type":"click","event_id":"bad-1-click",'
    . $invalid{click}[0] . '}', 'raw: the original text of the event');
is($one->{value}{error}{message},
    'expected date-time, got "yesterday"', 'message');
is($one->{value}{error}{keyword}, 'format', 'keyword');
is($one->{key}, 'bad-1-click', 'key: the event_id');

my $u = $dead{'bad-unknown'};
is($u && $u->{value}{error}{kind}, 'unknown_type', 'unknown type: kind');
is($u && $u->{headers}{error_kind}, 'unknown_type', 'unknown type: header');

my $nt = $dead{'bad-notype'};
is($nt && $nt->{value}{error}{kind}, 'event_type', 'no event_type: kind');
ok($nt && !exists $nt->{headers}{event_type},
    'no event_type: no event_type header');

my $b = $dead{'bad-big'};
is($b && $b->{value}{error}{kind}, 'too_large', 'too large: kind');
ok($b && $b->{value}{raw_truncated}, 'too large: raw_truncated');
is($b && length($b->{value}{raw}), 2048,
    'too large: raw is the first evbus_max_event_size bytes');

my $js = $dead{'bad-json-id'};
is($js && $js->{value}{error}{pointer}, '/user_id', 'schema: pointer');

# invalid UTF-8 in the User-Agent (the body's is refused by the parser):
# the envelope's metadata stays valid JSON and UTF-8, each byte that starts
# no well-formed sequence becomes U+FFFD (a lead byte is no continuation
# byte; 0xf8 never starts a sequence)

my $body = '{"event_type":"click","event_id":"bad-ua","user_id":5}';
($st) = $t->raw_request("POST /e HTTP/1.1\r\nHost: localhost\r\n"
    . "User-Agent: ua \xc3\xc3 \xf8\x90\x80\x80 \xc3\xa9\r\n"
    . "Content-Type: application/json\r\nConnection: close\r\n"
    . 'Content-Length: ' . length($body) . "\r\n\r\n$body");
is($st, 400, 'invalid UTF-8 in User-Agent: 400');
$dl = $t->kafka_read($dlq, $total + 1);
my ($bua) = grep { ($_->{raw} // '') =~ /bad-ua/ } @$dl;
ok($bua && ref $bua->{value} eq 'HASH',
    'invalid UTF-8 in User-Agent: the envelope is JSON');
ok($bua && utf8::decode(my $copy = $bua->{raw}),
    'invalid UTF-8 in User-Agent: the envelope is valid UTF-8');
is($bua && $bua->{value}{metadata}{user_agent},
    "ua \x{fffd}\x{fffd} \x{fffd}\x{fffd}\x{fffd}\x{fffd} \x{e9}",
    'invalid UTF-8 in User-Agent: U+FFFD for each bad byte');

# without a dead-letter topic: counted, logged at info

$t->error_log_new;
($st, $h, $j) = $t->post('/nodlq', '[{"event_type":"click","event_id":"nd-1",'
    . '"user_id":7},{"event_type":"gen_1","event_id":"nd-2","n":1}]');
is($st, 202, 'no dead-letter topic: 202');
like($t->error_log_new,
     qr/\[info\].*evbus: event 0 rejected \(schema\): \/user_id: expected/,
     'the rejection is logged at info');
my $nd = $t->kafka_read($topic3, 1);
is_deeply([map { $_->{key} } @$nd], ['nd-2'], 'only the valid event produced');

$t->done;

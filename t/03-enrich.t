#!/usr/bin/perl

# Enrichment: the metadata object the module writes, attempts to override
# it, generated UUIDv7s and their order, and the client's bytes kept as
# they were sent.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Sys::Hostname qw(hostname);
use Time::HiRes qw(time);
use Evbus qw(rfc3339_ms uuid_re);

my $t = Evbus->new('enrich')->need_kafka;
my $topic = $t->topic('a');
my $topic_host = $t->topic('host');

$t->start_ok(locations => <<"EOF");
location = /e {
    evbus;
    evbus_topic $topic;
    evbus_source_service enrich-svc;
    add_header X-Request-Id \$request_id always;
}
location = /h {
    evbus;
    evbus_topic $topic_host;
}
EOF

my $ua = 'evbus-enrich/1.0 (t; "q")';
my $before = int(time() * 1000);
my %rid;    # event_id => request id of its request

sub post {
    my ($path, $body, %o) = @_;
    my ($st, $h, $j) = $t->post($path, $body, agent => $ua, %o);
    for my $id (@{ $j->{event_ids} || [] }) {
        $rid{$id} = $h->{'x-request-id'};
    }
    return ($st, $h, $j);
}

# plain event: every metadata field

my ($st, $h, $j) = post('/e', '{"event_type":"plain","event_id":"p-1"}');
is($st, 202, 'plain event accepted');

# client metadata: reserved names overwritten, others kept byte for byte

my $custom = '"custom" : {"a":[1, 2.50 ,"x\u00e9"],"b":null}';
my $tail = '"zz":1.0E+2';
($st) = post('/e', '{"event_type":"meta","event_id":"m-1","metadata":{'
    . '"ingest_timestamp":"fake-ts","event_version":"fake-v",'
    . $custom . ',"source_service":"fake-svc","client_ip":"fake-ip",'
    . '"user_agent":"fake-ua","request_id":"fake-rid",' . $tail . '}}');
is($st, 202, 'event with client metadata accepted');

($st) = post('/e', '{"event_type":"meta","event_id":"m-2","metadata":{}}');
is($st, 202, 'event with empty metadata accepted');

($st) = post('/e', '{"event_type":"ver","event_id":"v-1","event_version":3}');
is($st, 202, 'event with event_version accepted');

# byte for byte

my @members = (
    '"n1":1.000000000000000000001',
    '"n2":1e400',
    '"n3":12345678901234567890123',
    '"n4":-0.0',
    '"n5":-1.5E-7',
    '"s1":"a\u00e9\ud83d\ude00\n\t\"q\"\\\\ \/"',
    qq{"s2":"h\xc3\xa9llo \xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac"},
    '"arr":[1, 2,  3, {"k" : "v"}, [], {}]',
    '"t":true',
    '"f":false',
    '"nul":null',
    qq{"\xc3\xa9t\xc3\xa9":"key with unicode"},
);
my $bytes = '{"event_type":"bytes","event_id":"b-1",'
    . join(',', @members) . '}';
($st) = post('/e', $bytes);
is($st, 202, 'event with odd numbers and strings accepted');

# generated ids: UUIDv7, strictly increasing within a request,
# non-decreasing in time across requests

my @gen;
for my $r (1 .. 5) {
    my ($st, $h, $j) = post('/e',
        '[' . join(',', map { qq{{"event_type":"gen","n":$_}} } 1 .. 20)
        . ']');
    is($st, 202, "request $r of generated ids accepted");
    my $ids = $j->{event_ids} || [];
    is(scalar @$ids, 20, "request $r: 20 ids");
    is(scalar(grep { $_ =~ uuid_re() } @$ids), 20,
        "request $r: all UUIDv7 (version 7, variant 10xx)");
    is_deeply($ids, [sort @$ids], "request $r: strictly increasing")
        and is(scalar(keys %{{ map { $_ => 1 } @$ids }}), 20,
            "request $r: all distinct");
    push @gen, $ids;
}

# the 48-bit millisecond prefix
sub uuid_ms {
    no warnings 'portable';
    return hex(substr($_[0], 0, 8) . substr($_[0], 9, 4));
}

my @ms = map { [map { uuid_ms($_) } @$_] } @gen;
my $order = 1;
for my $i (1 .. $#ms) {
    $order = 0 if $ms[$i][0] < $ms[$i - 1][-1];
}
ok($order, 'UUIDv7 ms prefixes do not decrease across requests');
my $after = int(time() * 1000);
ok($ms[0][0] >= $before - 1000 && $ms[-1][-1] <= $after + 1000,
    'UUIDv7 ms prefixes are the time of ingestion')
    or diag("$ms[0][0] .. $ms[-1][-1] not in $before .. $after");

# default source_service: the host name, as nginx knows it

($st) = post('/h', '{"event_type":"host","event_id":"h-1"}');
is($st, 202, 'event on a location without evbus_source_service');

# what reached Kafka

my $want = 5 + 100;
my $msgs = $t->kafka_read($topic, $want);
is(scalar @$msgs, $want, "$want messages");
my %m = map { ($_->{value}{event_id} // '') => $_ } grep { $_->{value} } @$msgs;

my $hex32 = qr/^[0-9a-f]{32}$/;

sub check_meta {
    my ($id, $version) = @_;

    my $msg = $m{$id};
    ok($msg, "$id: in Kafka") or return;
    my $md = $msg->{value}{metadata};
    is(ref $md, 'HASH', "$id: metadata is an object") or return;

    like($md->{ingest_timestamp} // '',
        qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
        "$id: ingest_timestamp is RFC 3339 UTC with ms");
    my $ts = rfc3339_ms($md->{ingest_timestamp});
    ok(defined $ts && $ts >= $before - 1000 && $ts <= $after + 60000,
        "$id: ingest_timestamp is the time of ingestion");

    like($msg->{raw}, qr/"event_version":$version[,}]/,
        "$id: metadata event_version $version, a JSON integer");
    is($md->{event_version}, $version, "$id: event_version value");
    is($md->{source_service}, 'enrich-svc', "$id: source_service");
    is($md->{client_ip}, '127.0.0.1', "$id: client_ip");
    is($md->{user_agent}, $ua, "$id: user_agent");
    like($md->{request_id} // '', $hex32, "$id: request_id is 32 hex");
    is($md->{request_id}, $rid{$id}, "$id: request_id is \$request_id");

    is(scalar(() = $msg->{raw} =~ /"metadata"\s*:/g), 1,
        "$id: one metadata member");
    for my $k (qw(ingest_timestamp event_version source_service client_ip
        user_agent request_id))
    {
        my $n = () = $msg->{raw} =~ /"$k"\s*:/g;
        my $want = $k eq 'event_version'
            && exists $msg->{value}{event_version} ? 2 : 1;
        is($n, $want, "$id: $k written once");
    }
    return $md;
}

check_meta('p-1', 1);
my $md = check_meta('m-1', 1);
unlike($m{'m-1'}{raw}, qr/fake/, 'm-1: no client value of a reserved name survives');
ok(index($m{'m-1'}{raw}, $custom) >= 0, 'm-1: custom metadata kept byte for byte')
    or diag($m{'m-1'}{raw});
ok(index($m{'m-1'}{raw}, $tail) >= 0, 'm-1: last custom member kept byte for byte');
check_meta('m-2', 1);
check_meta('v-1', 3);
is($m{'v-1'}{value}{event_version}, 3, 'v-1: top-level event_version kept');

# client ids are kept as sent, once

for my $id (qw(p-1 m-1 v-1 b-1)) {
    my $raw = $m{$id} ? $m{$id}{raw} : '';
    is(scalar(() = $raw =~ /"event_id"\s*:/g), 1, "$id: one event_id member");
    is($m{$id} && $m{$id}{key}, $id, "$id: key is the event_id");
}

# byte for byte

my $b = $m{'b-1'} ? $m{'b-1'}{raw} : '';
for my $mem (@members) {
    ok(index($b, $mem) >= 0, "member kept byte for byte: $mem");
}
ok(Evbus::json_decode($b =~ s/1e400/1/r), 'byte test: value is valid JSON');
check_meta('b-1', 1);

# generated ids: first member, key, metadata

my $first = 1;
my $ver = 1;
for my $id (map { @$_ } @gen) {
    my $msg = $m{$id};
    unless ($msg) {
        $first = 0;
        next;
    }
    $first = 0 unless $msg->{raw} =~ /^\{"event_id":"\Q$id\E",/
        && ($msg->{key} // '') eq $id;
    $ver = 0 unless ($msg->{value}{metadata}{event_version} // 0) == 1;
}
ok($first, 'generated event_id is the first member and the key');
ok($ver, 'generated-id events carry metadata.event_version 1');

my $hm = $t->kafka_read($topic_host, 1);
is($hm->[0] && $hm->[0]{value}{metadata}{source_service}, lc hostname(),
    'source_service defaults to the host name');

$t->done;

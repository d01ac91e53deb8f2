#!/usr/bin/perl

# Bodies nginx wrote to a temporary file, bodies in several buffers, and
# chunked transfer encoding: the same events as from a body in memory.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus;

my $t = Evbus->new('bodyfile')->need_kafka;
my $topic = $t->topic;

$t->start_ok(
    http => ["evbus_topic $topic;", 'client_max_body_size 4m;'],
    locations => <<'EOF');
location = /e { evbus; client_body_buffer_size 1m; }
location = /f { evbus; client_body_in_file_only on; }
location = /c { evbus; client_body_in_file_only clean; }
location = /s { evbus; client_body_buffer_size 1k; }
EOF

my %want;    # event_id => the event's exact text

sub pad {
    my ($n) = @_;
    return join '', map { ('a' .. 'z', 'A' .. 'Z', 0 .. 9)[rand 62] } 1 .. $n;
}

sub event {
    my ($id, $n) = @_;
    my $e = qq[{"event_type":"bf","event_id":"$id","n":1.50,"pad":"]
        . pad($n) . qq[","u":"\xc3\xa9\\u00e9"}];
    $want{$id} = $e;
    return $e;
}

sub batch {
    my ($prefix, $count, $size) = @_;
    return map { event("$prefix-$_", $size) } 1 .. $count;
}

sub accepted {
    my ($name, $n, $st, $j, $raw) = @_;
    is($st, 202, "$name: 202") or diag($raw // '');
    is($j->{accepted}, $n, "$name: $n accepted");
    is($j->{rejected}, 0, "$name: none rejected");
}

# a body always written to a file

my ($st, $h, $j, $raw) = $t->post('/f', event('f-1', 10));
accepted('file only, one object', 1, $st, $j, $raw);

($st, $h, $j, $raw) = $t->post('/f', '[' . join(',', batch('fa', 5, 100)) . ']');
accepted('file only, array', 5, $st, $j, $raw);

($st, $h, $j, $raw) = $t->post('/f', join("\n", batch('fn', 5, 100)) . "\n",
    content_type => 'application/x-ndjson');
accepted('file only, ndjson', 5, $st, $j, $raw);

($st, $h, $j, $raw) = $t->post('/c', '[' . join(',', batch('fc', 3, 100)) . ']');
accepted('file only clean, array', 3, $st, $j, $raw);

($st, $h, $j, $raw) = $t->post('/f', '{"event_type":""}');
is($st, 400, 'file only, invalid event: 400');
is($j->{errors}[0]{error}, 'event_type is empty',
    'file only, invalid event: its reason');

# large bodies through a 1k body buffer: spooled to a file

($st, $h, $j, $raw) = $t->post('/s',
    '[' . join(",\n", batch('sa', 300, 600)) . ']');
accepted('spooled array of 300', 300, $st, $j, $raw);

($st, $h, $j, $raw) = $t->post('/s', join("\n", batch('sn', 300, 600)),
    content_type => 'application/x-ndjson');
accepted('spooled ndjson of 300', 300, $st, $j, $raw);

# one event larger than the body buffer
($st, $h, $j, $raw) = $t->post('/s', event('big-1', 20000));
accepted('spooled single 20k event', 1, $st, $j, $raw);

# and a mixed spooled batch: valid and invalid events around buffer edges
my @mixed = batch('sm', 50, 700);
splice @mixed, 10, 0, '{"event_type":"bad type"}';
splice @mixed, 30, 0, '{"event_type":"x","event_id":""}';
($st, $h, $j, $raw) = $t->post('/s', '[' . join(',', @mixed) . ']');
is($st, 202, 'spooled mixed batch: 202');
is($j->{accepted}, 50, 'spooled mixed batch: 50 accepted');
is_deeply([map { $_->{index} } @{ $j->{errors} || [] }], [10, 30],
    'spooled mixed batch: indexes of the invalid events');

# chunked transfer encoding, chunks cut inside events, sent apart

sub chunked {
    my ($path, $type, $body, $piece) = @_;
    my @parts = ("POST $path HTTP/1.1\r\nHost: localhost\r\n"
        . "Content-Type: $type\r\nTransfer-Encoding: chunked\r\n"
        . "Connection: close\r\n\r\n");
    while (length $body) {
        my $c = substr($body, 0, $piece, '');
        push @parts, sprintf("%x\r\n%s\r\n", length $c, $c);
    }
    push @parts, "0\r\n\r\n";
    return $t->raw_request(\@parts, pause => 0.01);
}

for my $loc (qw(e f s)) {
    my @ev = batch("ch$loc", 20, 300);
    ($st, $h, $j, $raw) = chunked("/$loc", 'application/json',
        '[' . join(',', @ev) . ']', 777);
    accepted("chunked array to /$loc", 20, $st, $j, $raw);

    @ev = batch("chn$loc", 20, 300);
    ($st, $h, $j, $raw) = chunked("/$loc", 'application/x-ndjson',
        join("\n", @ev) . "\n", 333);
    accepted("chunked ndjson to /$loc", 20, $st, $j, $raw);
}

# every event, once, byte for byte

my $n = keys %want;
my $msgs = $t->kafka_read($topic, $n, 30);
is(scalar @$msgs, $n, "$n messages in Kafka");

my (%seen, @bad);
for my $m (@$msgs) {
    my $id = $m->{key} // '';
    $seen{$id}++;
    my $e = $want{$id};
    # the client's members after event_id, up to the closing brace
    my ($members) = defined $e
        ? $e =~ /^\{"event_type":"bf","event_id":"[^"]+",(.*)\}$/ : ();
    push @bad, $id unless defined $members && index($m->{raw}, $members) >= 0
        && index($m->{raw}, '"event_type":"bf"') >= 0;
}
is_deeply([sort keys %seen], [sort keys %want], 'every event reached Kafka');
is(scalar(grep { $_ > 1 } values %seen), 0, 'no event twice');
ok(!@bad, 'events kept byte for byte')
    or diag("differ: @bad[0 .. ($#bad > 5 ? 5 : $#bad)]");

$t->done;

#!/usr/bin/perl

# Compressed bodies: Content-Encoding gzip and deflate (zlib and raw)
# inflated buffer by buffer into the parser, bounded by
# evbus_max_inflated_size (413; a gzip bomb of 20 MB in ~20 KB does not
# grow the worker), truncated or corrupt streams 400, unknown encodings
# 415.  What reached Kafka is exactly the events of accepted requests.

use strict;
use warnings;

use Test::More;
use IO::Compress::Gzip qw(gzip $GzipError);
use IO::Compress::Deflate qw(deflate);
use IO::Compress::RawDeflate qw(rawdeflate);
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus;

my $t = Evbus->new('compressed')->need_kafka;
my $topic = $t->topic;

$t->start_ok(
    http => ["evbus_topic $topic;"],
    locations => <<'EOF');
location = /e { evbus; client_max_body_size 10m; }
location = /small { evbus; evbus_max_inflated_size 4k; }
location = /file { evbus; client_body_buffer_size 1k; }
EOF

my $ev = sub { qq{{"event_type":"z","event_id":"$_[0]","n":$_[1]}} };
my $batch = sub {
    my ($p, $n) = @_;
    '[' . join(',', map { $ev->("$p-$_", $_) } 1 .. $n) . ']';
};
my $gz = sub { my $out; gzip(\$_[0] => \$out) or die $GzipError; $out };
my $zl = sub { my $out; deflate(\$_[0] => \$out) or die; $out };
my $raw = sub { my $out; rawdeflate(\$_[0] => \$out) or die; $out };
my $post = sub {
    my ($path, $body, $enc, %o) = @_;
    return $t->post($path, $body, content_type => $o{ct}
        // 'application/json', headers => { 'Content-Encoding' => $enc });
};

my (@want, %values);

for my $c (['gzip', $gz], ['x-gzip', $gz], ['GZip', $gz],
    ['deflate', $zl], ['deflate', $raw, 'raw'])
{
    my ($enc, $f, $name) = @$c;
    $name //= $enc;
    my $text = $batch->("b-$name", 100);
    my ($st, $h, $j, $body) = $post->('/e', $f->($text), $enc);
    is($st, 202, "$name: 202") or diag($body);
    is($j && $j->{accepted}, 100, "$name: 100 accepted");
    push @want, map { "b-$name-$_" } 1 .. 100;
    $values{"b-$name-7"} = 7;
}

my $nd = join("\n", map { $ev->("nd-$_", $_) } 1 .. 3) . "\n";
my ($st, $h, $j, $body) = $post->('/e', $gz->($nd), 'gzip',
    ct => 'application/x-ndjson');
is($st, 202, 'gzip ndjson: 202');
is($j && $j->{accepted}, 3, 'gzip ndjson: 3 accepted');
push @want, map { "nd-$_" } 1 .. 3;

# two gzip members are one body
($st, $h, $j, $body) = $post->('/e', $gz->('[' . $ev->('m-1', 1) . ',')
    . $gz->($ev->('m-2', 2) . ']'), 'gzip');
is($st, 202, 'two gzip members: 202') or diag($body);
is($j && $j->{accepted}, 2, 'two gzip members: 2 accepted');
push @want, 'm-1', 'm-2';

# a body larger than client_body_buffer_size is read from its temp file
my $big = $batch->('f', 300);
($st, $h, $j, $body) = $post->('/file', $gz->($big . (' ' x 50000)), 'gzip');
is($st, 202, 'gzip body in a temporary file: 202') or diag($body);
is($j && $j->{accepted}, 300, 'temporary file: 300 accepted');
push @want, map { "f-$_" } 1 .. 300;

# identity
($st, $h, $j) = $post->('/e', $ev->('id-1', 1), 'identity');
is($st, 202, 'identity: 202');
push @want, 'id-1';

# limits: within and beyond evbus_max_inflated_size

my $pad = sub { '[' . $ev->($_[0], 1) . (' ' x ($_[1] - 60)) . ']' };
($st, $h, $j) = $post->('/small', $gz->($pad->('s-ok', 4000)), 'gzip');
is($st, 202, '4000 bytes inflated, limit 4k: 202');
push @want, 's-ok';

($st, $h, $j, $body) = $post->('/small', $gz->($pad->('s-big', 5000)),
    'gzip');
is($st, 413, '5000 bytes inflated, limit 4k: 413');
like($j && $j->{error} // '', qr/evbus_max_inflated_size/,
    '413: JSON error names evbus_max_inflated_size') or diag($body);

# the bomb: 20 MB in about 20 KB

sub peak_rss {
    my $kb = 0;
    for my $pid ($t->worker_pids) {
        open my $fh, '<', "/proc/$pid/status" or next;
        while (<$fh>) {
            $kb += $1 if /^VmHWM:\s+(\d+)/;
        }
    }
    return $kb;
}

my $before = peak_rss();
for my $c (['zeros', "\0" x (20 * 1024 * 1024)],
    ['blanks', '[' . (' ' x (20 * 1024 * 1024)) . ']'])
{
    my ($name, $text) = @$c;
    my $bomb = $gz->($text);
    undef $text;
    cmp_ok(length $bomb, '<', 40 * 1024,
        "$name bomb: " . length($bomb) . ' compressed bytes');
    ($st, $h, $j, $body) = $post->('/e', $bomb, 'gzip');
    if ($name eq 'zeros') {
        is($st, 400, 'bomb of zeros: 400 (not JSON), stopped at once');
    } else {
        is($st, 413, 'bomb of blanks: 413 at evbus_max_inflated_size');
        like($j && $j->{error} // '', qr/evbus_max_inflated_size/,
            'bomb: JSON error') or diag($body);
    }
}
my $after = peak_rss();
cmp_ok($after - $before, '<', 8 * 1024,
    "workers' peak RSS grew by " . ($after - $before) . ' KB, not 20 MB');

# truncated and corrupt streams: 400, and none of their events go

my $full = $gz->($batch->('tr', 50));
($st, $h, $j, $body) = $post->('/e', substr($full, 0, length($full) - 10),
    'gzip');
is($st, 400, 'truncated gzip: 400');
like($j && $j->{error} // '', qr/truncated/, 'truncated: JSON error')
    or diag($body);

($st, $h, $j) = $post->('/e', substr($full, 0, length($full) / 2), 'gzip');
is($st, 400, 'gzip cut in half: 400');

my $bad = $full;
substr($bad, 30, 8) = 'garbage!';
($st, $h, $j, $body) = $post->('/e', $bad, 'gzip');
is($st, 400, 'corrupt gzip: 400');
like($j && $j->{error} // '', qr/corrupt/, 'corrupt: JSON error')
    or diag($body);

($st, $h, $j) = $post->('/e', $batch->('plain', 2), 'gzip');
is($st, 400, 'uncompressed body declared gzip: 400');

($st, $h, $j) = $post->('/e', '', 'gzip');
is($st, 400, 'empty body declared gzip: 400');

($st, $h, $j) = $post->('/e', $zl->($ev->('tail', 1)) . 'xx', 'deflate');
is($st, 400, 'data after the deflate stream: 400');

# unknown encodings: 415 before the body

for my $enc ('br', 'compress', 'gzip, br', 'zstd', '') {
    ($st, $h, $j, $body) = $post->('/e', $gz->($ev->('enc', 1)), $enc);
    is($st, 415, "Content-Encoding \"$enc\": 415");
    like($j && $j->{error} // '', qr/encoding/, "\"$enc\": JSON error")
        or diag($body);
}

# a declared compressed length beyond the inflated limit: 413 at once
($st, $h, $j, $body, my $ms) = $t->first_response("POST /small HTTP/1.1\r\n"
    . "Host: localhost\r\nContent-Type: application/json\r\n"
    . "Content-Encoding: gzip\r\nContent-Length: 10000\r\n\r\n");
is($st, 413, 'gzip body declared beyond the inflated limit: 413');
cmp_ok($ms, '<', 1000, "before the body (${\ int $ms} ms)");

# exactly the accepted requests' events reached Kafka, intact

my $msgs = $t->kafka_read($topic, scalar @want, 30);
sleep 1;
$msgs = $t->kafka_read($topic, scalar @want, 2);
is_deeply([sort map { $_->{key} // '' } @$msgs], [sort @want],
    'only events of accepted requests reached Kafka');
for my $m (@$msgs) {
    next unless exists $values{$m->{key}};
    is($m->{value} && $m->{value}{n}, $values{$m->{key}},
        "$m->{key}: value intact");
}

$t->done;

#!/usr/bin/perl

# The browser SDK, sdk/js/evbus.js, in Debian's Chromium (headless, driven
# by playwright-core: t/browser/run.mjs).  nginx serves the pages on one
# port and the endpoint on another, so the SDK posts across origins (CORS,
# text/plain, the write key and sent_at in the query string).  Clicks go
# in batches by count and by time and, when the page is left, by beacon;
# 503 with Retry-After: 1 for a while (a file the test creates and
# removes), then recovery; 413 and 400 never retried; offline, a bounded
# queue in localStorage.  Every event the SDK made is in Kafka exactly
# once, with the id the SDK gave it, and none of those it was told to drop
# or that the endpoint refused.  Also: the SDK's minified size (terser)
# and evbus.global.js being up to date with evbus.js.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus qw(json_decode json_encode free_port rfc3339_ms);

my $t = Evbus->new('browser-sdk')->need_kafka;
my $root = Evbus::repo_root();
my $dir = $t->dir;
my $topic = $t->topic;

# prerequisites (scripts/deps.sh browser; npm packages into .cache/npm)

Evbus::_missing('no node (scripts/deps.sh browser)')
    unless system('node --version >/dev/null 2>&1') == 0;
Evbus::_missing('no /usr/bin/chromium (scripts/deps.sh browser)')
    unless -x '/usr/bin/chromium';
Evbus::_missing('t/browser/install.sh failed: playwright-core and terser'
    . ' from the npm registry')
    unless system("$root/t/browser/install.sh") == 0;

# size and the script-tag build

my $out = `node $root/t/browser/size.mjs 2>&1`;
my $sizes = json_decode((split /\n/, $out)[-1] // '') || {};
for my $f ('evbus.js', 'evbus.global.js') {
    my $s = $sizes->{$f} || {};
    ok(($s->{min} // 1e9) < 5120, "$f minified: "
        . ($s->{min} // '?') . " bytes (gzip " . ($s->{gzip} // '?')
        . "), under 5 KB") or diag($out);
}

$out = `node $root/sdk/js/build.mjs --check 2>&1`;
is($?, 0, 'sdk/js/evbus.global.js is up to date with evbus.js')
    or diag($out);

# nginx: the endpoint on the test's port, the pages on another

my $pages = free_port();
my $origin = "http://127.0.0.1:$pages";
my $keys = "$root/conf-examples/write-keys.txt";
my $edge = <<"EOF";
evbus;
evbus_cors_origins $origin;
evbus_accept_text_plain on;
evbus_write_keys $keys;
EOF

# Sec-Fetch-Mode tells a beacon (no-cors: text/plain is a simple body)
# from a fetch (cors); the browser's own tools do not see a beacon sent
# while its page is left
$t->start_ok(
    http => ["evbus_topic $topic;",
        'log_format sdk "$request_id $request_method $uri $status'
        . ' $http_sec_fetch_mode $evbus_accepted";'],
    server => ["access_log $dir/sdk.log sdk;"],
    locations => <<"EOF",
location = /v1/batch {
    $edge
    if (-f $dir/down) {
        add_header Retry-After 1 always;
        return 503;
    }
}
location = /v1/small {
    $edge
    evbus_max_events 2;
}
EOF
    servers => <<"EOF");
    server {
        listen 127.0.0.1:$pages;
        root $root;
        types {
            text/html               html;
            application/javascript  js;
        }

        location / { return 404; }
        location /sdk/js/ { }
        location /t/browser/ { }
        location = /away {
            default_type text/html;
            return 200 "<p>another page</p>";
        }
    }
EOF

# the browser

my $arg = json_encode({
    page => $origin,
    endpoint => 'http://127.0.0.1:' . $t->port . '/v1/batch',
    small => 'http://127.0.0.1:' . $t->port . '/v1/small',
    writeKey => 'wk_live_7f3a9c2e41d84b6f',
    down => "$dir/down",
});

local $ENV{EVBUS_SDK_TEST} = $arg;
$out = `timeout 240 node $root/t/browser/run.mjs 2>$dir/node.err`;
my $rc = $? >> 8;
my $res = json_decode((split /\n/, $out)[-1] // '');

is($rc, 0, 'node t/browser/run.mjs ran') or diag(`tail -n 30 $dir/node.err`);
ok($res, 'it reported') or diag($out);
$res ||= { checks => [], events => {}, absent => [] };

for my $c (@{ $res->{checks} }) {
    my ($pass, $name, $why) = @$c;
    ok($pass, $name) or diag($why);
}

# Kafka: each event once, with the SDK's id; none of the refused

my %want = %{ $res->{events} };
my $n = keys %want;
is($n, 27, "$n events the SDK made and the endpoint took: 14 clicks, 7"
    . ' refused for a while, 4 + 2 offline');

my $msgs = $t->kafka_read($topic, $n, 30);
sleep 1;
$msgs = $t->kafka_read($topic, $n + 1, 2);

my %seen;
$seen{ $_->{key} // '' }++ for @$msgs;
is(scalar @$msgs, $n, "$n messages in Kafka");
is_deeply([grep { ($seen{$_} // 0) != 1 } sort keys %want], [],
    'each event exactly once');
is_deeply([grep { $seen{$_} } @{ $res->{absent} }], [],
    'none of the dropped or refused events ('
    . scalar(@{ $res->{absent} }) . ')');

my @bad;
for my $m (@$msgs) {
    my $v = $m->{value} || {};
    my $w = $want{ $m->{key} // '' } or next;
    my $md = $v->{metadata} || {};
    my $ts = rfc3339_ms($v->{timestamp});
    my $ct = rfc3339_ms($md->{corrected_timestamp});
    my $in = rfc3339_ms($md->{ingest_timestamp});
    my $why;

    $why = 'event_id' if ($v->{event_id} // '') ne $m->{key};
    $why = 'event_type' if ($v->{event_type} // '') ne $w->{type};
    $why = 'write_key' if ($md->{write_key} // '') ne 'web-shop';
    $why = 'no timestamp or corrected_timestamp'
        unless defined $ts && defined $ct && defined $in;
    # sent_at is the time of the send that arrived, retries included:
    # the correction removes the time spent waiting, not only skew
    $why = "corrected_timestamp $md->{corrected_timestamp}"
        . " vs timestamp $v->{timestamp}"
        if !$why && abs($ct - $ts) > 1000;
    $why = 'a retried event arrived less than a second after it was made'
        if !$why && $w->{retried} && $in - $ts < 1000;
    push @bad, "$m->{key}: $why" if $why;
}
is_deeply(\@bad, [], 'type, write key label, corrected timestamps')
    or diag(json_encode($msgs->[0]{value}));

# the clicks left in the queue when the page was left: one beacon

my %by_id = map { ($_->{key} // '') => $_->{value} } @$msgs;
my @rid = map { $by_id{$_} ? $by_id{$_}{metadata}{request_id} : '?' }
    @{ $res->{beacon} || [] };
is(scalar @rid, 3, 'three clicks left for the beacon');
is(scalar(keys %{ { map { $_ => 1 } @rid } }), 1, '... sent in one request')
    or diag("@rid");

my %line;
open my $fh, '<', "$dir/sdk.log" or die "$dir/sdk.log: $!";
while (<$fh>) {
    my ($id, @f) = split;
    $line{$id} = "@f";
}
close $fh;
is($line{ $rid[0] // '' }, 'POST /v1/batch 202 no-cors 3',
    '... a beacon (Sec-Fetch-Mode: no-cors), 3 accepted');
my @modes = map { (split / /)[3] } values %line;
is(scalar(grep { $_ eq 'no-cors' } @modes), 1, 'one beacon in all');

$t->done;

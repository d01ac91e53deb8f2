#!/usr/bin/perl

# Proven with the real client (issue 10): Segment's @segment/analytics-node,
# installed from the npm registry into .cache/npm/segment (git-ignored),
# pointed at nginx by host and path.  A track, identify, page, group and
# alias call and a flush: what reaches Kafka (ids, types, properties, the
# write key's label, corrected timestamps), and no error reported by the
# library.  Then a retry: nginx answers the first attempt 503 with
# Retry-After after the events went to Kafka (a mirror subrequest), the
# library sends the batch again, and deduplicating by event_id leaves
# exactly one copy of each messageId.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus qw(repo_root json_decode rfc3339_ms);

my $t = Evbus->new('segment-node')->need_kafka;

for my $cmd (qw(node npm)) {
    Evbus::_missing("$cmd is not installed (scripts/deps.sh test)")
        unless system("command -v $cmd >/dev/null 2>&1") == 0;
}

# the library, once per checkout
my $version = '3.1.0';
my $cache = repo_root() . '/.cache/npm/segment';
my $lib = "$cache/node_modules/\@segment/analytics-node/package.json";
my $have = -f $lib ? (json_decode(do { local (@ARGV, $/) = $lib; <> }) || {})
    ->{version} // '' : '';

if ($have ne $version) {
    system('mkdir', '-p', $cache);
    system("cd '$cache' && npm install --no-audit --no-fund --no-save"
        . " --prefix '$cache' '\@segment/analytics-node\@$version'"
        . " > '$cache/npm.log' 2>&1") == 0
        or Evbus::_missing("npm install \@segment/analytics-node\@$version"
            . " failed (see $cache/npm.log)");
}

my $topic = $t->topic;
my $dir = $t->dir;
my $port = $t->port;

open my $fh, '>', "$dir/keys.txt" or die $!;
print $fh "wk_node_1 node-app\n";
close $fh;

$t->start_ok(http => ["evbus_topic $topic;"], locations => <<"CONF");
location /seg/v1/ {
    evbus;
    evbus_format segment;
    evbus_write_keys keys.txt;
}

# first attempts: the events go to Kafka through the mirror, the client
# gets a 503; retries (X-Retry-Count) go straight to the evbus location
location /flaky/v1/ {
    if (\$http_x_retry_count) {
        rewrite ^/flaky(/.*)\$ /seg\$1 last;
    }
    mirror /seg/v1/batch;
    mirror_request_body on;
    proxy_pass http://127.0.0.1:$port/unavailable;
}
location /unavailable {
    add_header Retry-After 1 always;
    return 503 '{"error":"unavailable, retry later"}';
}
CONF

sub client {
    my ($path, $run) = @_;
    my $out = `cd '$FindBin::Bin/node' && NODE_PATH='$cache/node_modules' \\
        timeout 60 node segment-client.js 'http://127.0.0.1:$port' '$path' \\
        wk_node_1 '$run' 2>&1`;
    my ($line) = grep { /^\{/ } split /\n/, $out;
    my $r = $line && json_decode($line);
    diag($out) unless $r;
    return $r || { ids => {}, errors => ["no output: $out"], responses => [] };
}

my $run = "$$-" . time();
my $t0 = time();
my $r = client('/seg/v1/batch', $run);
my $t1 = time();

is_deeply($r->{errors}, [], 'the library reported no error');
is(scalar keys %{ $r->{ids} }, 5, 'five calls delivered');
is_deeply($r->{responses}, [200], 'one batch request, answered 200');

my %type = (track => 'order_completed', identify => 'identify',
    page => 'page', group => 'group', alias => 'alias');
my %id2call = reverse %{ $r->{ids} };

my $msgs = $t->kafka_read($topic, 5);
sleep 1;
$msgs = $t->kafka_read($topic, 5, 2);
is_deeply([sort map { $_->{key} } @$msgs], [sort values %{ $r->{ids} }],
    'Kafka holds exactly the five messageIds as keys');

for my $m (@$msgs) {
    my $call = $id2call{ $m->{key} } // '?';
    my $v = $m->{value} || {};
    is($v->{event_id}, $m->{key}, "$call: event_id is the messageId");
    is($v->{event_type}, $type{$call}, "$call: event_type $type{$call}");
    is($v->{type}, $call, "$call: Segment's type kept");
    is($v->{metadata}{write_key}, 'node-app', "$call: the key's label");
    my $ct = rfc3339_ms($v->{metadata}{corrected_timestamp});
    ok($ct && $ct >= ($t0 - 2) * 1000 && $ct <= ($t1 + 2) * 1000,
        "$call: corrected_timestamp within the run"
        . " ($v->{metadata}{corrected_timestamp})");
    unlike($m->{raw}, qr/wk_node_1/, "$call: no key in the message");
}

my %by = map { ($id2call{ $_->{key} } // '?') => $_->{value} } @$msgs;
is($by{track}{event}, 'Order Completed', 'track: the name as sent');
is_deeply($by{track}{properties}, { total => 12.5, sku => 'A-1', run => $run },
    'track: properties');
is($by{track}{userId}, "user-$run", 'track: userId');
is($by{page}{anonymousId}, "anon-$run", 'page: anonymousId');
is($by{page}{name}, 'Home', 'page: name');
is($by{group}{groupId}, "group-$run", 'group: groupId');
is($by{alias}{previousId}, "anon-$run", 'alias: previousId');
is($by{identify}{traits}{plan}, 'pro', 'identify: traits');
is($by{track}{context}{library}{name}, '@segment/analytics-node',
    'the library\'s context');

# the retry

my $run2 = "$run-retry";
my $r2 = client('/flaky/v1/batch', $run2);

is_deeply($r2->{errors}, [], 'retry: the library reported no error');
is(scalar keys %{ $r2->{ids} }, 5, 'retry: five calls delivered');
is($r2->{responses}[0], 503, 'retry: the first attempt got 503');
is($r2->{responses}[-1], 200, 'retry: the last attempt got 200');

my $want = 5 + 5 * @{ $r2->{responses} };
$msgs = $t->kafka_read($topic, $want);
sleep 1;
$msgs = $t->kafka_read($topic, $want, 2);

my %copies;
for my $m (@$msgs) {
    next unless ($m->{value}{properties}{run} // $m->{value}{traits}{run}
        // '') eq $run2 || $m->{value}{type} eq 'alias'
        && $m->{value}{previousId} eq "anon-$run2";
    $copies{ $m->{value}{event_id} }++;
}

ok(!grep({ $_ < 2 } values %copies),
    'retry: every event reached Kafka twice (mirrored 503, then the retry)')
    or diag(explain \%copies);
is_deeply([sort keys %copies], [sort values %{ $r2->{ids} }],
    'retry: after dedup by event_id, exactly one copy per messageId');

$t->done;

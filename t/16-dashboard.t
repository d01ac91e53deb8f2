#!/usr/bin/perl

# The Grafana dashboard (conf-examples/grafana/evbus.json) queries only
# metrics that a live evbus_status output has, and groups them only by
# labels those metrics carry.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(sleep time);
use Evbus;

my $t = Evbus->new('dashboard')->need_kafka;
my $topic = $t->topic;

my $file = Evbus::repo_root() . '/conf-examples/grafana/evbus.json';
open my $fh, '<', $file or die "$file: $!";
my $dash = Evbus::json_decode(do { local $/; <$fh> });
close $fh;
ok($dash && ref $dash->{panels} eq 'ARRAY', 'the dashboard is JSON with panels');

my @exprs;
for my $p (@{ $dash->{panels} }) {
    push @exprs, map { $_->{expr} } @{ $p->{targets} || [] };
}
for my $v (@{ $dash->{templating}{list} || [] }) {
    push @exprs, $v->{query} if ($v->{type} // '') eq 'query';
}
cmp_ok(scalar @exprs, '>=', 10, 'queries found');

# statistics once a second, not the default 10 s
$t->start_ok(http => ["evbus_topic $topic;"],
    properties => [['linger.ms', 5], ['statistics.interval.ms', 1000]],
    locations => "location = /e { evbus; }\n"
        . "location = /k { evbus; evbus_ack kafka; }\n"
        . "location = /metrics { evbus_status; }");

my ($st) = $t->post('/e', '[{"event_type":"d","event_id":"d1"},{"x":1}]');
is($st, 202, 'an event posted');
($st) = $t->post('/k', '{"event_type":"d","event_id":"d2"}');
is($st, 200, 'an event delivered');

# librdkafka's statistics come once a second per worker
my $raw;
my $deadline = time() + 10;
do {
    (undef, undef, undef, $raw) = $t->http('GET', '/metrics');
} while ($raw !~ /^evbus_rdkafka_broker_up\{/m && time() < $deadline
    && sleep(0.2) // 1);

# metric name => { label => 1 }
my %live;
for (split /\n/, $raw) {
    next if /^#/;
    my ($name, $labels) = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /
        or next;
    $live{$name} //= {};
    $live{$name}{$1} = 1 while ($labels // '') =~ /(\w+)="/g;
}

my %seen;
for my $e (@exprs) {
    my %labels;
    for my $by ($e =~ /\bby \(([^)]*)\)/g) {
        $labels{$_} = 1 for grep { $_ ne 'le' } split /\s*,\s*/, $by;
    }
    for my $m ($e =~ /\b(evbus_[a-z0-9_]+)/g) {
        next if $seen{$m}++;
        ok(exists $live{$m}, "$m is in evbus_status");
    }
    my @names = $e =~ /\b(evbus_[a-z0-9_]+)/g;
    for my $l (sort keys %labels) {
        next if $l eq 'instance';     # added by Prometheus
        ok((grep { $live{$_} && $live{$_}{$l} } @names),
           "label $l exists on a metric of: $e");
    }
}

$t->done;

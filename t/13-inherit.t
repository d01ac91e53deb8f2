#!/usr/bin/perl

# Directives set at the http or server level reach the locations below:
# source_service (value and header), topic, limits.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus;

my $t = Evbus->new('inherit')->need_kafka;
my $topic = $t->topic;

$t->start_ok(
    http => ["evbus_source_service \"svc \\\"http\\\"\";",
        "evbus_topic $topic;", 'evbus_max_events 2;'],
    locations => "location = /e { evbus; }\n"
        . "location /s { evbus_source_service svc-loc; "
        . "location = /s/e { evbus; } }");

my ($st, $h, $j) = $t->post('/e',
    '[{"event_type":"a","event_id":"inh-1"}]');
is($st, 202, 'http-level settings: 202');
($st) = $t->post('/s/e', '[{"event_type":"a","event_id":"inh-2"}]');
is($st, 202, 'location-level source_service: 202');
($st) = $t->post('/e', '[{"event_type":"a"},{"event_type":"a"},'
    . '{"event_type":"a"}]');
is($st, 413, 'http-level evbus_max_events applies');

my $msgs = $t->kafka_read($topic, 2);
my %by = map { $_->{key} => $_ } @$msgs;
is($by{'inh-1'}{value}{metadata}{source_service}, 'svc "http"',
    'source_service from the http level, escaped');
is($by{'inh-1'}{headers}{source_service}, 'svc "http"',
    'header from the http level');
is($by{'inh-2'}{value}{metadata}{source_service}, 'svc-loc',
    'source_service from an enclosing location');

$t->done;

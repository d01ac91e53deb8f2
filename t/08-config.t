#!/usr/bin/perl

# Configuration checked by `nginx -t`: what passes, and what fails with a
# message that names the problem and the line.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus;

my $t = Evbus->new('config');
my $conf_re = qr/in \Q${\ $t->dir}\E\/nginx\.conf:(\d+)/;

# the line of the first occurrence of $text in the configuration
sub line_of {
    my ($conf, $text) = @_;
    my @l = split /\n/, $conf;
    for my $i (0 .. $#l) {
        return $i + 1 if index($l[$i], $text) >= 0;
    }
    return -1;
}

sub passes {
    my ($name, %o) = @_;
    my ($rc, $out) = $t->nginx_t(%o);
    is($rc, 0, "$name: nginx -t passes") or diag($out);
}

sub fails {
    my ($name, $re, $at, %o) = @_;
    my $conf = $t->conf(%o);
    my ($rc, $out) = $t->nginx_t($conf);
    isnt($rc, 0, "$name: nginx -t fails");
    like($out, $re, "$name: message") or diag($out);
    if (defined $at) {
        my ($line) = $out =~ $conf_re;
        is($line, line_of($conf, $at), "$name: names nginx.conf:LINE")
            or diag($out);
    }
}

passes('default test configuration');

passes('every directive',
    http => ['evbus_topic t-$evbus_event_type;', 'evbus_source_service s1;',
        'evbus_max_event_size 64k;', 'evbus_max_events 100;'],
    properties => [['linger.ms', 5], ['acks', 'all'],
        ['message.timeout.ms', 10000], ['compression.codec', 'lz4']],
    server => ['evbus_topic srv;', 'evbus_max_events 10;'],
    locations => <<'EOF');
location = /e {
    evbus;
    evbus_topic loc-$host-$evbus_event_type;
    evbus_source_service s2;
    evbus_max_event_size 512k;
    evbus_max_events 1;
}
location = /f { evbus; }
EOF

passes('several brokers', brokers => '127.0.0.1:9092,localhost:9093');

passes('module loaded, unused, without evbus_brokers',
    brokers => undef, locations => 'location / { return 204; }');

fails('evbus without evbus_brokers', qr/evbus_brokers/, undef,
    brokers => undef);

fails('unknown librdkafka property',
    qr/No such configuration property: "no\.such\.prop"/,
    'no.such.prop', properties => [['no.such.prop', 1]]);

fails('bad librdkafka property value',
    qr/Invalid value for configuration property "(?:linger\.ms|queue\.buffering\.max\.ms)"/,
    'linger.ms abc', properties => [['linger.ms', 5], ['linger.ms', 'abc']]);

fails('evbus_kafka_property with one argument',
    qr/invalid number of arguments in "evbus_kafka_property"/,
    'evbus_kafka_property acks;',
    http => ['evbus_kafka_property acks;']);

fails('evbus in http', qr/"evbus" directive is not allowed here/,
    'evbus;', http => ['evbus;']);

fails('evbus in server', qr/"evbus" directive is not allowed here/,
    'evbus;', server => ['evbus;'], locations => 'location = /x { }');

fails('evbus with an argument',
    qr/invalid number of arguments in "evbus"/, 'evbus on;',
    locations => 'location = /e { evbus on; }');

fails('evbus_brokers in server',
    qr/"evbus_brokers" directive is not allowed here/,
    'evbus_brokers 192.0.2.1:9;', server => ['evbus_brokers 192.0.2.1:9;']);

fails('evbus_kafka_property in server',
    qr/"evbus_kafka_property" directive is not allowed here/,
    'evbus_kafka_property acks', server => ['evbus_kafka_property acks 1;']);

fails('evbus_max_event_size abc', qr/evbus_max_event_size/,
    'evbus_max_event_size abc',
    locations => 'location = /e { evbus; evbus_max_event_size abc; }');

fails('evbus_max_event_size 10q', qr/evbus_max_event_size/,
    'evbus_max_event_size 10q', http => ['evbus_max_event_size 10q;']);

fails('evbus_max_events 0',
    qr/evbus_max_events|value must be between 1 and/, 'evbus_max_events 0',
    locations => 'location = /e { evbus; evbus_max_events 0; }');

fails('evbus_max_events abc', qr/evbus_max_events/, 'evbus_max_events abc',
    locations => 'location = /e { evbus; evbus_max_events abc; }');

fails('evbus_max_events -1', qr/evbus_max_events/, 'evbus_max_events -1',
    server => ['evbus_max_events -1;']);

fails('evbus_topic with two values',
    qr/invalid number of arguments in "evbus_topic"/,
    'evbus_topic a b;', http => ['evbus_topic a b;']);

fails('evbus_topic with an unknown variable',
    qr/unknown "no_such_var" variable/, undef,
    locations => 'location = /e { evbus; evbus_topic t-$no_such_var; }');

# evbus_max_topics: a number, http only

passes('evbus_max_topics', http => ['evbus_max_topics 8;']);
fails('evbus_max_topics abc', qr/"evbus_max_topics" directive invalid number/,
    'evbus_max_topics abc', http => ['evbus_max_topics abc;']);
fails('evbus_max_topics in a location',
    qr/"evbus_max_topics" directive is not allowed here/, undef,
    locations => 'location = /e { evbus; evbus_max_topics 8; }');

# what librdkafka's settings make of the locations

sub warns {
    my ($name, $re, %o) = @_;
    my ($rc, $out) = $t->nginx_t(%o);
    is($rc, 0, "$name: nginx -t passes") or diag($out);
    like($out, $re, "$name: warning") or diag($out);
}

my $acks_re = qr/\[warn\] "evbus_ack kafka" with the Kafka property "acks" 1:/;

warns('evbus_ack kafka with acks 1', $acks_re,
    properties => [['acks', 1]],
    locations => 'location = /e { evbus; evbus_ack kafka; }');
warns('evbus_ack kafka with acks 0 (http level)',
    qr/"evbus_ack kafka" with the Kafka property "acks" 0:/,
    properties => [['acks', 0]], http => ['evbus_ack kafka;']);

for my $acks ('all', '-1') {
    my ($rc, $out) = $t->nginx_t(properties => [['acks', $acks]],
        locations => 'location = /e { evbus; evbus_ack kafka; }');
    is($rc, 0, "evbus_ack kafka with acks $acks: passes");
    unlike($out, qr/\[warn\]/, "evbus_ack kafka with acks $acks: no warning");
}

{
    my ($rc, $out) = $t->nginx_t(properties => [['acks', 1]]);
    unlike($out, qr/\[warn\]/, 'acks 1 without evbus_ack kafka: no warning');
}

my $size_re = qr/"evbus_max_event_size" \d+ plus up to \d+ bytes of/
    . qr/ metadata, key and headers exceeds the Kafka property/
    . qr/ "message\.max\.bytes" \d+/;
$size_re = qr/$size_re/;

fails('evbus_max_event_size 1m with message.max.bytes 1000000', $size_re,
    undef, http => ['evbus_max_event_size 1m;']);
fails('evbus_max_event_size 32k with message.max.bytes 20000', $size_re,
    undef, properties => [['message.max.bytes', 20000]]);
fails('one location over the limit', $size_re, undef,
    locations => "location = /e { evbus; }\n"
        . 'location = /f { evbus; evbus_max_event_size 999k; }');
passes('evbus_max_event_size 1m with message.max.bytes 1100000',
    http => ['evbus_max_event_size 1m;'],
    properties => [['message.max.bytes', 1100000]]);
passes('evbus_max_event_size 900k with the default message.max.bytes',
    http => ['evbus_max_event_size 900k;']);

# evbus_metadata members count too: each value up to 512 bytes, escaped
passes('evbus_max_event_size 12k with message.max.bytes 20000',
    http => ['evbus_max_event_size 12k;'],
    properties => [['message.max.bytes', 20000]]);
fails('the same with two evbus_metadata members', $size_re, undef,
    http => ['evbus_max_event_size 12k;', 'evbus_metadata a $http_a;',
        'evbus_metadata b $http_b;'],
    properties => [['message.max.bytes', 20000]]);

fails('evbus_ack maybe', qr/invalid value "maybe"/, 'evbus_ack maybe',
    locations => 'location = /e { evbus; evbus_ack maybe; }');

fails('evbus_ack without a value',
    qr/invalid number of arguments in "evbus_ack"/, 'evbus_ack;',
    locations => 'location = /e { evbus; evbus_ack; }');

fails('evbus_max_depth 0', qr/value must be between 1 and/,
    'evbus_max_depth 0',
    locations => 'location = /e { evbus; evbus_max_depth 0; }');

fails('evbus_spool max_size=abc', qr/invalid max_size "max_size=abc"/,
    'evbus_spool', http => ['evbus_spool spool max_size=abc;']);

fails('evbus_spool fsync=sometimes', qr/invalid parameter "fsync=sometimes"/,
    'evbus_spool', http => ['evbus_spool spool fsync=sometimes;']);

fails('evbus_spool foo=1', qr/invalid parameter "foo=1"/, 'evbus_spool',
    http => ['evbus_spool spool foo=1;']);

fails('evbus_ack_timeout 0', qr/"evbus_ack_timeout" must not be zero/,
    undef, http => ['evbus_ack_timeout 0;']);

passes("evbus_spool $_", http => ["evbus_spool spool $_;"])
    for 'fsync=off', 'fsync=batch', 'fsync=always max_size=1m';

# relative evbus_schemas paths are from nginx's configuration directory
my $dir = $t->dir;
mkdir "$dir/rel";
mkdir "$dir/rel/click";
open my $fh, '>', "$dir/rel/click/1.json" or die;
print $fh '{"required":["x"]}';
close $fh;
passes('evbus_schemas rel (relative)', http => ['evbus_schemas rel;']);
fails('evbus_schemas norel (relative, missing)',
    qr{evbus_schemas: \Q$dir\E/norel: opendir\(\) failed}, 'evbus_schemas',
    http => ['evbus_schemas norel;']);

passes('evbus_priority and evbus_shed',
    http => ['map $evbus_event_type $prio { volatile; purchase high;'
             . ' default normal; }', 'evbus_priority $prio;',
             'evbus_shed low=40% high=95%;'],
    server => ['evbus_shed low=50% normal=75% high=90%;'],
    locations => 'location = /e { evbus; evbus_priority critical; }');

fails('evbus_shed without %', qr/invalid parameter "low=50"/,
    'evbus_shed low=50;', http => ['evbus_shed low=50;']);

fails('evbus_shed critical=', qr/invalid parameter "critical=99%"/,
    'evbus_shed critical', http => ['evbus_shed critical=99%;']);

fails('evbus_shed over 100%', qr/invalid parameter "high=101%"/,
    'evbus_shed high', server => ['evbus_shed high=101%;']);

fails('evbus_shed decreasing', qr/thresholds must not decrease/,
    'evbus_shed low', http => ['evbus_shed low=80% normal=70%;']);

fails('evbus_priority unknown', qr/invalid evbus_priority "urgent"/, undef,
    locations => 'location = /e { evbus; evbus_priority urgent; }');

ok(!$t->master_pid, 'nginx -t started no server');

# the failing checks leave [emerg] lines on purpose: only alerts and
# sanitizer reports count here
$t->check_error_log('no alerts or sanitizer reports from nginx -t',
    allow_emerg => 1);

done_testing();

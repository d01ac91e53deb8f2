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
    evbus_max_event_size 1m;
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

#!/usr/bin/perl

# Fault 7: held responses (evbus_ack kafka) with the broker frozen:
#   - evbus_ack_timeout 1s: 504 with "unknown" and an error saying the
#     outcome is unknown;
#   - clients that close their socket while the response is held: the
#     worker stays up (no crash, no alert), a request held meanwhile on
#     another connection gets its 200 when the broker resumes, and the
#     late reports for the gone requests touch nothing;
#   - a reload while a response is held: the old worker answers it and
#     exits; a graceful quit while one is held: it gets its 504 and nginx
#     exits in bounded time.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(sleep time);
use Evbus;
use EvbusFault qw(wait_for);

my $t0 = time();

my $k = EvbusFault->broker('held')
    or Evbus::missing('cannot run a private Kafka broker (java, kcat, jars)');

my $t = Evbus->new('held');

$k->start or BAIL_OUT('private broker did not start: ' . $k->log_tail);

my $topic = $t->topic;

$t->start_ok(brokers => $k->brokers,
    properties => [['linger.ms', 5], ['message.timeout.ms', 60000]],
    http => ["evbus_topic $topic;", 'evbus_unavailable_after 60s;',
             'evbus_flush_timeout 2s;', 'evbus_ack kafka;'],
    locations => join "\n",
        'location = /k1 { evbus; evbus_ack_timeout 1s; }',
        'location = /k3 { evbus; evbus_ack_timeout 3s; }',
        'location = /k30 { evbus; evbus_ack_timeout 30s; }',
        'location = /metrics { evbus_status; }');

my %delivered;    # id => [partition, offset] from 200s

my ($st, $h, $j) = $t->post('/k30', body('warm-1'));
is($st, 200, 'first event delivered');
record($j);

my @workers = $t->worker_pids;

ok($k->signal('STOP'), 'broker frozen');

# delivery timeout

my $t1 = time();
($st, $h, $j) = $t->post('/k1', body('to-1', 'to-2', 'to-3'));
my $took = time() - $t1;
is($st, 504, 'evbus_ack_timeout 1s: 504');
cmp_ok($took, '<', 5, sprintf('answered after %.1fs', $took));
is(ref $j eq 'HASH' && $j->{unknown}, 3, '504: "unknown": 3');
like(ref $j eq 'HASH' && $j->{error} || '', qr/unknown/,
    '504: the error says the outcome is unknown');
is(ref $j eq 'HASH' && scalar @{ $j->{errors} || [] }, 3,
    '504: each event in "errors"');

# clients gone while held; one stays

my $stay = send_request('/k30', body('stay-1', 'stay-2'));
my @gone;
for my $i (1 .. 20) {
    push @gone, send_request('/k30', body("gone-$i-1", "gone-$i-2"));
}
ok(wait_for(sub { held() == 21 }, 5), 'the 21 requests are held')
    or diag('held: ' . held());
close $_ for @gone;
ok(wait_for(sub { held() == 1 }, 5), 'the 20 that left are released')
    or diag('held: ' . held());

is_deeply([$t->worker_pids], \@workers, 'workers alive after the clients left');

ok($k->signal('CONT'), 'broker resumed');

($st, undef, $j) = read_response($stay, 30);
is($st, 200, 'the request held on a live connection got its 200');
record($j);
is(join(',', sort keys %delivered), 'stay-1,stay-2,warm-1',
    'with results for its events');

# warm-1, the three of the 504, stay-1/2 and the 40 of the gone clients
ok(wait_for(sub { delivered() >= 46 }, 15),
    'the late delivery reports arrived') or diag('delivered: ' . delivered());
is_deeply([$t->worker_pids], \@workers,
    'workers alive after the late delivery reports');
($st, undef, $j) = $t->post('/k1', body('later-1'));
is($st, 200, 'a later request works');
record($j);

# reload while held

ok($k->signal('STOP'), 'broker frozen again');
my $held = send_request('/k30', body('reload-1'));
ok(wait_for(sub { held() == 1 }, 5), 'the request is held');
my @old = $t->worker_pids;
ok($t->reload, 'reloaded while a response is held');
ok(wait_for(sub {
        my $ch = EvbusFault::children($t);
        grep { $ch->{$_} =~ /shutting down/ } keys %$ch;
    }, 3), 'an old worker waits for its held response')
    or diag(explain(EvbusFault::children($t)));
sleep 1;
ok($k->signal('CONT'), 'broker resumed');
($st, undef, $j) = read_response($held, 30);
is($st, 200, 'the old worker answered 200 after the reload');
record($j);
ok(wait_for(sub { !grep { -d "/proc/$_" } @old }, 15),
    'the old workers exited');

# quit while held

($st, undef, $j) = $t->post('/k3', body('quit-0'));
is($st, 200, 'new workers deliver');
record($j);
ok($k->signal('STOP'), 'broker frozen again');
$held = send_request('/k3', body('quit-1'));
ok(wait_for(sub { held() == 1 }, 5), 'the request is held');
$t1 = time();
my $master = $t->master_pid;
$t->_run('-s', 'quit');
($st, undef, $j) = read_response($held, 15);
is($st, 504, 'graceful quit: the held response got its 504');
ok(wait_for(sub { !kill 0, $master }, 20), 'nginx exited');
$took = time() - $t1;
cmp_ok($took, '<', 12, sprintf('in bounded time (%.1fs)', $took));
$t->{started} = 0;
ok($k->signal('CONT'), 'broker resumed');

# what the 200s said is in Kafka

my %at;
$at{"$_->[0]:$_->[1]"} = $_->[2]
    for @{ EvbusFault::topic_messages($k->brokers, $topic) };
my @wrong = grep { ($at{"$delivered{$_}[0]:$delivered{$_}[1]"} // '') ne $_ }
    keys %delivered;
ok(!@wrong, 'every id answered 200 is in Kafka at its partition and offset')
    or diag("@wrong");

my $log = $t->error_log;
like($log, qr/no outcome for 3 events within evbus_ack_timeout/,
    'the delivery timeout was logged');
unlike($log, qr/exited on signal|worker process \d+ exited with code [^0]/,
    'no worker crashed');
EvbusFault::check_error_log($t);

note(sprintf 'run time %.0fs', time() - $t0);
done_testing();


# requests held by all workers: the evbus_held_requests gauges, refreshed
# once a second by each worker
sub held {
    my (undef, undef, undef, $raw) = $t->http('GET', '/metrics');
    my $n = 0;
    $n += $1 while ($raw // '') =~ /^evbus_held_requests\{[^}]*\} (\d+)$/mg;
    return $n;
}

sub delivered {
    my (undef, undef, undef, $raw) = $t->http('GET', '/metrics');
    my ($n) = ($raw // '')
        =~ /^evbus_kafka_messages_total\{result="delivered"\} (\d+)$/m;
    return $n // 0;
}

sub body {
    return '[' . join(',', map { qq{{"event_type":"held","event_id":"$_"}} }
        @_) . ']';
}

sub record {
    my ($j) = @_;
    return unless ref $j eq 'HASH';
    $delivered{ $_->{event_id} } = [$_->{partition}, $_->{offset}]
        for @{ $j->{results} || [] };
}

sub send_request {
    my ($path, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $t->port, Proto => 'tcp', Timeout => 5)
        or die "connect: $!";
    binmode $s;
    print $s "POST $path HTTP/1.1\r\nHost: localhost\r\n"
        . "Content-Type: application/json\r\nConnection: close\r\n"
        . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
    $s->flush;
    return $s;
}

sub read_response {
    my ($s, $timeout) = @_;
    my $sel = IO::Select->new($s);
    my $buf = '';
    my $deadline = time() + $timeout;
    while (time() < $deadline) {
        next unless $sel->can_read(0.2);
        my $n = sysread($s, my $chunk, 65536);
        last unless $n;
        $buf .= $chunk;
    }
    close $s;
    return Evbus::parse_response($buf);
}

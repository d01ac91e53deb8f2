#!/usr/bin/perl

# A spool the workers cannot write (issue 7, "Crash").  The workers run as
# nobody, as in production; the master as root.
#
# - nginx -t refuses a spool directory the worker user cannot write: owned
#   by root 0700, writable by others, or impossible to create; a missing
#   one is created owned by the worker user, mode 0700.
# - At run time a spool write that fails (EMFILE, the directory removed)
#   answers 503 with Retry-After, never 2xx, and the worker keeps running.
#   (Before the fix these events were answered 202 and lost; in the issue's
#   older code the worker died with SIGSEGV.)
# - Replay takes only regular files named like the spool's own, owned by
#   the worker user: not a symlink, not a file of another name or owner.
# - Every id answered 202 reaches Kafka once the broker is back; no id of a
#   503 does.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(sleep time);
use IO::Socket::INET;
use IO::Select;
use Evbus qw(free_port json_decode);

$> == 0 or Evbus::missing('needs root (workers run as nobody)');
eval { require Compress::Zlib; 1 }
    or Evbus::missing('Compress::Zlib is missing');

my $t = Evbus->new('spool-hardening')->need_kafka;
my $dir = $t->dir;
my $topic = $t->topic;
my $spool = "$dir/spool";
my ($uid, $gid) = (getpwnam('nobody'))[2, 3];
defined $uid or Evbus::missing('no user nobody');
getgrnam('nogroup') or Evbus::missing('no group nogroup');

my @user = (user => 'nobody nogroup');
my $down = '127.0.0.1:' . free_port();

sub conf {
    my (%o) = @_;
    return (@user, workers => 1, main => ['worker_rlimit_nofile 64;'],
        brokers => $o{brokers} || $down,
        properties => [['linger.ms', 5], ['message.timeout.ms', 60000]],
        http => ["evbus_topic $topic;", 'evbus_unavailable_after 1s;',
                 'evbus_flush_timeout 1s;',
                 "evbus_spool $o{spool};"]);
}

# ---- nginx -t --------------------------------------------------------

# in a prefix of their own: error.log gets the [emerg] lines
my $tt = Evbus->new('spool-hardening-t');
my $tdir = $tt->dir;
my $tspool = "$tdir/spool";
my ($rc, $out);

mkdir $tspool, 0700;
chown 0, 0, $tspool;
chmod 0700, $tspool;
($rc, $out) = $tt->nginx_t(conf(spool => $tspool));
isnt($rc, 0, 'nginx -t fails: the spool directory is root-owned 0700');
like($out, qr/\Q$tspool\E.*nobody|nobody.*\Q$tspool\E/,
    'the message names the directory and the worker user') or diag($out);

chown $uid, $gid, $tspool;
chmod 0777, $tspool;
($rc, $out) = $tt->nginx_t(conf(spool => $tspool));
isnt($rc, 0, 'nginx -t fails: the spool directory is writable by others');
like($out, qr/\Q$tspool\E.*writable/, 'the message says why') or diag($out);

chmod 0700, $tspool;
($rc, $out) = $tt->nginx_t(conf(spool => $tspool));
is($rc, 0, 'nginx -t passes: owned by nobody, 0700') or diag($out);

Evbus::write_file("$tdir/file", '');
($rc, $out) = $tt->nginx_t(conf(spool => "$tdir/file/spool"));
isnt($rc, 0, 'nginx -t fails: the directory cannot be created');
like($out, qr{\Q$tdir\E/file/spool.*nobody}, 'the message names it and the'
    . ' user') or diag($out);

mkdir "$tdir/locked", 0700;
($rc, $out) = $tt->nginx_t(conf(spool => "$tdir/locked/spool"));
isnt($rc, 0, 'nginx -t fails: nobody cannot reach a directory under a'
    . ' root-only 0700 one');
like($out, qr{nobody}, 'the message names the user') or diag($out);

($rc, $out) = $tt->nginx_t(conf(spool => "$tdir/new/spool"));
is($rc, 0, 'nginx -t passes for a missing directory') or diag($out);
my @st = stat "$tdir/new/spool";
ok(@st && $st[4] == $uid && ($st[2] & 07777) == 0700,
    'it is created owned by nobody, mode 0700')
    or diag(sprintf 'uid %s mode %o', $st[4] // '-', ($st[2] // 0) & 07777);
@st = stat "$tdir/new";
ok(@st && $st[4] == 0 && ($st[2] & 07777) == 0755,
    'a missing parent is created owned by root, mode 0755');

# ---- run time --------------------------------------------------------

$t->start_ok(conf(spool => $spool));
my ($worker) = $t->worker_pids;

my (%accepted, %refused);

# one keep-alive connection: it is open before the worker's fds run out
my $c = Conn->new($t->port);

my ($st, $h, $j) = $c->post([{ event_type => 'hardening', event_id => 'q-1' }]);
is($st, 202, 'first event queued in librdkafka (broker down)');
$accepted{'q-1'} = 1 if $st == 202;
sleep 1.5;

# EMFILE: idle connections take every fd the worker may open
# (worker_rlimit_nofile 64); those the worker cannot accept wait in the
# listen queue
my @idle = map { IO::Socket::INET->new(PeerAddr => '127.0.0.1',
    PeerPort => $t->port, Proto => 'tcp', Timeout => 5) } 1 .. 100;
sleep 1;
like($t->error_log, qr/Too many open files/, 'the worker ran out of fds');

for my $i (1 .. 3) {
    my @ids = map { "emfile-$i-$_" } 1 .. 3;
    ($st, $h, $j) = $c->post([map { { event_type => 'hardening',
                                       event_id => $_ } } @ids]);
    is($st, 503, "EMFILE $i: 503") or diag(explain($j));
    like($h->{'retry-after'} // '', qr/^\d+$/, 'with Retry-After');
    if ($st == 202) { $accepted{$_} = 1 for @ids } else { $refused{$_} = 1 for @ids }
}

close $_ for grep { defined } @idle;
sleep 2;
is_deeply([$t->worker_pids], [$worker], 'the worker is still running');

my @ids = map { "spooled-$_" } 1 .. 3;
($st, $h, $j) = $c->post([map { { event_type => 'hardening',
                                   event_id => $_ } } @ids]);
is($st, 202, 'with fds again: spooled, 202') or diag(explain($j));
$accepted{$_} = 1 for @ids;
my @files = grep { -s } glob "$spool/evbus-*.spool";
ok(scalar(grep { !/99998/ } @files), 'a spool file was written');

# the directory removed at run time
system('rm', '-rf', $spool);
for my $i (1 .. 3) {
    my @ids = map { "gone-$i-$_" } 1 .. 3;
    ($st, $h, $j) = $c->post([map { { event_type => 'hardening',
                                       event_id => $_ } } @ids]);
    is($st, 503, "directory removed $i: 503") or diag(explain($j));
    like($h->{'retry-after'} // '', qr/^\d+$/, 'with Retry-After');
    if ($st == 202) { $accepted{$_} = 1 for @ids } else { $refused{$_} = 1 for @ids }
}
is_deeply([$t->worker_pids], [$worker], 'the worker is still running');

# events spooled before the removal went with the directory
delete $accepted{$_} for @ids;

mkdir $spool, 0700;
chown $uid, $gid, $spool;
@ids = map { "back-$_" } 1 .. 3;
($st, $h, $j) = $c->post([map { { event_type => 'hardening',
                                   event_id => $_ } } @ids]);
is($st, 202, 'directory back: spooled, 202') or diag(explain($j));
$accepted{$_} = 1 for @ids;
$c->close;

unlike($t->error_log, qr/exited on signal/, 'no worker died');

# files replay must not take, and one it must; then the broker is back
my $now = int(time() * 1000);
my $target = "$dir/planted";
my $rec = sub { Evbus::spool_record($topic, $_[0], $now) };
Evbus::write_file($target, $rec->('planted-symlink'));
chown $uid, $gid, $target;
symlink $target, "$spool/evbus-999981-1-0.spool";
Evbus::write_file("$spool/evbus-999982-1-0.spool", $rec->('planted-root'));
Evbus::write_file("$spool/foo.spool", $rec->('planted-name'));
chown $uid, $gid, "$spool/foo.spool";
Evbus::write_file("$spool/evbus-999983-1-0.spool", $rec->('planted-ok'));
chown $uid, $gid, "$spool/evbus-999983-1-0.spool";


ok($t->reload(conf => [conf(spool => $spool,
    brokers => Evbus::brokers())]), 'reloaded with the broker');

my $msgs = $t->kafka_read($topic, scalar(keys %accepted) + 1, 30);
my %got = map { ($_->{key} // '') => 1 } @$msgs;
my @missing = grep { !$got{$_} } sort keys %accepted;
ok(!@missing, 'every id answered 202 arrived') or diag("missing: @missing");
my @leaked = grep { $got{$_} } sort keys %refused;
ok(!@leaked, 'no id answered 503 arrived') or diag("arrived: @leaked");
ok($got{'planted-ok'}, 'a spool file of the worker user was replayed');
for my $p (qw(planted-symlink planted-root planted-name)) {
    ok(!$got{$p}, "$p was not replayed");
}
ok(-e "$spool/foo.spool" && -e "$spool/evbus-999982-1-0.spool"
    && -l "$spool/evbus-999981-1-0.spool", 'foreign files are left alone');

# nginx -s quit works whatever became of the directory
chmod 0777, $spool;
ok($t->stop, 'nginx stopped in time (nginx -s quit with a bad spool)');
$t->check_error_log;

# ---- fsync=batch: the tail of a burst is synced within a second -----

SKIP: {
    my $nostrace = !grep { -x "$_/strace" } split /:/, $ENV{PATH};
    skip 'strace is not installed', 2
        if $nostrace && Evbus::skip_allowed('strace is not installed');

    my $f = Evbus->new('spool-fsync');
    my $fspool = $f->dir . '/spool';
    mkdir $fspool, 0700;
    chown $uid, $gid, $fspool;
    my @fconf = conf(spool => "$fspool fsync=batch");
    $f->start_ok(@fconf);
    my ($w) = $f->worker_pids;

    my $fc = Conn->new($f->port);
    ($st) = $fc->post([{ event_type => 'hardening', event_id => 'f-q' }]);
    sleep 1.5;

    my $trace = $f->dir . '/strace.log';
    my $spid = fork // die "fork: $!";
    if ($spid == 0) {
        open STDERR, '>', '/dev/null';
        exec 'strace', '-f', '-tt', '-y', '-e', 'trace=write,fdatasync',
            '-o', $trace, '-p', $w;
        exit 127;
    }
    sleep 1;

    my @st;
    for my $i (1 .. 4) {
        ($st) = $fc->post([{ event_type => 'hardening',
                             event_id => "f-$i" }]);
        push @st, $st;
    }
    is("@st", '202 202 202 202', 'a burst of four spooled requests');
    sleep 2;
    kill 'TERM', $spid;
    waitpid $spid, 0;
    $fc->close;

    my @lines = grep { /\.spool>/ } split /\n/, Evbus::_read($trace);
    my ($last) = grep { $lines[$_] =~ /\bwrite\(/ } reverse 0 .. $#lines;
    ok(defined $last
        && grep({ /\bfdatasync\(/ } @lines[$last + 1 .. $#lines]),
        'the last write of the burst is followed by an fdatasync')
        or diag(join "\n", @lines);

    ok($f->stop, 'nginx stopped in time');
    $f->check_error_log;
}

done_testing();



# a keep-alive HTTP/1.1 connection
package Conn;

sub new {
    my ($class, $port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp', Timeout => 5) or die "connect: $!";
    binmode $s;
    return bless { s => $s }, $class;
}

sub post {
    my ($self, $events) = @_;
    my $body = Evbus::json_encode($events);
    my $s = $self->{s};
    print $s "POST /e HTTP/1.1\r\nHost: localhost\r\n"
        . "Content-Type: application/json\r\n"
        . 'Content-Length: ' . length($body) . "\r\n\r\n" . $body;
    $s->flush;

    my $buf = '';
    my $sel = IO::Select->new($s);
    my $deadline = Time::HiRes::time() + 20;
    while (Time::HiRes::time() < $deadline) {
        if ($buf =~ /\r\n\r\n/) {
            my ($head, $rest) = split /\r\n\r\n/, $buf, 2;
            my ($len) = $head =~ /\r\ncontent-length:\s*(\d+)/i;
            last if defined $len && length($rest) >= $len;
        }
        next unless $sel->can_read(0.5);
        my $n = sysread($s, my $chunk, 65536);
        last unless $n;
        $buf .= $chunk;
    }
    return Evbus::parse_response($buf);
}

sub close {
    my ($self) = @_;
    close $self->{s};
}

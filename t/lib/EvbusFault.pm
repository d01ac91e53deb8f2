package EvbusFault;

# Fault-test helpers for ngx_evbus, on top of t/lib/Evbus.pm:
#
#   - a private Kafka broker per test file (scripts/kafka.sh with its own
#     KAFKA_DIR and KAFKA_PORT), which the test may SIGKILL, SIGSTOP or
#     stop without touching the shared broker other tests use;
#   - load generators: forked clients posting batches of events with
#     unique ids and writing a ledger line per request;
#   - the ledger: which ids got a 2xx, which a 503, what else came back;
#   - reading back the keys (and partitions/offsets) that reached a topic.
#
#     use EvbusFault;
#     my $k = EvbusFault->broker('kill') or Evbus::missing(...);
#     $k->start or BAIL_OUT;
#     my $load = EvbusFault::load(port => $t->port, path => '/e',
#                                 prefix => 'a', dir => $t->dir);
#     ... inject faults ...
#     my $l = $load->finish;         # ledger
#     EvbusFault::check_delivered($k->brokers, $topic, $l, 60);

use strict;
use warnings;

use Exporter qw(import);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use HTTP::Tiny;
use Test::More;

use Evbus qw(repo_root free_port json_decode);

our @EXPORT_OK = qw(wait_for);

my @BROKERS;    # private brokers started here, stopped at exit
my @LOADS;      # load generators still running


# polls $cond every $step seconds until it returns true or $timeout passes
sub wait_for {
    my ($cond, $timeout, $step) = @_;
    my $deadline = time() + $timeout;
    while (1) {
        my $v = $cond->();
        return $v if $v;
        return $v if time() >= $deadline;
        sleep($step || 0.2);
    }
}


# ---- a private broker -------------------------------------------------

# The librdkafka mock cluster (tools/mock-cluster), built into the test's
# directory and driven through its stdin/stdout: mock_cluster($t, @args)
# returns the bootstrap list and a function that sends one command and
# returns its answer.  A missing prerequisite is Evbus::missing; the
# cluster is stopped when the test exits.
my @mock_pids;

sub mock_cluster {
    my ($t, @args) = @_;

    `which kcat` =~ /kcat/ or Evbus::missing('kcat is not installed');

    my $bin = $t->dir . '/mock-cluster';
    my $out = `'${\ repo_root()}/tools/mock-cluster/build.sh' '$bin' 2>&1`;
    Evbus::missing("cannot build tools/mock-cluster (librdkafka-dev?): $out")
        if $?;

    require IPC::Open2;
    my $pid = IPC::Open2::open2(my $from, my $to, $bin, @args)
        or Evbus::missing('cannot run the mock cluster');
    push @mock_pids, [$pid, $to];

    my $line = <$from> // '';
    my ($bootstraps) = $line =~ /^bootstraps (\S+)/
        or BAIL_OUT("mock cluster said: $line");
    note("mock cluster at $bootstraps");

    my $cmd = sub {
        print $to "$_[0]\n";
        $to->flush;
        my $r = <$from> // '';
        chomp $r;
        return $r;
    };

    return ($bootstraps, $cmd, $pid);
}

END {
    for my $m (@mock_pids) {
        my ($pid, $to) = @$m;
        print $to "quit\n";
        close $to;
        kill 'KILL', $pid unless wait_for(sub { waitpid($pid, WNOHANG) }, 3);
    }
}

sub _port_pair_free {
    my ($p) = @_;
    for my $port ($p, $p + 1) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
            LocalPort => $port, Proto => 'tcp', Listen => 1, ReuseAddr => 1)
            or return 0;
        close $s;
    }
    return 1;
}

# a broker of its own: KAFKA_DIR in a temporary directory, KAFKA_PORT and
# KAFKA_PORT+1 (controller) free; returns undef when it cannot be run
sub broker {
    my ($class, $name) = @_;

    for my $cmd (qw(java kcat)) {
        return undef unless grep { -x "$_/$cmd" } split /:/, $ENV{PATH};
    }
    return undef unless -f repo_root() . '/.cache/kafka/libs/.complete'
        || grep { -x "$_/mvn" } split /:/, $ENV{PATH};

    my $port;
    for (1 .. 50) {
        my $p = free_port();
        next if $p > 65000;
        if (_port_pair_free($p)) { $port = $p; last }
    }
    return undef unless $port;

    my $self = bless {
        name => $name,
        dir  => tempdir("evbus-kafka-$name-XXXXXX", TMPDIR => 1,
                        CLEANUP => !$ENV{EVBUS_KEEP}),
        port => $port,
    }, $class;

    # a Kafka cluster id is 16 random bytes in url-safe base64; one that
    # starts with "-" is taken for an option by the storage tool, so
    # choose it here (scripts/kafka.sh uses KAFKA_DIR/cluster.id)
    my $id;
    do {
        open my $r, '<', '/dev/urandom' or die;
        read $r, my $bytes, 16;
        require MIME::Base64;
        $id = MIME::Base64::encode_base64($bytes, '');
        $id =~ tr{+/}{-_};
        $id =~ s/=+$//;
    } while ($id =~ /^-/);
    open my $fh, '>', "$self->{dir}/cluster.id" or die;
    print $fh "$id\n";
    close $fh;

    push @BROKERS, $self;
    return $self;
}

sub brokers { "127.0.0.1:$_[0]{port}" }
sub port    { $_[0]{port} }
sub dir     { $_[0]{dir} }

sub _script {
    my ($self, @args) = @_;
    local $ENV{KAFKA_DIR} = $self->{dir};
    local $ENV{KAFKA_PORT} = $self->{port};
    delete local $ENV{KAFKA_CONTROLLER_PORT};
    local $ENV{KAFKA_START_TIMEOUT} = $ENV{KAFKA_START_TIMEOUT} || 90;
    my $script = repo_root() . '/scripts/kafka.sh';
    my $out = `'$script' @args 2>&1`;
    return ($? >> 8, $out);
}

# starts (or restarts) the broker and waits until it answers
sub start {
    my ($self) = @_;
    my $t0 = time();
    my ($rc, $out) = $self->_script('start');
    if ($rc != 0) {
        diag("private broker $self->{name} did not start: $out");
        return 0;
    }
    $self->{started} = 1;
    note(sprintf "private broker on %s up in %.1fs", $self->brokers,
        time() - $t0);
    return 1;
}

sub stop {
    my ($self) = @_;
    my ($rc, $out) = $self->_script('stop');
    return $rc == 0;
}

sub pid {
    my ($self) = @_;
    my ($rc, $out) = $self->_script('pid');
    return undef if $rc != 0;
    my ($pid) = $out =~ /^(\d+)/;
    return $pid;
}

# sends a signal to the broker's JVM; returns its pid
sub signal {
    my ($self, $sig) = @_;
    my $pid = $self->pid or return undef;
    kill $sig, $pid;
    return $pid;
}

# SIGKILL, and waits until the process is gone
sub kill9 {
    my ($self) = @_;
    my $pid = $self->signal('KILL') or return undef;
    wait_for(sub { !-d "/proc/$pid" || _zombie($pid) }, 10, 0.05);
    return $pid;
}

sub _zombie {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 1;
    my $stat = <$fh> // '';
    return $stat =~ /^\d+ \(.*?\) Z/;
}

sub log_tail {
    my ($self, $n) = @_;
    my ($rc, $out) = $self->_script('log', $n || 30);
    return $out;
}


# ---- a private three-node cluster (scripts/kafka-cluster.sh) -----------

sub cluster {
    my ($class, $name) = @_;

    for my $cmd (qw(java kcat)) {
        return undef unless grep { -x "$_/$cmd" } split /:/, $ENV{PATH};
    }

    my $base;
    for (1 .. 100) {
        my $p = free_port();
        next if $p > 65000;
        next unless _port_pair_free($p) && _port_pair_free($p + 2)
            && _port_pair_free($p + 10) && _port_pair_free($p + 12);
        $base = $p;
        last;
    }
    return undef unless $base;

    my $self = bless {
        name    => $name,
        dir     => tempdir("evbus-cluster-$name-XXXXXX", TMPDIR => 1,
                           CLEANUP => !$ENV{EVBUS_KEEP}),
        port    => $base,
        cluster => 1,
    }, $class;

    push @BROKERS, $self;
    return $self;
}

sub _cluster_script {
    my ($self, @args) = @_;
    local $ENV{KAFKA_CLUSTER_DIR} = $self->{dir};
    local $ENV{KAFKA_CLUSTER_PORT} = $self->{port};
    my $script = repo_root() . '/scripts/kafka-cluster.sh';
    my $out = `'$script' @args 2>&1`;
    return ($? >> 8, $out);
}

# the bootstrap list of the cluster
sub cluster_brokers {
    my ($self) = @_;
    return join ',', map { '127.0.0.1:' . ($self->{port} + $_) } 0 .. 2;
}

# starts every node, or node $n
sub cluster_start {
    my ($self, $n) = @_;
    my $t0 = time();
    my ($rc, $out) = $self->_cluster_script('start', $n // ());
    if ($rc != 0) {
        diag("cluster $self->{name}: start failed: $out");
        return 0;
    }
    $self->{started} = 1;
    note(sprintf "cluster %s: %s up in %.1fs", $self->{name},
        $n ? "node $n" : 'all nodes', time() - $t0);
    return 1;
}

sub cluster_kill {
    my ($self, $n) = @_;
    my ($rc, $out) = $self->_cluster_script('kill', $n);
    diag($out) if $rc;
    return $rc == 0;
}

# partition => { leader => id, replicas => [...], isrs => [...] }
sub cluster_partitions {
    my ($self, $topic) = @_;
    my $b = $self->cluster_brokers;
    my $md = `timeout 15 kcat -L -b '$b' -t '$topic' -m 5 2>/dev/null`;
    my %p;
    my $re = qr/partition (\d+), leader (-?\d+), replicas: ([\d,]*),/;
    while ($md =~ /$re isrs: ([\d,]*)/g) {
        $p{$1} = { leader => $2, replicas => [split /,/, $3],
                   isrs => [split /,/, $4] };
    }
    return \%p;
}


# ---- reading a topic back ---------------------------------------------

# all messages of a topic as [partition, offset, key], read with kcat;
# bounded in time
sub topic_messages {
    my ($brokers, $topic, $timeout) = @_;
    $timeout ||= 30;
    my @cmd = ('timeout', $timeout, 'kcat', '-b', $brokers, '-C', '-t',
        $topic, '-o', 'beginning', '-e', '-q', '-f', '%p %o %k\n');
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>', '/dev/null';
        exec @cmd or POSIX::_exit(127);
    }
    my @m;
    while (my $line = <$fh>) {
        chomp $line;
        my ($p, $o, $k) = split / /, $line, 3;
        next unless defined $k && $o =~ /^\d+$/;
        push @m, [$p, $o, $k];
    }
    close $fh;
    return \@m;
}

# key => count, reading until every id of $want is there or $timeout
sub topic_keys {
    my ($brokers, $topic, $want, $timeout) = @_;
    my $deadline = time() + ($timeout || 30);
    my %got;
    while (1) {
        %got = ();
        $got{ $_->[2] }++ for @{ topic_messages($brokers, $topic, 30) };
        my $missing = grep { !$got{$_} } keys %{ $want || {} };
        last if !$missing || time() >= $deadline;
        sleep 1;
    }
    return \%got;
}


# ---- load ---------------------------------------------------------------

# Forks $o{clients} clients that post batches of $o{batch} events with
# unique ids to each of $o{targets} ([port, path] pairs) in turn until
# finish() is called, $o{seconds} pass or $o{max} requests were made.
# Each client writes one ledger line per request:
#   target \t status \t retry-after \t sent ids \t 2xx ids \t results \t note
#   \t accepted (the body's "accepted", "-" when the body is not JSON)
sub load {
    my (%o) = @_;

    my $dir = $o{dir} or die 'load: no dir';
    my $prefix = $o{prefix} || 'l';
    my @targets = @{ $o{targets} || [[$o{port}, $o{path} || '/e']] };
    my $clients = $o{clients} || 2;

    my $self = bless {
        stop    => "$dir/load-$prefix.stop",
        files   => [],
        pids    => [],
        seconds => $o{seconds} || 120,
    }, 'EvbusFault::Load';

    unlink $self->{stop};

    for my $c (1 .. $clients) {
        my $file = "$dir/load-$prefix.$c";
        push @{ $self->{files} }, $file;
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            @BROKERS = ();
            @LOADS = ();
            my $ok = eval {
                _client($file, "$prefix$c", \@targets, $self->{stop},
                    $self->{seconds}, \%o);
                1;
            };
            print STDERR "load client: $@" unless $ok;
            POSIX::_exit($ok ? 0 : 1);
        }
        push @{ $self->{pids} }, $pid;
    }

    push @LOADS, $self;
    return $self;
}

sub _client {
    my ($file, $tag, $targets, $stop, $seconds, $o) = @_;

    open my $out, '>', $file or die "$file: $!";
    $out->autoflush(1);

    my $ua = HTTP::Tiny->new(timeout => $o->{timeout} || 30,
        keep_alive => 0, agent => 'evbus-fault/1');
    my $batch = $o->{batch} || 5;
    my $type = $o->{event_type} || 'fault';
    my $deadline = time() + $seconds;
    my $n = 0;

    while (!-e $stop && time() < $deadline
           && (!$o->{max} || $n < $o->{max}))
    {
        my $target = $targets->[$n % @$targets];
        $n++;
        my @ids = map { "$tag-$$-$n-$_" } 1 .. $batch;
        my $body = '[' . join(',', map {
            qq{{"event_type":"$type","event_id":"$_","n":$n}}
        } @ids) . ']';

        my $res = $ua->request('POST',
            "http://127.0.0.1:$target->[0]$target->[1]", {
                headers => { 'Content-Type' => 'application/json' },
                content => $body,
            });

        my $j = json_decode($res->{content} // '');
        my ($acc, $results, $note, $count) = ('', '', '', '-');
        if (ref $j eq 'HASH') {
            $count = $j->{accepted} // '-';
            $acc = join ',', @{ $j->{event_ids} || [] }
                if $res->{status} =~ /^2/;
            $results = join ',', map {
                "$_->{event_id}:$_->{partition}:$_->{offset}"
            } @{ $j->{results} || [] };
            $note = $j->{error} // '';
            $note .= " unknown=$j->{unknown}" if defined $j->{unknown};
            my @e = map { $_->{error} } @{ $j->{errors} || [] };
            $note .= " errors: $e[0]" if @e;
        } else {
            $note = substr($res->{content} // '', 0, 200);
        }
        $note =~ s/[\t\n]/ /g;

        printf $out "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", $target->[1],
            $res->{status}, $res->{headers}{'retry-after'} // '',
            join(',', @ids), $acc, $results, $note, $count;

        sleep($o->{pause}) if $o->{pause};
    }

    close $out;
}

package EvbusFault::Load;

use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Test::More;

# requests made so far (all clients)
sub count {
    my ($self) = @_;
    my $n = 0;
    for my $f (@{ $self->{files} }) {
        open my $fh, '<', $f or next;
        $n++ while <$fh>;
    }
    return $n;
}

# ledger lines so far, parsed
sub lines {
    my ($self) = @_;
    my @l;
    for my $f (@{ $self->{files} }) {
        open my $fh, '<', $f or next;
        while (my $line = <$fh>) {
            chomp $line;
            my %r;
            @r{qw(path status retry sent acc results note count)} =
                split /\t/, $line, -1;
            next unless defined $r{count};
            push @l, \%r;
        }
    }
    return @l;
}

# stops the clients (bounded) and returns the ledger
sub finish {
    my ($self, $timeout) = @_;

    open my $fh, '>', $self->{stop} or die;
    close $fh;

    my $deadline = time() + ($timeout || 40);
    my $clean = 1;
    for my $pid (@{ $self->{pids} }) {
        while (waitpid($pid, WNOHANG) == 0) {
            if (time() > $deadline) {
                kill 'KILL', $pid;
                waitpid($pid, 0);
                $clean = 0;
                last;
            }
            sleep 0.05;
        }
        $clean = 0 if $?;
    }
    $self->{pids} = [];
    @LOADS = grep { $_ != $self } @LOADS;

    ok($clean, 'load clients stopped in time');
    return EvbusFault::Ledger->new($self->lines);
}

package EvbusFault::Ledger;

use Test::More;

sub new {
    my ($class, @lines) = @_;
    my $self = bless { lines => \@lines, ok => {}, refused => {},
        status => {}, results => {}, unknown => {}, bad => [] }, $class;
    for my $r (@lines) {
        $self->{status}{ $r->{status} }++;
        $self->{by_path}{ $r->{path} }{ $r->{status} }++;
        if ($r->{status} =~ /^2/) {
            # a 2xx must name exactly its accepted events, each one sent
            my @ids = grep { length } split /,/, $r->{acc};
            my %sent = map { $_ => 1 } split /,/, $r->{sent};
            # lines made by hand (t/35) may not say
            $r->{count} //= '-';
            push @{ $self->{bad} }, "$r->{path}: $r->{status} with"
                . " accepted '$r->{count}' and " . scalar(@ids)
                . " event_ids ($r->{note})"
                unless $r->{count} =~ /^[1-9]\d*$/ && @ids == $r->{count}
                    && !grep { !$sent{$_} } @ids;
            $self->{ok}{$_} = $r->{status} for @ids;
            for (split /,/, $r->{results}) {
                my ($id, $p, $o) = /^(.*):(-?\d+):(-?\d+)$/ or next;
                $self->{results}{$id} = [$p, $o];
            }
        } elsif ($r->{status} == 503) {
            $self->{refused}{$_} = 1 for split /,/, $r->{sent};
        } else {
            $self->{unknown}{$_} = 1 for split /,/, $r->{sent};
        }
    }
    return $self;
}

sub lines    { @{ $_[0]{lines} } }
sub accepted { $_[0]{ok} }          # id => 2xx status
sub refused  { $_[0]{refused} }     # ids of 503s
sub results  { $_[0]{results} }     # id => [partition, offset] of 200s
sub status   { $_[0]{status} }      # status => requests
sub count    { $_[0]{status}{ $_[1] } // 0 }

sub summary {
    my ($self) = @_;
    my $s = join ', ', map { "$_ x $self->{status}{$_}" }
        sort keys %{ $self->{status} };
    return sprintf "%s; %d ids with a 2xx", $s, scalar keys %{ $self->{ok} };
}

# lines whose status is not in @allowed, a 503 without a Retry-After of
# 1..60 seconds, or a 2xx whose body does not name exactly its accepted
# events
sub odd {
    my ($self, @allowed) = @_;
    my %a = map { $_ => 1 } @allowed;
    my @odd = @{ $self->{bad} };
    for my $r (@{ $self->{lines} }) {
        if (!$a{ $r->{status} }) {
            push @odd, "$r->{path}: $r->{status} $r->{note}";
        } elsif ($r->{status} == 503
                 && !($r->{retry} =~ /^\d+$/ && $r->{retry} >= 1
                      && $r->{retry} <= 60))
        {
            push @odd, "$r->{path}: 503 with Retry-After '$r->{retry}'";
        }
    }
    return @odd;
}

package EvbusFault;

# tests: every id with a 2xx is in the topic (polling up to $timeout);
# returns the key counts found
sub check_delivered {
    my ($brokers, $topic, $ledger, $timeout, $name) = @_;
    my $acc = $ledger->accepted;
    my $n = keys %$acc;
    my @bad = @{ $ledger->{bad} };
    ok(!@bad, 'every 2xx names exactly its accepted events')
        or diag(join "\n", @bad[0 .. ($#bad > 10 ? 10 : $#bad)]);
    cmp_ok($n, '>', 0, 'the ledger holds ids answered 2xx');
    my $got = topic_keys($brokers, $topic, $acc, $timeout);
    my @missing = sort grep { !$got->{$_} } keys %$acc;
    ok(!@missing, $name || "all $n ids answered 2xx are in Kafka")
        or diag(scalar(@missing) . " of $n missing, e.g. "
            . join(' ', @missing[0 .. ($#missing > 7 ? 7 : $#missing)]));
    my $dups = grep { $got->{$_} > 1 } keys %$got;
    note("$dups ids in Kafka more than once (at-least-once)") if $dups;
    return $got;
}

# error.log holds no [alert]/[emerg]/sanitizer report other than lines
# matching one of @allow
sub check_error_log {
    my ($t, $name, @allow) = @_;
    my @bad = grep {
        my $l = $_;
        ($l =~ /\[(?:alert|emerg)\]/
         || $l =~ /AddressSanitizer|LeakSanitizer|runtime error:/
         || $l =~ /ThreadSanitizer|UndefinedBehaviorSanitizer/)
        && !grep { $l =~ $_ } @allow
    } split /\n/, $t->error_log;
    ok(!@bad, $name || 'no alerts, emergencies or sanitizer reports in '
        . "error.log ($t->{name})")
        or diag(join "\n", @bad[0 .. ($#bad > 20 ? 20 : $#bad)]);
}

# sums the "producer stopped: P produced, D delivered, F failed" lines;
# with $want, tests that at least that many such lines are there (a
# missing line must not read as zero failures)
sub producer_stats {
    my ($t, $want) = @_;
    my %s = (produced => 0, delivered => 0, failed => 0, spooled => 0,
        lost => 0, exits => 0);
    my $log = $t->error_log;
    my $re = qr/producer stopped: (\d+) produced, (\d+) delivered,/
        . qr/ (\d+) failed \((\d+) of them spooled, (\d+) lost\)/;
    while ($log =~ /$re/g) {
        $s{produced} += $1;
        $s{delivered} += $2;
        $s{failed} += $3;
        $s{spooled} += $4;
        $s{lost} += $5;
        $s{exits}++;
    }
    cmp_ok($s{exits}, '>=', $want, "at least $want 'producer stopped' lines")
        if defined $want;
    return \%s;
}

# pids and titles of the master's children
sub children {
    my ($t) = @_;
    my $master = $t->master_pid or return {};
    my %c;
    opendir my $d, '/proc' or return {};
    for my $p (grep { /^\d+$/ } readdir $d) {
        open my $fh, '<', "/proc/$p/stat" or next;
        my $stat = <$fh> // '';
        my ($state, $ppid) = $stat =~ /^\d+ \(.*?\) (\S) (\d+)/ or next;
        next unless $ppid == $master && $state ne 'Z';
        open $fh, '<', "/proc/$p/cmdline" or next;
        my $cmd = <$fh> // '';
        $cmd =~ s/\0+$//;
        $c{$p} = $cmd;
    }
    return \%c;
}


END {
    my $rc = $?;
    for my $l (@LOADS) {
        kill 'KILL', @{ $l->{pids} } if @{ $l->{pids} || [] };
    }
    for my $b (@BROKERS) {
        next unless $b->{started};
        if ($b->{cluster}) {
            $b->_cluster_script('reset');
            next;
        }
        $b->signal('CONT');
        $b->stop;
    }
    $? = $rc;
}

1;

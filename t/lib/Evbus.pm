package Evbus;

# Test harness for ngx_evbus: a temporary nginx prefix with its own
# nginx.conf, a free port, start/reload/stop of nginx, HTTP helpers, and a
# reader for what reached Kafka (kcat -J).
#
#     use lib "$FindBin::Bin/lib"; use Evbus;
#     my $t = Evbus->new('ingest')->need_kafka;     # or Evbus::missing
#     my $topic = $t->topic('a');                   # unique to file and run
#     $t->start_ok(http => ["evbus_topic $topic;"]);
#     my ($st, $h, $j) = $t->post('/e', '{"event_type":"x"}');
#     my $msgs = $t->kafka_read($topic, 1);
#     $t->done;      # stops nginx, checks error.log, done_testing
#
# Environment: EVBUS_BROKERS (127.0.0.1:9092), EVBUS_MODULE (the .so,
# default build/ngx_http_evbus_module.so under the repository), EVBUS_NGINX
# (/usr/sbin/nginx), EVBUS_KEEP=1 keeps the temporary prefixes,
# EVBUS_PRELOAD is put in LD_PRELOAD for nginx only (libasan for a module
# built with -fsanitize=address).

use strict;
use warnings;

use Exporter qw(import);
use File::Basename qw(dirname);
use File::Spec;
use File::Temp qw(tempdir);
use Cwd qw(abs_path);
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(sleep time);
use HTTP::Tiny;
use JSON::PP;
use Math::BigInt;
use Test::More;

our @EXPORT_OK = qw(repo_root brokers module_path free_port json_decode
    json_encode xxh3_partition rfc3339_ms uuid_re);

my $NGINX = $ENV{EVBUS_NGINX} || '/usr/sbin/nginx';
my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

my @RUNNING;    # prefixes with a master we started, stopped at exit


sub repo_root {
    return abs_path(dirname(__FILE__) . '/../..');
}

sub brokers {
    return $ENV{EVBUS_BROKERS} || '127.0.0.1:9092';
}

sub module_path {
    my $m = $ENV{EVBUS_MODULE} || 'build/ngx_http_evbus_module.so';
    $m = repo_root() . "/$m" unless File::Spec->file_name_is_absolute($m);
    return $m;
}

sub json_decode {
    my ($text) = @_;
    my $v = eval { $JSON->decode($text) };
    return $v;
}

sub json_encode {
    return $JSON->encode($_[0]);
}

# A port that was free a moment ago, for nginx or a broker to bind later.
# A port the kernel picks (bind to 0) is in the ephemeral range, where any
# client connection made meanwhile (kcat, HTTP, a broker's) may take it
# before nginx binds it; so pick at random below that range, where only
# explicit binds go, and never the same one twice in a process.
my %GIVEN;

sub free_port {
    my ($low) = _read('/proc/sys/net/ipv4/ip_local_port_range') =~ /^(\d+)/;
    if (($low // 0) > 12000) {
        my $span = ($low > 32768 ? 32768 : $low) - 11000;
        for (1 .. 500) {
            my $p = 10000 + int(rand($span));
            next if $GIVEN{$p} || $GIVEN{ $p - 1 } || $GIVEN{ $p + 1 };
            my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                LocalPort => $p, Proto => 'tcp', Listen => 1,
                ReuseAddr => 1) or next;
            close $s;
            $GIVEN{$p} = 1;
            return $p;
        }
    }
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
        Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "cannot bind a free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub _have_cmd {
    my ($cmd) = @_;
    for my $d (split /:/, $ENV{PATH} || '/usr/bin:/bin') {
        return 1 if -x "$d/$cmd";
    }
    return 0;
}

# partition = XXH3_64bits(event_type . "\0" . event_id) mod count, computed
# with Debian's xxhsum, independently of the module
sub xxh3_partition {
    my ($type, $id, $count) = @_;
    my $in = File::Temp->new;
    binmode $in;
    print $in $type, "\0", $id;
    close $in;
    my $out = `xxhsum -H3 - < $in 2>&1`;
    my ($hex) = $out =~ /=\s*([0-9a-f]{16})\b/
        or die "cannot parse xxhsum output: $out";
    return Math::BigInt->from_hex($hex)->bmod($count)->numify;
}

# "2026-11-26T17:00:00.123Z" -> milliseconds since the epoch, or undef
sub rfc3339_ms {
    my ($ts) = @_;
    return undef unless defined $ts;
    my ($y, $mo, $d, $h, $mi, $s, $ms) = $ts
        =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z$/
        or return undef;
    require Time::Local;
    return Time::Local::timegm($s, $mi, $h, $d, $mo - 1, $y) * 1000 + $ms;
}

# a lower-case UUID of version 7, variant 10xx
sub uuid_re {
    return qr/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-
        [0-9a-f]{12}$/x;
}


sub new {
    my ($class, $name, %o) = @_;

    my $self = bless {
        name    => $name,
        dir     => tempdir("evbus-$name-XXXXXX", TMPDIR => 1,
                           CLEANUP => !$ENV{EVBUS_KEEP}),
        port    => free_port(),
        started => 0,
    }, $class;

    chmod 0755, $self->{dir};
    mkdir "$self->{dir}/body";
    $self->{log_pos} = 0;

    unless (-x $NGINX) {
        _missing("no $NGINX");
    }
    unless ($o{no_module} || -f module_path()) {
        _missing('no module at ' . module_path()
            . ' (make module, or set EVBUS_MODULE)');
    }

    return $self;
}

sub dir  { $_[0]{dir} }
sub port { $_[0]{port} }

# Skips.  make test (scripts/test.sh) sets EVBUS_REQUIRE_KAFKA=1, as CI
# does: there a skip is a failure, except for the files listed here, each
# run by a target of its own.
our %MAY_SKIP = (
    '40-fault-cluster-leader.t' => 'three brokers: make test-cluster',
);

sub _may_skip {
    return 1 unless $ENV{EVBUS_REQUIRE_KAFKA};
    my ($file) = $0 =~ m{([^/]+)$};
    return exists $MAY_SKIP{ $file // '' };
}

# skips the whole file, or fails it where the suite must not skip
sub missing {
    my ($why) = @_;
    unless (_may_skip()) {
        plan tests => 1;
        fail("prerequisite missing: $why");
        exit 1;
    }
    plan skip_all => $why;
}

sub _missing { missing(@_) }

# for a SKIP block: returns true (skip), after a failed test where the
# suite must not skip
sub skip_allowed {
    my ($why) = @_;
    fail("prerequisite missing: $why") unless _may_skip();
    return 1;
}

# prerequisites for tests that read Kafka: kcat and a broker answering
sub need_kafka {
    my ($self) = @_;

    _missing('kcat is not installed') unless _have_cmd('kcat');

    my $b = brokers();
    my ($host, $port) = (split /,/, $b)[0] =~ /^(.*):(\d+)$/;
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
        Proto => 'tcp', Timeout => 3);
    _missing("no Kafka broker at $b (scripts/kafka.sh start)") unless $s;
    close $s;

    my $md = `kcat -L -b '$b' -m 5 2>&1`;
    _missing("Kafka at $b does not answer metadata requests")
        unless $? == 0 && $md =~ /broker/;

    return $self;
}

sub need_xxhsum {
    my ($self) = @_;
    _missing('xxhsum is not installed (apt-get install xxhash)')
        unless _have_cmd('xxhsum');
    my $out = `printf 'click\\0abc' | xxhsum -H3 - 2>&1`;
    missing("xxhsum lacks -H3: $out")
        unless $out =~ /23dbb6cec5b89106/;
    return $self;
}

# a topic unique to this file and run
sub topic {
    my ($self, $suffix) = @_;
    my $t = "t-$self->{name}-$$-" . int(time());
    $t .= "-$suffix" if defined $suffix;
    return $t;
}


# Builds nginx.conf.  Options:
#   main      => [lines]     main context
#   http      => [lines]     http context, after the defaults
#   server    => [lines]     server context
#   locations => text        location blocks; default: location = /e { evbus; }
#   brokers   => 'h:p'       evbus_brokers (undef: omitted; default: brokers())
#   properties=> [[n, v]]    evbus_kafka_property lines; default linger.ms 5
#   workers   => N           worker_processes (2)
#   no_module => 1           no load_module line
#   servers   => text        extra server blocks
#   user      => 'u g'       the workers' user when run as root (root root)
sub conf {
    my ($self, %o) = @_;

    my $dir = $self->{dir};
    my $lines = sub { join '', map { "        $_\n" } @{ $_[0] || [] } };

    my $brokers = exists $o{brokers} ? $o{brokers} : brokers();
    my $props = $o{properties} || [['linger.ms', 5]];
    my $locations = defined $o{locations} ? $o{locations}
        : "location = /e { evbus; }";
    my $workers = $o{workers} || 2;

    my $conf = '';
    $conf .= "load_module " . module_path() . ";\n" unless $o{no_module};
    $conf .= 'user ' . ($o{user} || 'root root') . ";\n" if $> == 0;
    $conf .= <<"EOF";
daemon on;
master_process on;
worker_processes $workers;
error_log $dir/error.log info;
pid $dir/nginx.pid;
EOF
    $conf .= join '', map { "$_\n" } @{ $o{main} || [] };
    $conf .= <<"EOF";

events {
    worker_connections 1024;
}

http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;

EOF
    $conf .= "    evbus_brokers $brokers;\n" if defined $brokers;
    $conf .= "    evbus_kafka_property $_->[0] $_->[1];\n" for @$props;
    $conf .= $lines->($o{http}) =~ s/^    //mgr;
    $conf .= <<"EOF";

    server {
        listen 127.0.0.1:$self->{port};
        server_name localhost;

EOF
    $conf .= $lines->($o{server});
    $conf .= join '', map { "        $_\n" } split /\n/, $locations;
    $conf .= "    }\n";
    $conf .= $o{servers} if defined $o{servers};
    $conf .= "}\n";

    return $conf;
}

sub write_conf {
    my ($self, @args) = @_;
    my $conf = @args == 1 ? $args[0] : $self->conf(@args);
    _write("$self->{dir}/nginx.conf", $conf);
    return $conf;
}

sub _write {
    my ($file, $text) = @_;
    open my $fh, '>', $file or die "cannot write $file: $!";
    print $fh $text;
    close $fh;
}

sub _read {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    my $text = <$fh>;
    close $fh;
    return $text;
}

sub _nginx_cmd {
    my ($self, @args) = @_;
    my $dir = $self->{dir};
    return ($NGINX, '-p', "$dir/", '-c', "$dir/nginx.conf",
        '-e', "$dir/error.log", @args);
}

# runs nginx with @args, returns (exit status, stdout+stderr)
sub _run {
    my ($self, @args) = @_;
    my @cmd = $self->_nginx_cmd(@args);
    my $out = '';
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        # e.g. libasan for a module built with -fsanitize=address
        $ENV{LD_PRELOAD} = $ENV{EVBUS_PRELOAD} if $ENV{EVBUS_PRELOAD};
        exec @cmd or exit 127;
    }
    local $/;
    $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

# `nginx -t` on a configuration (text, or the options of conf());
# returns (exit status, output)
sub nginx_t {
    my ($self, @args) = @_;
    my $conf = @args == 1 ? $args[0] : $self->conf(@args);
    _write("$self->{dir}/nginx.conf", $conf);
    return $self->_run('-t');
}

sub master_pid {
    my ($self) = @_;
    my $pid = _read("$self->{dir}/nginx.pid");
    ($pid) = $pid =~ /(\d+)/;
    return $pid;
}

sub _alive {
    my ($pid) = @_;
    return 0 unless $pid;
    return 0 unless kill 0, $pid;
    # a zombie is not alive
    my $stat = _read("/proc/$pid/stat");
    return 0 if $stat =~ /^\d+ \(.*?\) Z/;
    return 1;
}

# pids of the master's children titled "nginx: worker process" (not the
# ones shutting down)
sub worker_pids {
    my ($self) = @_;
    my $master = $self->master_pid or return ();
    my @pids;
    opendir my $d, '/proc' or return ();
    for my $p (grep { /^\d+$/ } readdir $d) {
        my $stat = _read("/proc/$p/stat");
        my ($ppid) = $stat =~ /^\d+ \(.*?\) \S+ (\d+)/ or next;
        next unless $ppid == $master;
        my $cmd = _read("/proc/$p/cmdline");
        next unless $cmd =~ /^nginx: worker process\s*\0*$/;
        push @pids, $p;
    }
    closedir $d;
    @pids = sort { $a <=> $b } @pids;
    return @pids;
}

sub _port_open {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $port, Proto => 'tcp', Timeout => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

sub start {
    my ($self, @conf) = @_;

    $self->write_conf(@conf) if @conf || !-e "$self->{dir}/nginx.conf";

    my ($rc, $out) = $self->_run();
    if ($rc != 0) {
        diag("nginx failed to start ($rc): $out");
        diag(_read("$self->{dir}/error.log"));
        BAIL_OUT("nginx failed to start") if $self->{bail_on_start};
        return 0;
    }

    # every worker up, with its title set: tests compare worker pids
    my ($want) = _read("$self->{dir}/nginx.conf")
        =~ /^\s*worker_processes\s+(\d+)\s*;/m;
    $want ||= 1;

    my $deadline = time() + 10;
    while (time() < $deadline) {
        last if $self->master_pid && _port_open($self->{port})
            && $self->worker_pids >= $want;
        sleep 0.05;
    }
    unless ($self->master_pid && _port_open($self->{port})) {
        diag("nginx did not start listening on $self->{port}");
        diag(_read("$self->{dir}/error.log"));
        return 0;
    }

    $self->{started} = 1;
    push @RUNNING, $self;
    return 1;
}

# start() as a test; when nginx does not start, the file ends here
sub start_ok {
    my ($self, @conf) = @_;
    return 1 if ok($self->start(@conf), 'nginx started');
    $self->check_error_log;
    done_testing();
    exit 0;
}

# nginx -s reload, then waits until a full set of new workers runs;
# returns true when they came up
sub reload {
    my ($self, %o) = @_;

    $self->write_conf(@{ $o{conf} }) if $o{conf};

    my %old = map { $_ => 1 } $self->worker_pids;
    my $want = $o{workers} || scalar(keys %old) || 1;

    my ($rc, $out) = $self->_run('-s', 'reload');
    if ($rc != 0) {
        diag("nginx -s reload failed ($rc): $out");
        return 0;
    }

    my $deadline = time() + ($o{timeout} || 15);
    while (time() < $deadline) {
        my @new = grep { !$old{$_} } $self->worker_pids;
        return 1 if @new >= $want;
        sleep 0.05;
    }
    diag("no new workers after reload");
    return 0;
}

# nginx -s quit, waits (bounded) for the master to exit; returns true when
# it exited in time, else kills it and returns false
sub stop {
    my ($self, %o) = @_;

    return 1 unless $self->{started};
    $self->{started} = 0;
    @RUNNING = grep { $_ != $self } @RUNNING;

    my $pid = $self->master_pid;
    my $timeout = $o{timeout} || 20;

    $self->_run('-s', $o{signal} || 'quit');

    my $deadline = time() + $timeout;
    while (time() < $deadline) {
        return 1 unless _alive($pid);
        sleep 0.05;
    }

    diag("nginx $pid did not exit within ${timeout}s, killing it");
    kill 'TERM', $pid;
    sleep 2;
    kill 'KILL', $pid if _alive($pid);
    return 0;
}

sub error_log {
    my ($self) = @_;
    return _read("$self->{dir}/error.log");
}

# error.log lines since the last call of this method
sub error_log_new {
    my ($self) = @_;
    my $log = $self->error_log;
    my $new = substr($log, $self->{log_pos} > length $log ? 0
        : $self->{log_pos});
    $self->{log_pos} = length $log;
    return $new;
}

# one test: error.log holds no [alert], [emerg] or sanitizer reports
sub check_error_log {
    my ($self, $name, %o) = @_;
    my $lvl = $o{allow_emerg} ? qr/\[alert\]/ : qr/\[(?:alert|emerg)\]/;
    my @bad = grep {
        /$lvl/ || /AddressSanitizer|LeakSanitizer|runtime error:/
            || /ThreadSanitizer|UndefinedBehaviorSanitizer/
    } split /\n/, $self->error_log;
    ok(!@bad, $name
        || 'no alerts, emergencies or sanitizer reports in error.log')
        or diag(join "\n", @bad[0 .. ($#bad > 20 ? 20 : $#bad)]);
}

sub done {
    my ($self) = @_;
    ok($self->stop, 'nginx stopped in time') if $self->{started};
    $self->check_error_log;
    done_testing();
}


# HTTP.  post() returns (status, headers, decoded JSON body or undef, raw
# body); headers are a hash with lower-case names.
sub http {
    my ($self, $method, $path, $body, %o) = @_;

    my $ua = HTTP::Tiny->new(timeout => $o{timeout} || 20,
        keep_alive => 0, agent => $o{agent} || 'evbus-test/1');
    my %h = %{ $o{headers} || {} };
    $h{'Content-Type'} = $o{content_type}
        if defined $o{content_type};

    my $url = "http://127.0.0.1:$self->{port}$path";
    my $res = $ua->request($method, $url, {
        headers => \%h,
        defined $body ? (content => $body) : (),
    });

    my $raw = $res->{content} // '';
    return ($res->{status}, $res->{headers}, json_decode($raw), $raw);
}

sub post {
    my ($self, $path, $body, %o) = @_;
    $o{content_type} = 'application/json' unless exists $o{content_type};
    return $self->http('POST', $path, $body, %o);
}

# sends raw bytes, reads the response until the server closes; returns
# (status, headers, decoded JSON, raw body)
sub raw_request {
    my ($self, $req, %o) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $self->{port}, Proto => 'tcp', Timeout => 5)
        or return (0, {}, undef, '');
    binmode $s;

    my @parts = ref $req ? @$req : ($req);
    for my $p (@parts) {
        print $s $p;
        $s->flush;
        sleep($o{pause}) if $o{pause} && @parts > 1;
    }

    my $sel = IO::Select->new($s);
    my $buf = '';
    my $deadline = time() + ($o{timeout} || 20);
    while (time() < $deadline) {
        next unless $sel->can_read(0.5);
        my $n = sysread($s, my $chunk, 65536);
        last unless $n;
        $buf .= $chunk;
    }
    close $s;

    # all bytes received, e.g. for pipelined requests
    $self->{last_raw} = $buf;

    return parse_response($buf);
}

sub parse_response {
    my ($buf) = @_;

    my ($head, $body) = split /\r\n\r\n/, $buf, 2;
    return (0, {}, undef, $buf) unless defined $head;

    my ($status) = $head =~ m{^HTTP/1\.\d (\d{3})};
    my %h;
    for (split /\r\n/, $head) {
        next unless /^([^:]+):\s*(.*)$/;
        $h{lc $1} = exists $h{lc $1} ? "$h{lc $1}, $2" : $2;
    }

    $body //= '';
    if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        my $out = '';
        while ($body =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $len = hex $1;
            last if $len == 0;
            $out .= substr($body, 0, $len, '');
            $body =~ s/^\r\n//;
        }
        $body = $out;
    }

    return ($status // 0, \%h, json_decode($body), $body);
}


# A minimal HTTP/2 client (h2c, prior knowledge) for what curl 7.88 cannot
# do: several POSTs as concurrent streams of one connection.  Sends every
# request at once (HEADERS without HPACK indexing, DATA with END_STREAM),
# then reads until each stream has ended.  Returns, in request order,
# [status, body] (status 0: the stream did not end within $timeout).
sub h2_posts {
    my ($self, $port, $reqs, $timeout) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp', Timeout => 5) or return map { [0, ''] } @$reqs;
    binmode $s;

    my $frame = sub {
        my ($type, $flags, $id, $payload) = @_;
        my $len = length $payload;
        return pack('CnCCN', $len >> 16, $len & 0xffff, $type, $flags, $id)
            . $payload;
    };
    my $lit = sub {
        # literal header field without indexing, new name, no Huffman
        return join '', map { pack('C', length $_) . $_ } @_;
    };

    my $out = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" . $frame->(4, 0, 0, '');
    my (%res, %order);
    my $id = 1;
    for my $r (@$reqs) {
        my ($path, $body, $ct) = @$r;
        my $hb = join '', map { "\0" . $lit->(@$_) } [':method', 'POST'],
            [':scheme', 'http'], [':path', $path],
            [':authority', 'localhost'],
            ['content-type', $ct // 'application/json'],
            ['content-length', length $body];
        $out .= $frame->(1, 0x4, $id, $hb) . $frame->(0, 0x1, $id, $body);
        $order{$id} = scalar keys %order;
        $res{$id} = [0, '', 0];
        $id += 2;
    }
    print $s $out;
    $s->flush;

    my $buf = '';
    my $sel = IO::Select->new($s);
    my $deadline = time() + ($timeout || 20);
    while (time() < $deadline && grep { !$_->[2] } values %res) {
        if (length $buf < 9 || length $buf < 9 + unpack('N', "\0"
            . substr($buf, 0, 3)))
        {
            next unless $sel->can_read(0.2);
            my $n = sysread($s, my $chunk, 65536);
            last unless $n;
            $buf .= $chunk;
            next;
        }
        my ($hi, $lo, $type, $flags, $sid) = unpack('CnCCN', $buf);
        my $len = ($hi << 16) | $lo;
        my $payload = substr($buf, 9, $len);
        substr($buf, 0, 9 + $len, '');
        $sid &= 0x7fffffff;

        if ($type == 4 && !($flags & 1)) {
            print $s $frame->(4, 1, 0, '');    # SETTINGS ACK
            $s->flush;
            next;
        }
        my $r = $res{$sid} or next;
        if ($type == 1) {
            # nginx writes :status first (no padding, no priority):
            # indexed 200 (0x88), or its name indexed (8) and three digits
            my $b = ord $payload;
            if ($b == 0x88) {
                $r->[0] = 200;
            } elsif (($b & 0xf0) == 0 && ($b & 0x0f) == 8) {
                $r->[0] = substr($payload, 2, 3) + 0;
            } else {
                $r->[0] = -1;
            }
        } elsif ($type == 0) {
            $r->[1] .= $payload;
        }
        $r->[2] = 1 if ($type == 0 || $type == 1) && ($flags & 1);
        $r->[2] = 1 if $type == 3;    # RST_STREAM
    }
    close $s;

    return map { [@{ $res{$_} }[0, 1]] }
        sort { $order{$a} <=> $order{$b} } keys %res;
}

# Reads a topic from the beginning with kcat, polling until at least
# $expect messages are there or $timeout seconds have passed.  Returns an
# arrayref of messages: the kcat -J fields, headers as a hash, and
# "value" (the payload decoded as JSON, when it is JSON).
sub kafka_read {
    my ($self, $topic, $expect, $timeout) = @_;

    $expect //= 1;
    $timeout //= 20;

    my $deadline = time() + $timeout;
    my $msgs = [];

    while (1) {
        $msgs = _kcat_consume($topic);
        last if @$msgs >= $expect;
        last if time() >= $deadline;
        sleep 0.5;
    }

    return $msgs;
}

sub _kcat_consume {
    my ($topic) = @_;

    my $b = brokers();
    my @cmd = ('timeout', '15', 'kcat', '-b', $b, '-C', '-t', $topic,
        '-o', 'beginning', '-e', '-J', '-q');

    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>', '/dev/null';
        exec @cmd or exit 127;
    }

    my @msgs;
    while (my $line = <$fh>) {
        chomp $line;
        next unless $line =~ /^\{/;
        my $m = eval { JSON::PP->new->decode($line) } or next;
        my %h;
        my @hl = @{ $m->{headers} || [] };
        while (@hl) {
            my ($k, $v) = splice @hl, 0, 2;
            $h{$k} = $v;
        }
        $m->{header_list} = $m->{headers};
        $m->{headers} = \%h;
        if (defined $m->{payload}) {
            # kcat -J prints the payload as a JSON string of its bytes
            my $bytes = $m->{payload};
            utf8::downgrade($bytes, 1);
            $m->{raw} = $bytes;
            $m->{value} = json_decode($bytes);
        }
        push @msgs, $m;
    }
    close $fh;

    return \@msgs;
}

# "Nothing else arrived", without a fixed sleep: stops nginx (each worker
# flushes its producer before it exits, so nothing is in flight any more),
# then reads each topic to its end once.  @checks: [topic, [keys], name].
# Also tests that the workers delivered exactly that many messages and
# failed none (every message of the file goes to these topics).
sub stop_and_check_topics {
    my ($self, @checks) = @_;

    my $log0 = length $self->error_log;
    ok($self->stop, 'nginx stopped in time (every producer flushed)');

    my $total = 0;
    for my $c (@checks) {
        my ($topic, $want, $name) = @$c;
        my $msgs = _kcat_consume($topic);
        is_deeply([sort map { $_->{key} // '' } @$msgs], [sort @$want],
            $name);
        $total += @$want;
    }

    my ($n, $delivered, $failed) = (0, 0, 0);
    my $log = substr($self->error_log, $log0);
    my $re = qr/producer stopped: \d+ produced, (\d+) delivered, (\d+)/;
    while ($log =~ /$re failed/g) {
        $n++;
        $delivered += $1;
        $failed += $2;
    }
    cmp_ok($n, '>', 0, 'the workers said what they delivered');
    is($failed, 0, 'no delivery failed');
    is($delivered, $total, "the workers delivered exactly $total messages");
}

# One spool record as src/ngx_evbus_spool_record.c writes it (host byte order):
# magic | body length | crc32(body) | body, body = timestamp (8) | lengths
# of topic (2), key (2), value (4), event_type (2), event_version (2),
# source_service (2), ingest_timestamp (2), error_kind (2), traceparent (2),
# tracestate (2), dead_letter (2) | the strings.  Written by the tests as
# files "left by a dead process".  Options: traceparent, tracestate,
# dead_letter, value (default: a small fake event keyed $id); format => 2:
# the older "EVB2" record, without the last three fields, as versions
# before "EVB3" wrote it.
sub spool_record {
    my ($topic, $id, $ms, %o) = @_;
    require Compress::Zlib;
    my $value = $o{value}
        // qq{{"event_type":"fake","event_id":"$id","metadata":{}}};
    my @s = ($topic, $id, $value, 'fake', '1', 'test',
        '2026-01-01T00:00:00.000Z', '');
    my ($magic, $lens) = (0x32425645, 'SSLSSSSS');
    if (($o{format} // 3) != 2) {
        push @s, map { $o{$_} // '' } qw(traceparent tracestate dead_letter);
        ($magic, $lens) = (0x33425645, 'SSLSSSSSSSS');
    }
    my $body = pack('q', $ms)
        . pack($lens, map { length } @s) . join('', @s);
    return pack('LLL', $magic, length $body,
        Compress::Zlib::crc32($body)) . $body;
}

# a file with exactly these bytes
sub write_file {
    my ($file, $data) = @_;
    open my $fh, '>', $file or die "$file: $!";
    binmode $fh;
    print $fh $data;
    close $fh or die "$file: $!";
}

# number of partitions of a topic, from kcat -L
sub partition_count {
    my ($self, $topic) = @_;
    my $b = brokers();
    my $md = `timeout 15 kcat -L -b '$b' -t '$topic' -m 5 2>/dev/null`;
    my ($n) = $md =~ /topic "\Q$topic\E" with (\d+) partitions/;
    return $n;
}

# The samples of an evbus_status location ('name{labels}' => value); in
# list context also the raw text, the status and the headers.
sub metrics {
    my ($self, $path) = @_;
    my ($st, $h, undef, $raw) = $self->http('GET', $path // '/metrics');
    my %m;
    for (split /\n/, $raw // '') {
        $m{$1} = $2 if /^([^#\s]\S*) (\S+)$/;
    }
    return wantarray ? (\%m, $raw, $st, $h) : \%m;
}

# one sample's value, 0 when absent
sub metric {
    my ($self, $name, $path) = @_;
    return $self->metrics($path)->{$name} // 0;
}

# sends $req (headers, maybe part of a body) and returns as soon as one
# whole answer has come, without waiting for the connection to close:
# (status, headers, decoded JSON, body, milliseconds)
sub first_response {
    my ($self, $req, %o) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $self->{port}, Proto => 'tcp', Timeout => 5)
        or return (0, {}, undef, '', 0);
    binmode $s;

    my $t0 = time();
    print $s $req;
    $s->flush;

    my $sel = IO::Select->new($s);
    my $buf = '';
    my $deadline = $t0 + ($o{timeout} || 10);
    while (time() < $deadline) {
        next unless $sel->can_read(0.05);
        my $n = sysread($s, my $chunk, 65536);
        last unless $n;
        $buf .= $chunk;
        my ($head, $body) = split /\r\n\r\n/, $buf, 2;
        next unless defined $body;
        my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
        last if defined $len && length($body) >= $len;
        last if $head =~ m{^HTTP/1\.1 (204|304)};
    }
    my $ms = (time() - $t0) * 1000;
    close $s;

    return (parse_response($buf), $ms);
}


END {
    for my $t (@RUNNING) {
        my $pid = $t->master_pid or next;
        kill 'QUIT', $pid;
        my $deadline = time() + 10;
        sleep 0.05 while _alive($pid) && time() < $deadline;
        kill 'KILL', $pid if _alive($pid);
    }
}

1;

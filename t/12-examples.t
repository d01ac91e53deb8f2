#!/usr/bin/perl

# The configurations in conf-examples/ pass `nginx -t` with this module
# (paths and addresses rewritten to the test's prefix), and the quickstart
# one serves an event end to end.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus qw(free_port);

my $t = Evbus->new('examples');
my $dir = $t->dir;
mkdir "$dir/tmp";     # quickstart.conf keeps its temp paths under tmp/
my $root = Evbus::repo_root();
my $module = Evbus::module_path();
my $brokers = Evbus::brokers();

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or die "$f: $!";
    local $/;
    return <$fh>;
}

sub localize {
    my ($conf) = @_;
    my $port = $t->port;
    $conf =~ s/\@MODULE\@/$module/g;
    $conf =~ s/\@BROKERS\@/$brokers/g;
    $conf =~ s{load_module \S+ngx_http_evbus_module\.so;}
              {load_module $module;}g;
    $conf =~ s{^(\s*)listen [^;]+;}{${1}listen 127.0.0.1:$port;}mg;
    $conf =~ s{^\s*ssl_certificate\S* [^;]+;\n}{}mg;
    $conf =~ s{/var/log/nginx/}{$dir/}g;
    $conf =~ s{/var/spool/nginx/evbus}{$dir/spool}g;
    $conf =~ s{conf-examples/}{$root/conf-examples/}g;
    $conf =~ s{/etc/nginx/evbus/}{$root/conf-examples/}g;
    $conf =~ s{evbus_brokers [^;]+;}{evbus_brokers $brokers;}g;
    $conf = "user root root;\n$conf" if $> == 0 && $conf !~ /^user /m;
    $conf = "pid $dir/nginx.pid;\n$conf" if $conf !~ /^pid /m;
    $conf = "error_log $dir/error.log info;\n$conf"
        if $conf !~ /^error_log /m;
    return $conf;
}

for my $name (sort glob "$root/conf-examples/*.conf") {
    (my $short = $name) =~ s{.*/}{};
    my ($rc, $out) = $t->nginx_t(localize(slurp($name)));
    is($rc, 0, "$short passes nginx -t") or diag($out);
}

SKIP: {
    my $kafka = `kcat -L -b '$brokers' -m 5 2>&1`;
    skip 'no Kafka broker', 4 if !($? == 0 && $kafka =~ /broker/)
        && Evbus::skip_allowed('no Kafka broker');

    # a topic of this run, not the shared "events" where older messages
    # would satisfy the read
    my $topic = $t->topic;
    my $conf = localize(slurp("$root/conf-examples/quickstart.conf"));
    is($conf =~ s/evbus_topic events;/evbus_topic $topic;/g, 1,
        'quickstart.conf produces to "events"');
    $t->write_conf($conf);
    ok($t->start, 'quickstart.conf serves');
    my $id = "ex-$$-" . time();
    my ($st) = $t->post('/events', qq{{"event_type":"click","event_id":"$id"}});
    is($st, 202, 'quickstart: 202');
    my $msgs = $t->kafka_read($topic, 1, 20);
    is_deeply([map { $_->{key} // '' } @$msgs], [$id],
        'quickstart: exactly the event in Kafka');
}

$t->done;

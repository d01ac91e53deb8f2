#!/usr/bin/perl

# Schemas and the configuration: `nginx -t` names the file and the keyword
# of a broken schema; a reload under traffic switches to changed schemas
# without losing an accepted event; a reload with a broken schema fails and
# leaves the running schemas serving.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(make_path rmtree);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use HTTP::Tiny;
use Evbus;

my $t = Evbus->new('schemareload')->need_kafka;
my $dir = $t->dir;

sub put {
    my ($rel, $text) = @_;
    my ($d) = "$dir/$rel" =~ m{^(.*)/};
    make_path($d);
    open my $fh, '>', "$dir/$rel" or die "$dir/$rel: $!";
    print $fh $text;
    close $fh;
}

# nginx -t

my @broken = (
    [ 'unsupported keyword', 'c/click/1.json', '{"anyOf":[{}]}',
      qr{c/click/1\.json: unsupported keyword "anyOf" at the top level} ],
    [ 'nested keyword', 'c/click/1.json',
      '{"properties":{"a":{"not":{}}}}',
      qr{c/click/1\.json: unsupported keyword "not" at /properties/a} ],
    [ 'invalid JSON', 'c/click/2.json', '{"type":',
      qr{c/click/2\.json: invalid JSON} ],
    [ 'bad regex', 'c/click/1.json', '{"properties":{"s":{"pattern":"[a-"}}}',
      qr{c/click/1\.json: keyword "pattern": invalid regular expression "\[a-"} ],
    [ 'unknown format', 'c/click/1.json', '{"format":"isbn"}',
      qr{c/click/1\.json: keyword "format": unsupported format "isbn"} ],
    [ 'bad file name', 'c/click/latest.json', '{}',
      qr{c/click/latest\.json: unexpected file} ],
);

my $conf_line = sub {
    my ($conf) = @_;
    my @l = split /\n/, $conf;
    for my $i (0 .. $#l) {
        return $i + 1 if $l[$i] =~ /evbus_schemas/;
    }
};

for my $b (@broken) {
    my ($name, $file, $text, $re) = @$b;
    rmtree("$dir/c");
    put('c/click/1.json', '{}');
    put($file, $text);
    my $conf = $t->conf(http => ["evbus_schemas $dir/c;"]);
    my ($rc, $out) = $t->nginx_t($conf);
    isnt($rc, 0, "nginx -t fails: $name");
    like($out, qr/\[emerg\] evbus_schemas: .*$re/, "$name: file and keyword")
        or diag($out);
    my $line = $conf_line->($conf);
    like($out, qr/nginx\.conf:$line\b/, "$name: the directive's line");
}

my ($rc, $out) = $t->nginx_t(http => ["evbus_schemas $dir/none;"]);
like($out, qr{evbus_schemas: .*/none: opendir\(\) failed}, 'missing dir');

($rc, $out) = $t->nginx_t(http => [
    'evbus_schemas ' . Evbus::repo_root() . '/conf-examples/schemas;',
    'evbus_schema_default_version 1;', 'evbus_unknown_types accept;',
    'evbus_dead_letter_topic dlq;']);
is($rc, 0, 'nginx -t passes with the examples and every directive')
    or diag($out);

($rc, $out) = $t->nginx_t(http => ['evbus_unknown_types maybe;']);
like($out, qr/invalid value "maybe"/, 'evbus_unknown_types: bad value');
($rc, $out) = $t->nginx_t(http => ['evbus_schema_default_version 0;']);
isnt($rc, 0, 'evbus_schema_default_version 0 fails');

# reload under traffic

rmtree("$dir/c");
put('c/r/1.json', '{"required":["x"],"properties":{"x":{"type":"string"}}}');

my $topic = $t->topic;
$t->start_ok(http => ["evbus_topic $topic;", "evbus_schemas $dir/c;"]);

my $stop = "$dir/stop";
my $results = "$dir/results";

my $pid = fork // die "fork: $!";
if ($pid == 0) {
    open my $o, '>', $results or POSIX::_exit(1);
    $o->autoflush(1);
    my $ua = HTTP::Tiny->new(timeout => 10, keep_alive => 1);
    my $one = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
    my $url = 'http://127.0.0.1:' . $t->port . '/e';
    my $deadline = time() + 30;
    my $n = 0;
    while (!-e $stop && time() < $deadline) {
        $n++;
        my $body = qq{[{"event_type":"r","event_id":"s-$n","x":"str"},}
            . qq{{"event_type":"r","event_id":"i-$n","x":5}]};
        my %req = (headers => { 'Content-Type' => 'application/json' },
            content => $body);
        my $res = $ua->request('POST', $url, \%req);
        # the idle kept-alive connection closed by an old worker at its
        # shutdown: a real client retries on a fresh connection
        if ($res->{status} == 599) {
            print $o "retry\n";
            $res = $one->request('POST', $url, \%req);
        }
        my $j = Evbus::json_decode($res->{content} // '') // {};
        printf $o "%s\t%s\n", $res->{status},
            join(',', @{ $j->{event_ids} || [] });
        sleep 0.005;
    }
    POSIX::_exit(0);
}

sleep 1;
put('c/r/1.json', '{"required":["x"],"properties":{"x":{"type":"integer"}}}');
ok($t->reload, 'reload with a changed schema');
sleep 1;

my ($st, $h, $j) = $t->post('/e', '[{"event_type":"r","event_id":"after-s",'
    . '"x":"s"},{"event_type":"r","event_id":"after-i","x":1}]');
is_deeply($j->{event_ids}, ['after-i'], 'after the reload: the new schema');
is($j->{errors}[0]{error}, '/x: expected integer, got string',
    'after the reload: the new reason');

# a broken schema: the reload fails, the running schemas keep serving

put('c/r/1.json', '{"required":["x"],"properties":{"x":{"type":"integr"}}}');
$t->error_log_new;
($rc, $out) = $t->_run('-s', 'reload');
my $deadline = time() + 10;
my $log = '';
while (time() < $deadline) {
    $log .= $t->error_log_new;
    last if $log =~ /evbus_schemas/;
    sleep 0.1;
}
my $why = qr{keyword "type": unknown type "integr"};
like($log, qr{\[emerg\].*evbus_schemas: .*c/r/1\.json: $why},
    'failed reload: the error log names it');

($st, $h, $j) = $t->post('/e', '[{"event_type":"r","event_id":"kept-s",'
    . '"x":"s"},{"event_type":"r","event_id":"kept-i","x":1}]');
is_deeply($j->{event_ids}, ['kept-i'],
    'after the failed reload: the running schema still serves');

open my $fh, '>', $stop or die;
close $fh;
waitpid($pid, 0);
is($? >> 8, 0, 'client exited cleanly');

my (%acc, %status, @odd);
open $fh, '<', $results or die;
while (my $line = <$fh>) {
    chomp $line;
    my ($s, $ids) = split /\t/, $line, -1;
    $status{$s}++;
    next if $s eq 'retry';
    push @odd, "status $s" unless $s eq '202';
    $acc{$_}++ for grep { length } split /,/, $ids // '';
}
close $fh;
note('statuses: ' . join ', ', map { "$_ x $status{$_}" } sort keys %status);
ok(!@odd, 'only 202 during the reloads') or diag("@odd[0 .. 5]");
my $strs = grep { /^s-/ } keys %acc;
my $ints = grep { /^i-/ } keys %acc;
ok($strs > 0 && $ints > 0, "both schemas served ($strs string, $ints int)");

$acc{$_}++ for 'after-i', 'kept-i';
my $msgs = $t->kafka_read($topic, scalar keys %acc, 30);
my %got = map { ($_->{key} // '') => 1 } @$msgs;
my @missing = grep { !$got{$_} } keys %acc;
ok(!@missing, 'every accepted event reached Kafka') or diag("@missing[0..5]");
my @extra = grep { !$acc{$_} } keys %got;
ok(!@extra, 'no rejected event reached Kafka') or diag("@extra[0..5]");

# nginx -s quit reads the configuration too
put('c/r/1.json', '{}');
ok($t->stop, 'nginx stopped in time');
$t->check_error_log(undef, allow_emerg => 1);
done_testing();

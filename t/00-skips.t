#!/usr/bin/perl

# Skips that hide: under make test (EVBUS_REQUIRE_KAFKA=1, as in CI) a
# missing prerequisite is a failure, except for the files on Evbus's
# documented list (%Evbus::MAY_SKIP, e.g. t/40, run by make test-cluster).
# That only holds if every file skips through Evbus::missing or
# Evbus::skip_allowed: this checks the sources.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evbus;

my @files = sort glob "$FindBin::Bin/*.t";
cmp_ok(scalar @files, '>', 20, 'the test files');

for my $f (@files) {
    open my $fh, '<', $f or die "$f: $!";
    my @bad;
    while (my $line = <$fh>) {
        next if $line =~ /^\s*#/;
        push @bad, "$.: $line" if $line =~ /\bskip_all\b/
            || ($line =~ /\bskip\s*\(?\s*['"]/
                && $line !~ /Evbus::skip_allowed/
                && !_next_allows($fh));
    }
    close $fh;
    (my $short = $f) =~ s{.*/}{};
    ok(!@bad, "$short skips only through Evbus") or diag(join '', @bad);
}

for my $f (sort keys %Evbus::MAY_SKIP) {
    ok(-f "$FindBin::Bin/$f", "$f, allowed to skip, exists"
        . " ($Evbus::MAY_SKIP{$f})");
}

# a SKIP block's condition may continue on the next line
sub _next_allows {
    my ($fh) = @_;
    my $pos = tell $fh;
    my $next = <$fh> // '';
    seek $fh, $pos, 0;
    return $next =~ /Evbus::skip_allowed/;
}

done_testing();

#!/usr/bin/perl

# Unit tests of the built-in matcher of simple patterns, against PCRE2:
# scripts/unit.sh builds and runs them with the sanitizers.

use strict;
use warnings;

use FindBin;

chdir "$FindBin::Bin/.." or die "chdir: $!";

exec 'scripts/unit.sh', 'build/unit', 'regex'
    or die "exec scripts/unit.sh: $!";

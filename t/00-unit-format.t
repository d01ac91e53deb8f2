#!/usr/bin/perl

# Unit tests of the "format" checkers:
# scripts/unit.sh builds and runs them with the sanitizers.

use strict;
use warnings;

use FindBin;

chdir "$FindBin::Bin/.." or die "chdir: $!";

exec 'scripts/unit.sh', 'build/unit', 'format'
    or die "exec scripts/unit.sh: $!";

#!/usr/bin/perl

# Unit tests of the event core: scripts/unit.sh builds every
# t/unit/test_*.c with the sanitizers and runs it; each program is a
# subtest of this file's TAP.  A program that fails, crashes or does not
# build is a "not ok" line naming it, and a non-zero exit.

use strict;
use warnings;

use FindBin;

chdir "$FindBin::Bin/.." or die "chdir: $!";

exec 'scripts/unit.sh', 'build/unit'
    or die "exec scripts/unit.sh: $!";

#!/usr/bin/perl

# Unit tests of the event core: scripts/unit.sh builds and runs them with
# the sanitizers, and its TAP is passed through to prove.  A failed build
# prints no plan and exits non-zero, which prove reports as a failure.

use strict;
use warnings;

use FindBin;

chdir "$FindBin::Bin/.." or die "chdir: $!";

exec 'scripts/unit.sh', 'build/unit', 'event'
    or die "exec scripts/unit.sh: $!";

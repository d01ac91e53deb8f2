#!/usr/bin/perl

# Unit tests of the schemas and of validation inside the event core's
# pass: scripts/unit.sh builds and runs them with the sanitizers.

use strict;
use warnings;

use FindBin;

chdir "$FindBin::Bin/.." or die "chdir: $!";

exec 'scripts/unit.sh', 'build/unit', 'schema'
    or die "exec scripts/unit.sh: $!";

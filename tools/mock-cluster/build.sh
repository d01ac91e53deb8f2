#!/bin/bash
# Builds tools/mock-cluster/mock-cluster (librdkafka's mock cluster with a
# tiny command interface, for fault tests with injected produce errors).
#   tools/mock-cluster/build.sh [output]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../build/mock-cluster}
mkdir -p "$(dirname "$out")"
cc -O2 -Wall -Wextra -Werror -o "$out.tmp" "$here/mock-cluster.c" \
    $(pkg-config --cflags --libs rdkafka 2>/dev/null || echo -lrdkafka)
mv -f "$out.tmp" "$out"
echo "$out"

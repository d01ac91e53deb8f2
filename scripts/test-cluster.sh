#!/bin/bash
# Fault tests that need a three-node Kafka cluster (t/4N-*cluster*.t):
# too slow for every `make test`.  Each file starts its own private cluster
# with scripts/kafka-cluster.sh (temporary dir, free ports) and removes it.
#
#   make test-cluster            or   scripts/test-cluster.sh [prove args]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

"$top/scripts/kafka.sh" fetch >/dev/null

export EVBUS_TEST_CLUSTER=1
if [ $# -eq 0 ]; then
    set -- t/4[0-9]-*cluster*.t
fi
exec prove -v "$@"

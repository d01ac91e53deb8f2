#!/bin/bash
# ngx_evbus throughput benchmark: nginx (2 workers) with the module, one
# Kafka broker, wrk as the client, kcat as the raw-producer reference.
# Runs the parts below one after the other in one report, each with its
# own nginx instances of the same binary and module (scripts/bench/*.sh,
# each of which also runs alone):
#   http     return 202, evbus single and batch (instance main), kcat
#   schema   purchase events without and with evbus_schemas (schema)
#   ack      evbus_ack kafka, one instance per linger.ms (ack-l<N>)
#   spool    spool-write throughput with the brokers on a closed port
#            (spool), then the replay into the real broker (spool-replay)
# See docs/bench.md for what is measured and how to read the results.
#
#   make bench                (installs wrk/kcat/curl/... if missing, then this)
#   scripts/bench.sh          every part: build/bench/latest.txt
#   scripts/bench.sh http ack some parts: build/bench/latest-http-ack.txt
#   scripts/bench/spool.sh    one part
#
# Environment (BENCH_DURATION, BENCH_ACK_LINGERS, ...): scripts/bench/lib.sh.
# Exit status: 0 when every accepted event is in Kafka (spool rows: in the
# spool, and in Kafka after the replay), 1 when some are missing or the
# bench could not run.

. "$(dirname "${BASH_SOURCE[0]}")/bench/lib.sh"

bench_run "$@"

#!/bin/bash
# Benchmark part "stats": what the metrics cost (issue 8): the same batches
# of 100 events posted to /sbatch with the default stats zone (per-type
# counters, histograms, per-topic counts) and with `evbus_stats_zone off;`,
# one instance after the other, twice each, interleaved, so that a drift of
# the machine's load falls on both.
# Rows: stats-on-batch, stats-off-batch (the better of each pair's runs).
# Run alone: scripts/bench/stats.sh; every part: scripts/bench.sh.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"


bench_part_stats() {
    local round inst
    for round in 1 2; do
        for inst in stats-on stats-off; do
            hr
            start_nginx "$inst-$round" nginx.conf.in "$BROKER" \
                "${BENCH_KAFKA_PROPERTIES:-}"
            TOPIC[$inst-$round/sbatch]=bench-stats-$inst-$round-$RUNID
            scenario_wrk "$inst-$round" "batch, $inst (round $round)" \
                /sbatch batch click "${TOPIC[$inst-$round/sbatch]}"
            check_instance /sbatch
        done
    done
    for inst in stats-on stats-off; do
        R_EPS[$inst-batch]=$(awk -v a="${R_EPS[$inst-1]:-0}" \
            -v b="${R_EPS[$inst-2]:-0}" 'BEGIN { print (a > b) ? a : b }')
        R_LABEL[$inst-batch]="batch, $inst (better of two rounds)"
    done
}

[ "${BASH_SOURCE[0]}" != "$0" ] || bench_run stats

#!/bin/bash
# Benchmark part "gzip": what inflating costs.  The same BENCH_FILES_N
# batches of BENCH_BATCH click events (BENCH_EVENT_SIZE bytes, padded with
# pseudo-random alphanumerics, no event_id) are posted uncompressed
# (/plainfiles) and with Content-Encoding: gzip (/gzip), on one instance
# ("gzip").  Rows: plain-batch, gzip-batch; the ratio is events/s.
# Run alone: scripts/bench/gzip.sh; every part: scripts/bench.sh.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_FILES_N=${BENCH_FILES_N:-64}

make_batch_files() {
    local dir=$1
    mkdir -p "$dir"
    perl -MIO::Compress::Gzip=gzip -e '
        my ($dir, $files, $per, $size) = @ARGV;
        srand(12345);
        my @c = ("a" .. "z", "A" .. "Z", 0 .. 9);
        my $pool = join "", map { $c[int rand 62] } 1 .. 8192;
        my $k = 0;
        for my $f (1 .. $files) {
            my @ev;
            for (1 .. $per) {
                $k++;
                my $head = sprintf(q({"event_type":"click","user_id":)
                    . q("user-%05d","page":"/products/%03d",)
                    . q("referrer":"https://shop.example.com/",)
                    . q("props":{"pad":"), $k % 100000, $k % 1000);
                my $pad = $size - length($head) - 3;
                $pad = 0 if $pad < 0;
                push @ev, $head . substr($pool, ($k * 131) % (8192 - $pad),
                    $pad) . q("}});
            }
            my $body = "[" . join(",", @ev) . "]";
            open my $fh, ">", "$dir/$f.json" or die $!;
            print $fh $body;
            close $fh;
            gzip(\$body => "$dir/$f.json.gz") or die "gzip failed";
        }' "$dir" "$BENCH_FILES_N" "$BENCH_BATCH" "$BENCH_EVENT_SIZE" \
        || die "cannot write the batch files"
    say "$BENCH_FILES_N batches of $BENCH_BATCH events: $(cat "$dir"/*.json \
        | wc -c) bytes, gzip'd $(cat "$dir"/*.json.gz | wc -c) bytes"
}


bench_part_gzip() {
    hr
    export BENCH_FILES_DIR=$PREFIX/gzip-files BENCH_FILES_N
    make_batch_files "$BENCH_FILES_DIR"
    start_nginx gzip nginx.conf.in "$BROKER" "${BENCH_KAFKA_PROPERTIES:-}"
    TOPIC[gzip/plainfiles]=bench-plainfiles-$RUNID
    TOPIC[gzip/gzip]=bench-gzip-$RUNID
    scenario_wrk plain-batch "batches of the files, uncompressed" \
        /plainfiles batch plain "${TOPIC[gzip/plainfiles]}"
    scenario_wrk gzip-batch "the same batches, gzip" /gzip batch gzip \
        "${TOPIC[gzip/gzip]}"
    check_instance /plainfiles /gzip
}

[ "${BASH_SOURCE[0]}" != "$0" ] || bench_run gzip

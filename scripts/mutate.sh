#!/bin/bash
# Mutation testing of the test suite: plants, one at a time, small bugs
# the README forbids, rebuilds, runs the test files related to each, and
# counts how many the suite catches ("killed").  See docs/mutation.md.
#
#   scripts/mutate.sh                 every mutation
#   scripts/mutate.sh NAME...         some of them
#   scripts/mutate.sh -c              only check that each mutation's text
#                                     is found exactly once (after a
#                                     refactoring moved code between files)
#   scripts/mutate.sh -l              list them
#
# The repository is never modified: the working tree (with uncommitted
# changes) is copied to a temporary directory, where each mutation is
# applied to a pristine copy of its file, the module (or the unit tests)
# built and the related tests run with scripts/test.sh (real nginx, the
# Kafka broker at 127.0.0.1:9092) or scripts/unit.sh.
#
# A mutation is a record of lines, records separated by blank lines:
#   name: a-short-name
#   file: path of the source file
#   from: the exact text to replace, found exactly once in the file
#   to:   its replacement
#   test: test files (t/NN-x.t ...), or "unit"
# In from/to, {NL} stands for a newline (to anchor a line that is not
# unique by itself); everything after "from: " / "to:   " is verbatim.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

mutations() {
    cat <<'EOF'
name: dead-letter-kind-depth-as-too-large
file: src/ngx_evbus_tokens.c
from: ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_CONTENT, "depth", "",
to:   ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_CONTENT, "too_large", "",
test: t/24-dead-letter-kinds.t

name: max-depth-off-by-one
file: src/ngx_evbus_tokens.c
from: if (p->cur.active && p->nest - p->level > p->limits.max_depth) {
to:   if (p->cur.active && p->nest - p->level >= p->limits.max_depth) {
test: t/24-dead-letter-kinds.t

name: retry-after-upper-clamp-600
file: src/ngx_evbus_kafka.c
from: if (secs >= 60) {{NL}        return 60;
to:   if (secs >= 60) {{NL}        return 600;
test: t/10-unavailable.t

name: retry-after-lower-clamp-0
file: src/ngx_evbus_kafka.c
from: if (secs <= 1) {{NL}        return 1;
to:   if (secs <= 1) {{NL}        return 0;
test: t/10-unavailable.t

name: retry-after-ignores-unavailable-after
file: src/ngx_evbus_kafka.c
from: secs = queued ? (double) ngx_evbus_kafka.conf->unavailable_after
to:   secs = queued ? 5.0 + 0 * (double) ngx_evbus_kafka.conf->unavailable_after
test: t/10-unavailable.t

name: spool-replay-drops-half-replayed-file
file: src/ngx_evbus_spool.c
from:         if (f->offset < f->size) {{NL}            return 1;
to:           if (0) {{NL}            return 1;
test: t/34-fault-spool-restart.t

name: spool-replayed-file-kept
file: src/ngx_evbus_spool.c
from:         ngx_evbus_spool.total -= f->size;{NL}        ngx_evbus_spool_close(f, 1);
to:           ngx_evbus_spool.total -= f->size;{NL}        ngx_evbus_spool_close(f, 0);
test: t/25-spool-claim.t

name: spool-newest-file-first
file: src/ngx_evbus_spool.c
from: return (a->mtime > b->mtime) - (a->mtime < b->mtime);
to:   return (a->mtime < b->mtime) - (a->mtime > b->mtime);
test: t/25-spool-claim.t

name: spool-claims-locked-files
file: src/ngx_evbus_spool.c
from: if (flock(fd, LOCK_EX|LOCK_NB) == -1) {
to:   if (flock(fd, LOCK_EX|LOCK_NB) == -1 && 0) {
test: t/25-spool-claim.t

name: spool-replay-drops-tracestate
file: src/ngx_evbus_spool.c
from:             ngx_evbus_spool_field(msg.tracestate, NGX_EVBUS_SPOOL_TRACESTATE);
to:               ngx_str_null(&msg.tracestate);
test: t/45-spool-trace.t

name: spool-replay-drops-dead-letter
file: src/ngx_evbus_spool.c
from:             ngx_evbus_spool_field(msg.dead_letter,{NL}                                  NGX_EVBUS_SPOOL_DEAD_LETTER);
to:               ngx_str_null(&msg.dead_letter);
test: t/45-spool-trace.t

name: spool-record-v2-unread
file: src/ngx_evbus_spool_record.c
from:     } else if (magic == NGX_EVBUS_SPOOL_RECORD_MAGIC2) {
to:       } else if (magic == NGX_EVBUS_SPOOL_RECORD_MAGIC2 + 0x100) {
test: unit

name: lost-not-counted
file: src/ngx_evbus_outbox.c
from:         outcome = "lost";
to:           ngx_evbus_stats_add(NGX_EVBUS_STAT_LOST, -1); outcome = "lost";
test: t/10-unavailable.t

name: loss-at-exit-not-logged
file: src/ngx_evbus_outbox.c
from: if (ngx_evbus_outbox.lost_at_exit) {
to:   if (ngx_evbus_outbox.lost_at_exit && 0) {
test: t/10-unavailable.t

name: ack-timeouts-not-counted
file: src/ngx_evbus_handler.c
from: ngx_evbus_stats_add(NGX_EVBUS_STAT_ACK_TIMEOUTS, 1);
to:   (void) 0;
test: t/26-contract.t

name: dead-letters-not-counted
file: src/ngx_evbus_dead_letter.c
from: ngx_evbus_stats_add(NGX_EVBUS_STAT_DEAD_LETTERS, 1);
to:   (void) 0;
test: t/26-contract.t

name: dead-letter-without-event-type
file: src/ngx_evbus_dead_letter.c
from:     if (ev->event_type) {{NL}        *p++ = ',';
to:       if (ev->event_type && 0) {{NL}        *p++ = ',';
test: t/21-dead-letters.t t/24-dead-letter-kinds.t

name: user-agent-empty-not-null
file: src/ngx_evbus_handler.c
from: p = ngx_cpymem(p, "null", sizeof("null") - 1);
to:   p = ngx_cpymem(p, "\"\"", 2);
test: t/26-contract.t

name: client-request-id-kept
file: src/ngx_evbus_tokens.c
from:                || memcmp(s, "request_id", 10) == 0;
to:                || memcmp(s, "request_iX", 10) == 0;
test: t/03-enrich.t

name: max-events-off-by-one
file: src/ngx_evbus_tokens.c
from: if (p->nevents >= p->limits.max_events) {
to:   if (p->nevents > p->limits.max_events) {
test: t/07-http.t

name: partition-hash-skips-first-byte
file: src/ngx_evbus_partition.c
from: return XXH3_64bits(buf, type_len + 1 + id_len);
to:   return XXH3_64bits(buf + 1, type_len + id_len);
test: t/04-partition.t

name: no-event-type-header
file: src/ngx_evbus_kafka.c
from:     if (m->event_type.len) {{NL}        ngx_evbus_kafka_hdr(hdr, n, "event_type"
to:       if (m->event_type.len && 0) {{NL}        ngx_evbus_kafka_hdr(hdr, n, "event_type"
test: t/05-headers-topic.t

name: no-key
file: src/ngx_evbus_kafka.c
from: RD_KAFKA_V_KEY(m->key.data, m->key.len),
to:   RD_KAFKA_V_KEY(m->key.data, 0),
test: t/01-ingest.t

name: ack-kafka-answers-202
file: src/ngx_evbus_handler.c
from: status = (ack == NGX_EVBUS_ACK_KAFKA) ? NGX_HTTP_OK
to:   status = (ack == NGX_EVBUS_ACK_KAFKA && 0) ? NGX_HTTP_OK
test: t/01-ingest.t

name: max-events-message
file: src/ngx_evbus_handler.c
from: (void) ngx_sprintf(error, "more than %uz events in one request"
to:   (void) ngx_sprintf(error, "more than %uz event in one request"
test: t/07-http.t

name: metadata-member-misnamed
file: src/ngx_evbus_build.c
from: b = (unsigned char *) memcpy(b, ",\"metadata\":", 12) + 12;
to:   b = (unsigned char *) memcpy(b, ",\"metadatA\":", 12) + 12;
test: unit

name: statistics-every-second-again
file: src/ngx_evbus_kafka.c
from: { "statistics.interval.ms", "10000" },
to:   { "statistics.interval.ms", "1000" },
test: t/17-producer-defaults.t

name: escape-fast-path-lets-quotes-through
file: src/ngx_evbus_json.c
from:                   | ((q - 0x0101010101010101ULL) & ~q)
to:                   | (q & 0)
test: unit

name: metadata-value-not-cut
file: src/ngx_evbus_metadata.c
from:                                       NGX_HTTP_EVBUS_METADATA_VALUE_MAX);
to:                                       100000);
test: t/64-stamp.t

name: metadata-members-not-counted-by-nginx-t
file: ngx_evbus_module.c
from:                    ngx_http_evbus_metadata_max(loc[i]->metadata)
to:                    0 * ngx_http_evbus_metadata_max(loc[i]->metadata)
test: t/08-config.t

name: queue-footprint-without-the-value
file: src/ngx_evbus_footprint.c
from:     return ngx_evbus_footprint_chunk(NGX_EVBUS_FOOTPRINT_MSG + value + key)
to:       return ngx_evbus_footprint_chunk(NGX_EVBUS_FOOTPRINT_MSG + key)
test: t/44-queue-memory.t
EOF
}

# name file from to test, tab-separated, one mutation a line
records() {
    mutations | awk '
        function flush() {
            if (name != "") print name "\t" file "\t" from "\t" to "\t" test
            name = file = from = to = test = ""
        }
        /^$/ { flush(); next }
        /^name: / { name = substr($0, 7); next }
        /^file: / { file = substr($0, 7); next }
        /^from: / { from = substr($0, 7); next }
        /^to:   / { to = substr($0, 7); next }
        /^test: / { test = substr($0, 7); next }
        { print "mutate: bad line: " $0 > "/dev/stderr"; exit 1 }
        END { flush() }'
}

# applies one mutation to file $1 (FROM, TO in the environment); exit 3:
# the text is not found exactly once
apply() {
    FILE=$1 perl -e '
        my ($from, $to) = @ENV{qw(FROM TO)};
        s/\{NL\}/\n/g for $from, $to;
        open my $fh, "<", $ENV{FILE} or die "$ENV{FILE}: $!";
        local $/;
        my $text = <$fh>;
        close $fh;
        my $n = () = $text =~ /\Q$from\E/g;
        exit 3 if $n != 1;
        exit 0 if $ENV{CHECK_ONLY};
        $text =~ s/\Q$from\E/$to/;
        open $fh, ">", $ENV{FILE} or die;
        print $fh $text;
        close $fh;'
}

mode=run
case "${1:-}" in
    -c) mode=check; shift ;;
    -l) mode=list; shift ;;
esac

want=" $* "

if [ "$mode" = list ]; then
    records | cut -f1,2,5
    exit 0
fi

if [ "$mode" = check ]; then
    rc=0
    while IFS=$'\t' read -r name file from to test; do
        [ "$want" = "  " ] || [[ "$want" == *" $name "* ]] || continue
        if [ -f "$REPO/$file" ] \
           && FROM=$from TO=$to CHECK_ONLY=1 apply "$REPO/$file"; then
            echo "ok    $name"
        else
            echo "STALE $name: not found exactly once in $file"
            rc=1
        fi
    done < <(records)
    exit $rc
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/evbus-mutate-XXXXXX")
trap 'rm -rf "$work"' EXIT

# the working tree as it is, without build outputs
(cd "$REPO" && git ls-files -co --exclude-standard -z \
    | tar --null -T - -cf -) | tar -C "$work" -xf -
[ -e "$REPO/.cache" ] && ln -s "$REPO/.cache" "$work/.cache"

log=$work/log
results=()
killed=0
survived=0
stale=0
t0=$SECONDS

while IFS=$'\t' read -r name file from to test; do
    [ "$want" = "  " ] || [[ "$want" == *" $name "* ]] || continue

    cp "$REPO/$file" "$work/$file" 2>/dev/null || true

    if ! FROM=$from TO=$to apply "$work/$file"; then
        results+=("stale     $name (not found exactly once in $file)")
        stale=$((stale + 1))
        continue
    fi

    if [ "$test" = unit ]; then
        if (cd "$work" && scripts/unit.sh build/unit) >"$log" 2>&1; then
            outcome=survived
        else
            grep -q '^not ok' "$log" && outcome=killed || outcome=no-build
        fi

    elif ! make -C "$work" >"$log" 2>&1; then
        outcome=no-build

    # shellcheck disable=SC2086
    elif (cd "$work" && scripts/test.sh $test) >"$log" 2>&1; then
        outcome=survived

    else
        outcome=killed
    fi

    case $outcome in
        killed) killed=$((killed + 1)) ;;
        survived) survived=$((survived + 1)) ;;
        *) stale=$((stale + 1)) ;;
    esac

    line=$(printf '%-9s %s (%s)' "$outcome" "$name" "$test")
    results+=("$line")
    echo "$line"
    if [ "$outcome" = no-build ]; then
        tail -5 "$log" | sed 's/^/    /'
    fi

    cp "$REPO/$file" "$work/$file"
done < <(records)

echo
printf '%s\n' "${results[@]}"
total=$((killed + survived))
echo "mutate: $killed of $total killed, $survived survived, $stale stale or" \
     "not built, $((SECONDS - t0)) s"

[ "$survived" = 0 ] && [ "$stale" = 0 ]

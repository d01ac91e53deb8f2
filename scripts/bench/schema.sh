#!/bin/bash
# Benchmark part "schema": the cost of evbus_schemas, the same valid
# purchase events posted without a schema (/noschema) and validated
# against conf-examples/schemas (/schema), on one instance ("schema").
# Rows: noschema-MODE, schema-MODE (BENCH_SCHEMA_MODE, batch by default);
# skipped when the module has no evbus_schemas (BENCH_SCHEMA, lib.sh).
# Run alone: scripts/bench/schema.sh; every part: scripts/bench.sh.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The schema location must really validate: a purchase whose currency
# breaks the schema's pattern is rejected there, accepted by /noschema.
check_schema_active() {
    local bad code body
    bad='{"event_type":"purchase","event_id":"'$RUNID'-schema-probe","event_version":1,"user_id":"u1","order_id":"ord_abcdef12","amount":1.5,"currency":"eur","items":[{"sku":"s","quantity":1,"price":1.5}]}'
    body=$(curl -s -w ' HTTP%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "$bad" "http://127.0.0.1:$NGINX_PORT/schema")
    code=${body##* HTTP}
    body=$(tr -d '\n' <<<"${body% HTTP*}")
    if [ "$code" = 400 ] && [[ "$body" == *'"rejected":1'* ]]; then
        say "/schema rejects an invalid purchase (currency \"eur\"): $code $body" \
            | cut -c1-300
    else
        anomaly "/schema did not reject an invalid purchase: $code $body"
    fi
}


bench_part_schema() {
    local sm=$BENCH_SCHEMA_MODE
    # SCHEMA HOOK: bench/nginx.conf.in's #if:SCHEMA# lines
    if [ "$SCHEMAS" != 1 ]; then
        hr
        say "schema rows skipped: $SCHEMA_WHY"
        return 0
    fi
    hr
    start_nginx schema nginx.conf.in "$BROKER" "${BENCH_KAFKA_PROPERTIES:-}"
    TOPIC[schema/noschema]=bench-noschema-$RUNID
    TOPIC[schema/schema]=bench-schema-$RUNID
    check_schema_active
    scenario_wrk "noschema-$sm" "purchase, no schema, $sm" /noschema "$sm" \
        purchase "${TOPIC[schema/noschema]}"
    scenario_wrk "schema-$sm" "purchase, evbus_schemas, $sm" /schema "$sm" \
        purchase "${TOPIC[schema/schema]}"
    check_instance /noschema /schema
}

[ "${BASH_SOURCE[0]}" != "$0" ] || bench_run schema

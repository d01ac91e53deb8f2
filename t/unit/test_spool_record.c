
/*
 * Copyright (C) ngx_evbus authors
 */


/*
 * Spool records alone: a round trip of every field, absent and
 * largest-allowed fields, what cannot be encoded, and the decoder facing
 * torn records (every prefix), flipped bits, bad magics and lengths, and
 * length fields that disagree with the body.  Records of the older format
 * EVB2 (built here byte by byte, as the previous version wrote them) are
 * still decoded, without trace headers and dead-letter topic.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_evbus_spool_record.h"

#include "support.h"


static void
set(ngx_evbus_spool_record_t *rec, unsigned i, const char *s)
{
    rec->field[i].data = (const unsigned char *) s;
    rec->field[i].len = s ? strlen(s) : 0;
}


static void
sample(ngx_evbus_spool_record_t *rec)
{
    memset(rec, 0, sizeof(ngx_evbus_spool_record_t));

    rec->timestamp = 1767225600123LL;
    set(rec, NGX_EVBUS_SPOOL_TOPIC, "events.purchase");
    set(rec, NGX_EVBUS_SPOOL_KEY, "0193f6a2-7c1e-7a3b-9d4e-5f6a7b8c9d0e");
    set(rec, NGX_EVBUS_SPOOL_VALUE, "{\"event_type\":\"purchase\",\"n\":1}");
    set(rec, NGX_EVBUS_SPOOL_EVENT_TYPE, "purchase");
    set(rec, NGX_EVBUS_SPOOL_EVENT_VERSION, "2");
    set(rec, NGX_EVBUS_SPOOL_SOURCE_SERVICE, "shop");
    set(rec, NGX_EVBUS_SPOOL_INGEST_TIMESTAMP, "2026-01-01T00:00:00.123Z");
    set(rec, NGX_EVBUS_SPOOL_TRACEPARENT,
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    set(rec, NGX_EVBUS_SPOOL_TRACESTATE, "rojo=00f067aa0ba902b7");
    set(rec, NGX_EVBUS_SPOOL_DEAD_LETTER, "events.dead");
}


/*
 * An EVB2 record as the previous version wrote it: the first 8 fields, a
 * 2-byte length each but the value's 4; the others must be empty.
 */

static unsigned char *
encode_v2(const ngx_evbus_spool_record_t *rec, size_t *size)
{
    size_t          len;
    uint16_t        l16;
    uint32_t        l32;
    unsigned        i;
    unsigned char  *buf, *p;

    len = NGX_EVBUS_SPOOL_RECORD_FIXED2;

    for (i = 0; i < NGX_EVBUS_SPOOL_NFIELDS2; i++) {
        len += rec->field[i].len;
    }

    *size = NGX_EVBUS_SPOOL_RECORD_HDR + len;

    buf = malloc(*size);
    if (buf == NULL) {
        abort();
    }

    p = buf + NGX_EVBUS_SPOOL_RECORD_HDR;
    memcpy(p, &rec->timestamp, 8);
    p += 8;

    for (i = 0; i < NGX_EVBUS_SPOOL_NFIELDS2; i++) {
        if (i == NGX_EVBUS_SPOOL_VALUE) {
            l32 = (uint32_t) rec->field[i].len;
            memcpy(p, &l32, 4);
            p += 4;

        } else {
            l16 = (uint16_t) rec->field[i].len;
            memcpy(p, &l16, 2);
            p += 2;
        }
    }

    for (i = 0; i < NGX_EVBUS_SPOOL_NFIELDS2; i++) {
        if (rec->field[i].len) {
            memcpy(p, rec->field[i].data, rec->field[i].len);
            p += rec->field[i].len;
        }
    }

    memcpy(buf, "EVB2", 4);
    l32 = (uint32_t) len;
    memcpy(buf + 4, &l32, 4);
    l32 = ngx_evbus_spool_record_crc32(buf + NGX_EVBUS_SPOOL_RECORD_HDR, len);
    memcpy(buf + 8, &l32, 4);

    return buf;
}



static int
same(const ngx_evbus_spool_record_t *a, const ngx_evbus_spool_record_t *b)
{
    unsigned  i;

    if (a->timestamp != b->timestamp) {
        return 0;
    }

    for (i = 0; i < NGX_EVBUS_SPOOL_NFIELDS; i++) {
        if (a->field[i].len != b->field[i].len
            || (a->field[i].len
                && memcmp(a->field[i].data, b->field[i].data,
                          a->field[i].len) != 0)
            || (a->field[i].len == 0 && b->field[i].data != NULL))
        {
            return 0;
        }
    }

    return 1;
}


static unsigned char *
encode(const ngx_evbus_spool_record_t *rec, size_t *size)
{
    unsigned char  *buf;

    *size = ngx_evbus_spool_record_size(rec);
    if (*size == 0) {
        return NULL;
    }

    buf = malloc(*size);
    if (buf == NULL) {
        abort();
    }

    ngx_evbus_spool_record_encode(buf, rec);

    return buf;
}


static void
test_crc(void)
{
    /* the check value of CRC-32/ISO-HDLC, as ngx_crc32_long() gives it */

    ok(ngx_evbus_spool_record_crc32((const unsigned char *) "123456789", 9)
       == 0xcbf43926, "crc32 check value");
    ok(ngx_evbus_spool_record_crc32((const unsigned char *) "", 0) == 0,
       "crc32 of nothing");
}


static void
test_round_trip(void)
{
    int                        rc;
    size_t                     size, used, n;
    uint16_t                   l16;
    uint32_t                   l32;
    unsigned char             *buf, *two;
    ngx_evbus_spool_record_t   rec, out;

    sample(&rec);
    buf = encode(&rec, &size);

    ok(buf != NULL && size == NGX_EVBUS_SPOOL_RECORD_HDR
                              + NGX_EVBUS_SPOOL_RECORD_FIXED + 15 + 36 + 31
                              + 8 + 1 + 4 + 24 + 55 + 21 + 11,
       "size of the sample record (%zu)", size);
    ok(NGX_EVBUS_SPOOL_RECORD_FIXED == 32
       && NGX_EVBUS_SPOOL_RECORD_FIXED2 == 26,
       "fixed parts: 32 bytes (EVB3), 26 (EVB2)");

    /* the layout replayed by newer processes must not drift */

    memcpy(&l32, buf, 4);
    ok(l32 == 0x33425645 && memcmp(buf, "EVB3", 4) == 0,
       "magic \"EVB3\"");
    memcpy(&l32, buf + 4, 4);
    ok(l32 == size - NGX_EVBUS_SPOOL_RECORD_HDR, "body length");
    memcpy(&l32, buf + 8, 4);
    ok(l32 == ngx_evbus_spool_record_crc32(buf + NGX_EVBUS_SPOOL_RECORD_HDR,
                                           size - 12),
       "checksum of the body");
    ok(memcmp(buf + NGX_EVBUS_SPOOL_RECORD_HDR + NGX_EVBUS_SPOOL_RECORD_FIXED,
              "events.purchase", 15) == 0,
       "strings after the fixed part, topic first");
    memcpy(&l16, buf + NGX_EVBUS_SPOOL_RECORD_HDR + 26, 2);
    ok(l16 == 55, "the traceparent's length after error_kind's");
    ok(memcmp(buf + size - 11 - 21 - 55, "00-4bf92f35", 11) == 0
       && memcmp(buf + size - 11 - 21, "rojo=", 5) == 0
       && memcmp(buf + size - 11, "events.dead", 11) == 0,
       "traceparent, tracestate and dead_letter last, in that order");

    rc = ngx_evbus_spool_record_decode(buf, size, &out, &used);
    ok(rc == NGX_EVBUS_SPOOL_RECORD_OK && used == size && same(&rec, &out),
       "round trip");
    ok(out.field[NGX_EVBUS_SPOOL_TRACEPARENT].len == 55
       && out.field[NGX_EVBUS_SPOOL_TRACESTATE].len == 21
       && out.field[NGX_EVBUS_SPOOL_DEAD_LETTER].len == 11,
       "round trip: trace headers and dead-letter topic");

    /* a dead letter: error_kind set, event_version absent */

    set(&rec, NGX_EVBUS_SPOOL_EVENT_VERSION, NULL);
    set(&rec, NGX_EVBUS_SPOOL_ERROR_KIND, "schema");
    rec.timestamp = -1;
    free(buf);
    buf = encode(&rec, &size);
    rc = ngx_evbus_spool_record_decode(buf, size, &out, &used);
    ok(rc == NGX_EVBUS_SPOOL_RECORD_OK && same(&rec, &out),
       "round trip of a dead letter, negative timestamp");

    /* two records back to back: the first is decoded, its size says where
     * the next begins */

    two = malloc(2 * size);
    memcpy(two, buf, size);
    memcpy(two + size, buf, size);
    n = 0;

    while (ngx_evbus_spool_record_decode(two + n, 2 * size - n, &out, &used)
           == NGX_EVBUS_SPOOL_RECORD_OK)
    {
        n += used;
    }

    ok(n == 2 * size, "two records in a row");
    free(two);
    free(buf);

    /* every field empty */

    memset(&rec, 0, sizeof(ngx_evbus_spool_record_t));
    buf = encode(&rec, &size);
    rc = ngx_evbus_spool_record_decode(buf, size, &out, &used);
    ok(size == NGX_EVBUS_SPOOL_RECORD_HDR + NGX_EVBUS_SPOOL_RECORD_FIXED
       && rc == NGX_EVBUS_SPOOL_RECORD_OK && same(&rec, &out),
       "round trip of an empty record");
    free(buf);
}


/* the sample record with one field set to len bytes of data */

static void
with_field(ngx_evbus_spool_record_t *rec, int field,
    const unsigned char *data, size_t len)
{
    sample(rec);
    rec->field[field].data = data;
    rec->field[field].len = len;
}


static int
round_trips(int field, const unsigned char *data, size_t len)
{
    int                        rc;
    size_t                     size, used;
    unsigned char             *buf;
    ngx_evbus_spool_record_t   rec, out;

    with_field(&rec, field, data, len);
    buf = encode(&rec, &size);
    rc = buf ? ngx_evbus_spool_record_decode(buf, size, &out, &used) : -1;

    /* out points into buf */

    rc = (rc == NGX_EVBUS_SPOOL_RECORD_OK && same(&rec, &out));
    free(buf);

    return rc;
}


static int
cannot_encode(int field, const unsigned char *data, size_t len)
{
    ngx_evbus_spool_record_t  rec;

    with_field(&rec, field, data, len);

    return ngx_evbus_spool_record_size(&rec) == 0;
}


static void
test_limits(void)
{
    unsigned char  *big;

    big = malloc(70000);
    memset(big, 'k', 70000);

    ok(round_trips(NGX_EVBUS_SPOOL_KEY, big, 0xffff),
       "a 65535-byte key round trips");
    ok(cannot_encode(NGX_EVBUS_SPOOL_KEY, big, 0x10000),
       "a 65536-byte key cannot be encoded");
    ok(round_trips(NGX_EVBUS_SPOOL_DEAD_LETTER, big, 0xffff),
       "a 65535-byte dead-letter topic round trips");
    ok(cannot_encode(NGX_EVBUS_SPOOL_DEAD_LETTER, big, 0x10000),
       "a 65536-byte dead-letter topic cannot be encoded");
    ok(cannot_encode(NGX_EVBUS_SPOOL_TRACESTATE, big, 0x10000),
       "a 65536-byte tracestate cannot be encoded");
    ok(round_trips(NGX_EVBUS_SPOOL_VALUE, big, 70000),
       "a value over 64 KiB round trips");
    ok(cannot_encode(NGX_EVBUS_SPOOL_VALUE, big, NGX_EVBUS_SPOOL_RECORD_MAX),
       "a record over the maximum cannot be encoded");

    free(big);
}


static void
test_torn(void)
{
    int                        rc;
    size_t                     size, used, n, bad;
    unsigned char             *buf;
    ngx_evbus_spool_record_t   rec, out;

    sample(&rec);
    buf = encode(&rec, &size);

    bad = 0;

    for (n = 0; n < size; n++) {
        unsigned char  *copy;

        /* a copy of exactly n bytes, so that ASan sees any overread */

        copy = malloc(n ? n : 1);
        memcpy(copy, buf, n);

        rc = ngx_evbus_spool_record_decode(copy, n, &out, &used);

        if (rc != NGX_EVBUS_SPOOL_RECORD_SHORT
            || used != (n < NGX_EVBUS_SPOOL_RECORD_HDR ? 0 : size))
        {
            bad++;
        }

        free(copy);
    }

    ok(bad == 0, "every torn prefix is short, with the record's size once"
       " its header is whole");

    free(buf);
}


static void
test_corrupt(void)
{
    int                        rc;
    size_t                     size, used, i, bad;
    uint32_t                   l32;
    uint16_t                   l16;
    unsigned char             *buf, *copy;
    ngx_evbus_spool_record_t   rec, out;

    sample(&rec);
    buf = encode(&rec, &size);
    copy = malloc(size);

    /* any single flipped bit is found: in the header by the magic, the
     * length or the checksum, in the body by the checksum */

    bad = 0;

    for (i = 0; i < size * 8; i++) {
        memcpy(copy, buf, size);
        copy[i / 8] ^= (unsigned char) (1 << (i % 8));

        rc = ngx_evbus_spool_record_decode(copy, size, &out, &used);

        /* a longer length field makes the record short, not corrupt */

        if (rc == NGX_EVBUS_SPOOL_RECORD_OK
            || (rc == NGX_EVBUS_SPOOL_RECORD_SHORT
                && !(i / 8 >= 4 && i / 8 < 8)))
        {
            bad++;
        }
    }

    ok(bad == 0, "every flipped bit is corruption (or a short record when"
       " it lengthens the record)");

    memcpy(copy, buf, size);
    l32 = 0x31425645;
    memcpy(copy, &l32, 4);
    rc = ngx_evbus_spool_record_decode(copy, size, &out, &used);
    ok(rc == NGX_EVBUS_SPOOL_RECORD_CORRUPT, "an older magic is corrupt");

    memcpy(copy, buf, size);
    l32 = NGX_EVBUS_SPOOL_RECORD_FIXED - 1;
    memcpy(copy + 4, &l32, 4);
    rc = ngx_evbus_spool_record_decode(copy, size, &out, &used);
    ok(rc == NGX_EVBUS_SPOOL_RECORD_CORRUPT, "a body under the fixed part");

    memcpy(copy, buf, size);
    l32 = NGX_EVBUS_SPOOL_RECORD_MAX + 1;
    memcpy(copy + 4, &l32, 4);
    rc = ngx_evbus_spool_record_decode(copy, size, &out, &used);
    ok(rc == NGX_EVBUS_SPOOL_RECORD_CORRUPT && used == 0,
       "a body over the maximum is corrupt, not a record to wait for");

    /* field lengths that disagree with the body, with a valid checksum */

    memcpy(copy, buf, size);
    memcpy(&l16, copy + NGX_EVBUS_SPOOL_RECORD_HDR + 8, 2);
    l16++;
    memcpy(copy + NGX_EVBUS_SPOOL_RECORD_HDR + 8, &l16, 2);
    l32 = ngx_evbus_spool_record_crc32(copy + NGX_EVBUS_SPOOL_RECORD_HDR,
                                       size - NGX_EVBUS_SPOOL_RECORD_HDR);
    memcpy(copy + 8, &l32, 4);
    rc = ngx_evbus_spool_record_decode(copy, size, &out, &used);
    ok(rc == NGX_EVBUS_SPOOL_RECORD_CORRUPT,
       "field lengths that do not add up are corrupt");

    memcpy(copy, buf, size);
    l32 = 0xffffffff;
    memcpy(copy + NGX_EVBUS_SPOOL_RECORD_HDR + 12, &l32, 4);
    l32 = ngx_evbus_spool_record_crc32(copy + NGX_EVBUS_SPOOL_RECORD_HDR,
                                       size - NGX_EVBUS_SPOOL_RECORD_HDR);
    memcpy(copy + 8, &l32, 4);
    rc = ngx_evbus_spool_record_decode(copy, size, &out, &used);
    ok(rc == NGX_EVBUS_SPOOL_RECORD_CORRUPT,
       "a huge value length with a valid checksum is corrupt");

    free(copy);
    free(buf);
}


static void
test_v2(void)
{
    int                        rc;
    size_t                     size, used, n, bad, size3;
    unsigned                   i;
    uint32_t                   l32;
    unsigned char             *buf, *copy, *buf3, *two;
    ngx_evbus_spool_record_t   rec, out, out3;

    sample(&rec);

    for (i = NGX_EVBUS_SPOOL_NFIELDS2; i < NGX_EVBUS_SPOOL_NFIELDS; i++) {
        set(&rec, i, NULL);
    }

    buf = encode_v2(&rec, &size);

    ok(size == NGX_EVBUS_SPOOL_RECORD_HDR + 26 + 15 + 36 + 31 + 8 + 1 + 4
               + 24,
       "size of an EVB2 record (%zu)", size);

    /* stale pointers in "out" must be cleared by the decoder */

    memset(&out, 0xa5, sizeof(ngx_evbus_spool_record_t));

    rc = ngx_evbus_spool_record_decode(buf, size, &out, &used);
    ok(rc == NGX_EVBUS_SPOOL_RECORD_OK && used == size && same(&rec, &out),
       "an EVB2 record is decoded, trace headers and dead-letter topic"
       " empty");

    /* an EVB2 record encodes back as EVB3, 3 lengths (6 bytes) longer */

    buf3 = encode(&out, &size3);
    ok(buf3 != NULL && size3 == size + 6 && memcmp(buf3, "EVB3", 4) == 0,
       "re-encoded as EVB3, 6 bytes longer");
    rc = buf3 ? ngx_evbus_spool_record_decode(buf3, size3, &out3, &used) : -1;
    ok(rc == NGX_EVBUS_SPOOL_RECORD_OK && same(&rec, &out3),
       "and decoded the same");

    /* a file written across the upgrade: EVB2 records, then EVB3 ones */

    two = malloc(size + size3);
    memcpy(two, buf, size);
    memcpy(two + size, buf3, size3);
    n = 0;

    while (ngx_evbus_spool_record_decode(two + n, size + size3 - n, &out,
                                         &used)
           == NGX_EVBUS_SPOOL_RECORD_OK)
    {
        n += used;
    }

    ok(n == size + size3, "an EVB2 record then an EVB3 one in a row");
    free(two);

    /* torn EVB2 records are short, as EVB3 ones */

    bad = 0;

    for (n = 0; n < size; n++) {
        copy = malloc(n ? n : 1);
        memcpy(copy, buf, n);

        rc = ngx_evbus_spool_record_decode(copy, n, &out, &used);

        if (rc != NGX_EVBUS_SPOOL_RECORD_SHORT
            || used != (n < NGX_EVBUS_SPOOL_RECORD_HDR ? 0 : size))
        {
            bad++;
        }

        free(copy);
    }

    ok(bad == 0, "every torn prefix of an EVB2 record is short");

    /* each magic with the other's body (the checksum covers the body
     * only): lengths that do not add up */

    copy = malloc(size);
    memcpy(copy, buf, size);
    memcpy(copy, "EVB3", 4);
    rc = ngx_evbus_spool_record_decode(copy, size, &out, &used);
    ok(rc == NGX_EVBUS_SPOOL_RECORD_CORRUPT,
       "an EVB2 body under the magic \"EVB3\" is corrupt");
    free(copy);

    copy = malloc(size3);
    memcpy(copy, buf3, size3);
    memcpy(copy, "EVB2", 4);
    rc = ngx_evbus_spool_record_decode(copy, size3, &out, &used);
    ok(rc == NGX_EVBUS_SPOOL_RECORD_CORRUPT,
       "an EVB3 body under the magic \"EVB2\" is corrupt");
    free(copy);

    /* an EVB2 body shorter than its fixed part */

    copy = malloc(size);
    memcpy(copy, buf, size);
    l32 = NGX_EVBUS_SPOOL_RECORD_FIXED2 - 1;
    memcpy(copy + 4, &l32, 4);
    rc = ngx_evbus_spool_record_decode(copy, size, &out, &used);
    ok(rc == NGX_EVBUS_SPOOL_RECORD_CORRUPT,
       "an EVB2 body under its fixed part");
    free(copy);

    /* the smallest EVB2 record: every field empty */

    memset(&rec, 0, sizeof(ngx_evbus_spool_record_t));
    free(buf);
    buf = encode_v2(&rec, &size);
    rc = ngx_evbus_spool_record_decode(buf, size, &out, &used);
    ok(size == NGX_EVBUS_SPOOL_RECORD_HDR + NGX_EVBUS_SPOOL_RECORD_FIXED2
       && rc == NGX_EVBUS_SPOOL_RECORD_OK && same(&rec, &out),
       "an empty EVB2 record");

    free(buf3);
    free(buf);
}


int
main(void)
{
    test_crc();
    test_round_trip();
    test_limits();
    test_torn();
    test_corrupt();
    test_v2();

    printf("1..%d\n", ntests);

    return nfailed ? 1 : 0;
}

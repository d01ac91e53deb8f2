
/*
 * Copyright (C) ngx_evbus authors
 */


#include <stdio.h>
#include <string.h>

#include "support.h"

#include "ngx_evbus_clock.h"


#define T(s)  ngx_evbus_clock_parse((const unsigned char *) (s),             \
                                    sizeof(s) - 1)

#define NONE  NGX_EVBUS_CLOCK_NONE


static void
test_parse(void)
{
    ok(T("1970-01-01T00:00:00Z") == 0, "the epoch");
    ok(T("2026-11-26T17:00:00.123Z") == 1795712400123LL, "with ms");
    ok(T("2026-11-26T17:00:00.1Z") == 1795712400100LL, "one digit: 100 ms");
    ok(T("2026-11-26T17:00:00.123456789Z") == 1795712400123LL,
       "nanoseconds: the first three digits count");
    ok(T("2026-11-26t17:00:00z") == 1795712400000LL, "lower case t and z");
    ok(T("2026-11-26 17:00:00Z") == 1795712400000LL, "a space for T");
    ok(T("2026-11-26T19:00:00+02:00") == 1795712400000LL, "offset +02:00");
    ok(T("2026-11-26T12:30:00-04:30") == 1795712400000LL, "offset -04:30");
    ok(T("2024-02-29T00:00:00Z") == 1709164800000LL, "a leap day");
    ok(T("2000-03-01T00:00:00Z") == 951868800000LL, "after 2000-02-29");
    ok(T("1969-12-31T23:59:59Z") == -1000, "before the epoch");

    ok(T("2023-02-29T00:00:00Z") == NONE, "not a leap year");
    ok(T("2026-13-01T00:00:00Z") == NONE, "month 13");
    ok(T("2026-11-26T24:00:00Z") == NONE, "hour 24");
    ok(T("2026-11-26T17:00:00") == NONE, "no zone");
    ok(T("2026-11-26T17:00:00.Z") == NONE, "a dot without digits");
    ok(T("2026-11-26T17:00:00+0200") == NONE, "offset without colon");
    ok(T("2026-11-26T17:00:00Zx") == NONE, "trailing bytes");
    ok(T("2026-11-26") == NONE, "a date alone");
    ok(T("1795712400000") == NONE, "a number");
    ok(T("") == NONE, "empty");
    ok(T("0000-01-01T00:00:00Z") == NONE, "year 0");
}


static void
test_correct(void)
{
    int64_t  ingest = 1795712400000LL;

    ok(ngx_evbus_clock_correct(ingest, ingest - 3600000 + 5000,
                               ingest - 3600000)
       == ingest - 5000,
       "a clock an hour behind: 5 s before ingest");
    ok(ngx_evbus_clock_correct(ingest, ingest + 86400000,
                               ingest + 86400000 - 1000)
       == ingest - 1000,
       "a clock a day ahead");
    ok(ngx_evbus_clock_correct(ingest, ingest, ingest + 60000) == ingest,
       "a timestamp after sent_at is clamped to ingest");
    ok(ngx_evbus_clock_correct(ingest, NONE, ingest) == NONE,
       "no sent_at: none");
    ok(ngx_evbus_clock_correct(ingest, ingest, NONE) == NONE,
       "no timestamp: none");
    ok(ngx_evbus_clock_correct(1000, 1000000000000LL, 0) == NONE,
       "before 1970: none");
}


static void
test_format(void)
{
    unsigned char  b[NGX_EVBUS_CLOCK_TS_LEN + 1], *e;

    e = ngx_evbus_clock_format(b, 1795712400123LL);
    *e = '\0';
    ok(e - b == NGX_EVBUS_CLOCK_TS_LEN
       && strcmp((char *) b, "2026-11-26T17:00:00.123Z") == 0,
       "format: %s", b);

    e = ngx_evbus_clock_format(b, 0);
    *e = '\0';
    ok(strcmp((char *) b, "1970-01-01T00:00:00.000Z") == 0, "format: %s", b);

    e = ngx_evbus_clock_format(b, 1709164799999LL);
    *e = '\0';
    ok(strcmp((char *) b, "2024-02-28T23:59:59.999Z") == 0, "format: %s", b);

    ok(ngx_evbus_clock_parse(b, NGX_EVBUS_CLOCK_TS_LEN) == 1709164799999LL,
       "format then parse: the same time");
}


int
main(void)
{
    test_parse();
    test_correct();
    test_format();

    printf("1..%d\n", ntests);

    return nfailed ? 1 : 0;
}


/*
 * Copyright (C) ngx_evbus authors
 */


#include "ngx_evbus_clock.h"


static int ngx_evbus_clock_num(const unsigned char *s, size_t n, int *v);
static int64_t ngx_evbus_clock_days(int64_t y, int m, int d);


int64_t
ngx_evbus_clock_parse(const unsigned char *s, size_t len)
{
    int      y, mo, d, h, mi, sec, ms, oh, om, sign, n, leap;
    size_t   i;
    int64_t  t;

    static const int  mdays[] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    /* YYYY-MM-DDTHH:MM:SS */

    if (len < 20
        || s[4] != '-' || s[7] != '-'
        || (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        || s[13] != ':' || s[16] != ':'
        || ngx_evbus_clock_num(s, 4, &y) != 0
        || ngx_evbus_clock_num(s + 5, 2, &mo) != 0
        || ngx_evbus_clock_num(s + 8, 2, &d) != 0
        || ngx_evbus_clock_num(s + 11, 2, &h) != 0
        || ngx_evbus_clock_num(s + 14, 2, &mi) != 0
        || ngx_evbus_clock_num(s + 17, 2, &sec) != 0)
    {
        return NGX_EVBUS_CLOCK_NONE;
    }

    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    if (y < 1 || mo < 1 || mo > 12 || d < 1
        || d > mdays[mo - 1] + (mo == 2 && leap)
        || h > 23 || mi > 59 || sec > 60)
    {
        return NGX_EVBUS_CLOCK_NONE;
    }

    i = 19;
    ms = 0;

    if (s[i] == '.') {
        i++;
        n = 0;

        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (n < 3) {
                ms = ms * 10 + (s[i] - '0');
            }

            n++;
            i++;
        }

        if (n == 0) {
            return NGX_EVBUS_CLOCK_NONE;
        }

        while (n < 3) {
            ms *= 10;
            n++;
        }
    }

    if (i == len) {
        return NGX_EVBUS_CLOCK_NONE;
    }

    oh = 0;
    om = 0;
    sign = 1;

    if (s[i] == 'Z' || s[i] == 'z') {
        i++;

    } else if ((s[i] == '+' || s[i] == '-') && len - i == 6
               && s[i + 3] == ':'
               && ngx_evbus_clock_num(s + i + 1, 2, &oh) == 0
               && ngx_evbus_clock_num(s + i + 4, 2, &om) == 0
               && oh <= 23 && om <= 59)
    {
        sign = (s[i] == '-') ? -1 : 1;
        i += 6;

    } else {
        return NGX_EVBUS_CLOCK_NONE;
    }

    if (i != len) {
        return NGX_EVBUS_CLOCK_NONE;
    }

    t = ngx_evbus_clock_days(y, mo, d) * 86400
        + h * 3600 + mi * 60 + sec
        - sign * (oh * 3600 + om * 60);

    return t * 1000 + ms;
}


int64_t
ngx_evbus_clock_correct(int64_t ingest, int64_t sent_at, int64_t timestamp)
{
    int64_t  c;

    if (sent_at == NGX_EVBUS_CLOCK_NONE || timestamp == NGX_EVBUS_CLOCK_NONE)
    {
        return NGX_EVBUS_CLOCK_NONE;
    }

    /* both are within years 1..9999: no overflow */

    c = ingest - (sent_at - timestamp);

    if (c > ingest) {
        c = ingest;
    }

    return (c < 0) ? NGX_EVBUS_CLOCK_NONE : c;
}


unsigned char *
ngx_evbus_clock_format(unsigned char *b, int64_t ms)
{
    int      i;
    int64_t  days, secs, z, era, doe, yoe, y, doy, mp, d, m;
    int      v[7], w[7] = { 4, 2, 2, 2, 2, 2, 3 };
    char     sep[7] = { '-', '-', 'T', ':', ':', '.', 'Z' };

    days = ms / 86400000;
    secs = (ms / 1000) % 86400;

    /* civil from days (Howard Hinnant's algorithm) */

    z = days + 719468;
    era = z / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += (m <= 2);

    v[0] = (int) (y % 10000);
    v[1] = (int) m;
    v[2] = (int) d;
    v[3] = (int) (secs / 3600);
    v[4] = (int) (secs / 60 % 60);
    v[5] = (int) (secs % 60);
    v[6] = (int) (ms % 1000);

    for (i = 0; i < 7; i++) {
        switch (w[i]) {
        case 4:
            *b++ = (unsigned char) ('0' + v[i] / 1000);
            *b++ = (unsigned char) ('0' + v[i] / 100 % 10);
            /* fall through */
        case 2:
            *b++ = (unsigned char) ('0' + v[i] / 10 % 10);
            *b++ = (unsigned char) ('0' + v[i] % 10);
            break;
        default:
            *b++ = (unsigned char) ('0' + v[i] / 100);
            *b++ = (unsigned char) ('0' + v[i] / 10 % 10);
            *b++ = (unsigned char) ('0' + v[i] % 10);
        }

        *b++ = (unsigned char) sep[i];
    }

    return b;
}


static int
ngx_evbus_clock_num(const unsigned char *s, size_t n, int *v)
{
    size_t  i;

    *v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        *v = *v * 10 + (s[i] - '0');
    }

    return 0;
}


/* days from 1970-01-01 (Howard Hinnant's days_from_civil) */

static int64_t
ngx_evbus_clock_days(int64_t y, int m, int d)
{
    int64_t  era, yoe, doy, doe;

    y -= (m <= 2);
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


/*
 * Copyright (C) ngx_evbus authors
 */


#include <string.h>
#include <arpa/inet.h>

#include "ngx_evbus_schema_int.h"


static int ngx_evbus_format_date_time(const unsigned char *s, size_t len);
static int ngx_evbus_format_date(const unsigned char *s, size_t len);
static int ngx_evbus_format_time(const unsigned char *s, size_t len);
static int ngx_evbus_format_uuid(const unsigned char *s, size_t len);
static int ngx_evbus_format_email(const unsigned char *s, size_t len);
static int ngx_evbus_format_ipv4(const unsigned char *s, size_t len);
static int ngx_evbus_format_ipv6(const unsigned char *s, size_t len);
static int ngx_evbus_format_hostname(const unsigned char *s, size_t len);
static int ngx_evbus_format_digits(const unsigned char *s, size_t n,
    int *value);


static const ngx_evbus_format_t  ngx_evbus_formats[] = {
    { "date-time", ngx_evbus_format_date_time },
    { "date", ngx_evbus_format_date },
    { "time", ngx_evbus_format_time },
    { "uuid", ngx_evbus_format_uuid },
    { "email", ngx_evbus_format_email },
    { "ipv4", ngx_evbus_format_ipv4 },
    { "ipv6", ngx_evbus_format_ipv6 },
    { "hostname", ngx_evbus_format_hostname },
    { NULL, NULL }
};


const ngx_evbus_format_t *
ngx_evbus_format_find(const char *name)
{
    const ngx_evbus_format_t  *f;

    for (f = ngx_evbus_formats; f->name; f++) {
        if (strcmp(name, f->name) == 0) {
            return f;
        }
    }

    return NULL;
}


/* RFC 3339 date-time: full-date "T" full-time */

static int
ngx_evbus_format_date_time(const unsigned char *s, size_t len)
{
    return len > 11 && (s[10] == 'T' || s[10] == 't')
           && ngx_evbus_format_date(s, 10)
           && ngx_evbus_format_time(s + 11, len - 11);
}


static int
ngx_evbus_format_digits(const unsigned char *s, size_t n, int *value)
{
    size_t  i;

    *value = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }

        *value = *value * 10 + (s[i] - '0');
    }

    return 1;
}


/* RFC 3339 full-date: YYYY-MM-DD, a real day */

static int
ngx_evbus_format_date(const unsigned char *s, size_t len)
{
    int         y, m, d, leap;
    static int  days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

    if (len != 10 || s[4] != '-' || s[7] != '-'
        || !ngx_evbus_format_digits(s, 4, &y)
        || !ngx_evbus_format_digits(s + 5, 2, &m)
        || !ngx_evbus_format_digits(s + 8, 2, &d))
    {
        return 0;
    }

    if (m < 1 || m > 12 || d < 1) {
        return 0;
    }

    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return d <= days[m - 1] + (m == 2 && leap);
}


/* RFC 3339 full-time: HH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */

static int
ngx_evbus_format_time(const unsigned char *s, size_t len)
{
    int     h, m, sec, oh, om;
    size_t  i;

    if (len < 9 || s[2] != ':' || s[5] != ':'
        || !ngx_evbus_format_digits(s, 2, &h)
        || !ngx_evbus_format_digits(s + 3, 2, &m)
        || !ngx_evbus_format_digits(s + 6, 2, &sec)
        || h > 23 || m > 59 || sec > 60)
    {
        return 0;
    }

    i = 8;

    if (s[i] == '.') {
        i++;

        if (i >= len || s[i] < '0' || s[i] > '9') {
            return 0;
        }

        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
    }

    if (i == len - 1 && (s[i] == 'Z' || s[i] == 'z')) {
        return 1;
    }

    if (len - i != 6 || (s[i] != '+' && s[i] != '-') || s[i + 3] != ':'
        || !ngx_evbus_format_digits(s + i + 1, 2, &oh)
        || !ngx_evbus_format_digits(s + i + 4, 2, &om))
    {
        return 0;
    }

    return oh <= 23 && om <= 59;
}


static int
ngx_evbus_format_uuid(const unsigned char *s, size_t len)
{
    size_t         i;
    unsigned char  c;

    if (len != 36) {
        return 0;
    }

    for (i = 0; i < 36; i++) {
        c = s[i];

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return 0;
            }

            continue;
        }

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
              || (c >= 'A' && c <= 'F')))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * addr-spec with a dot-atom local part (RFC 5322) and a host name or an
 * IPv4 literal as the domain; quoted local parts are not accepted
 */

static int
ngx_evbus_format_email(const unsigned char *s, size_t len)
{
    size_t                i, at;
    unsigned char         c;
    const unsigned char  *d;

    at = len;

    for (i = len; i > 0; i--) {
        if (s[i - 1] == '@') {
            at = i - 1;
            break;
        }
    }

    if (at == len || at == 0 || at > 64 || s[0] == '.' || s[at - 1] == '.') {
        return 0;
    }

    for (i = 0; i < at; i++) {
        c = s[i];

        if (c == '.') {
            if (s[i + 1] == '.') {
                return 0;
            }

            continue;
        }

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL)
            || c == '\0')
        {
            return 0;
        }
    }

    d = s + at + 1;
    len -= at + 1;

    if (len > 2 && d[0] == '[' && d[len - 1] == ']') {
        return ngx_evbus_format_ipv4(d + 1, len - 2);
    }

    return ngx_evbus_format_hostname(d, len);
}


static int
ngx_evbus_format_ipv4(const unsigned char *s, size_t len)
{
    int     part, n;
    size_t  i, digits;

    part = 0;
    n = 0;
    digits = 0;

    for (i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (digits == 0 || n > 255) {
                return 0;
            }

            part++;
            n = 0;
            digits = 0;
            continue;
        }

        if (s[i] < '0' || s[i] > '9' || (digits == 1 && n == 0)) {
            return 0;
        }

        n = n * 10 + (s[i] - '0');
        digits++;

        if (digits > 3) {
            return 0;
        }
    }

    return part == 4;
}


static int
ngx_evbus_format_ipv6(const unsigned char *s, size_t len)
{
    char           buf[64];
    unsigned char  addr[16];

    if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL) {
        return 0;
    }

    memcpy(buf, s, len);
    buf[len] = '\0';

    return inet_pton(AF_INET6, buf, addr) == 1;
}


static int
ngx_evbus_format_hostname(const unsigned char *s, size_t len)
{
    size_t         i, label;
    unsigned char  c;

    if (len == 0 || len > 253) {
        return 0;
    }

    label = 0;

    for (i = 0; i <= len; i++) {
        c = (i < len) ? s[i] : '.';

        if (c == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-') {
                return 0;
            }

            label = 0;
            continue;
        }

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-')
            || (label == 0 && c == '-'))
        {
            return 0;
        }

        label++;
    }

    return 1;
}

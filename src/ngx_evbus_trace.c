
/*
 * Copyright (C) ngx_evbus authors
 */


#include "ngx_evbus_trace.h"


#define NGX_EVBUS_TRACESTATE_MEMBERS  32


static int ngx_evbus_trace_hex(const unsigned char *p, size_t len);
static int ngx_evbus_trace_member(const unsigned char *p, size_t len);


static int
ngx_evbus_trace_hex(const unsigned char *p, size_t len)
{
    size_t  i;
    int     zero;

    zero = 1;

    for (i = 0; i < len; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return -1;
        }

        if (p[i] != '0') {
            zero = 0;
        }
    }

    return zero;
}


int
ngx_evbus_traceparent_valid(const unsigned char *p, size_t len)
{
    /* 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 */

    if (len < 55 || p[2] != '-' || p[35] != '-' || p[52] != '-') {
        return 0;
    }

    if (ngx_evbus_trace_hex(p, 2) < 0 || (p[0] == 'f' && p[1] == 'f')) {
        return 0;
    }

    if (ngx_evbus_trace_hex(p + 3, 32) != 0
        || ngx_evbus_trace_hex(p + 36, 16) != 0
        || ngx_evbus_trace_hex(p + 53, 2) < 0)
    {
        return 0;
    }

    if (p[0] == '0' && p[1] == '0') {
        return len == 55;
    }

    /* a later version may append fields after a dash */

    return len == 55 || p[55] == '-';
}


/* key=value: key [a-z0-9][a-z0-9_\-*\/]{0,255}, optionally tenant@system */

static int
ngx_evbus_trace_member(const unsigned char *p, size_t len)
{
    size_t               i, eq;
    unsigned char        c;

    for (eq = 0; eq < len && p[eq] != '='; eq++) { /* void */ }

    if (eq == 0 || eq == len || eq > 256 || len - eq - 1 > 256
        || len - eq - 1 == 0)
    {
        return 0;
    }

    if (!((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= '0' && p[0] <= '9'))) {
        return 0;
    }

    for (i = 1; i < eq; i++) {
        c = p[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
              || c == '-' || c == '*' || c == '/' || c == '@'))
        {
            return 0;
        }
    }

    for (i = eq + 1; i < len; i++) {
        c = p[i];

        if (c < 0x20 || c > 0x7e || c == ',' || c == '=') {
            return 0;
        }
    }

    /* no trailing space in a value */

    return p[len - 1] != ' ';
}


int
ngx_evbus_tracestate_valid(const unsigned char *p, size_t len)
{
    size_t                n;
    const unsigned char  *last, *start, *end;

    if (len == 0 || len > NGX_EVBUS_TRACESTATE_MAX) {
        return 0;
    }

    last = p + len;
    n = 0;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        start = p;

        while (p < last && *p != ',') {
            p++;
        }

        end = p;

        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }

        /* empty list members are allowed */

        if (end > start) {
            if (++n > NGX_EVBUS_TRACESTATE_MEMBERS
                || !ngx_evbus_trace_member(start, end - start))
            {
                return 0;
            }
        }

        if (p < last) {
            p++;
        }
    }

    return n > 0;
}

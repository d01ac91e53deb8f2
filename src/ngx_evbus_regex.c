
/*
 * Copyright (C) ngx_evbus authors
 */


#include <string.h>

#include "ngx_evbus_regex.h"


/*
 * The built-in matcher of simple anchored patterns: "^", then literal
 * ASCII characters, "\d" and classes of ASCII characters, each once or
 * with ?, *, +, {n}, {n,} or {n,m}, then "$".  Anything else is left to
 * the regular expression engine.  A pattern is accepted only when a
 * greedy scan without backtracking decides exactly what PCRE decides:
 * the class of an atom with a variable count shares no character with
 * the atoms that may follow it up to the next mandatory one.  "$"
 * matches only at the very end, as in ECMA-262 (PCRE2_DOLLAR_ENDONLY),
 * and no class holds a control byte or a byte above 0x7f: a subject that
 * matches is ASCII, hence valid UTF-8, so UTF mode changes nothing; one
 * that is not valid UTF-8 fails here as PCRE fails on it.
 */

#define NGX_EVBUS_REGEX_ATOMS      32
#define NGX_EVBUS_REGEX_COUNT_MAX  65535


static int ngx_evbus_regex_count(const unsigned char **pp,
    const unsigned char *end, size_t *count);
static void ngx_evbus_regex_set(ngx_evbus_regex_atom_t *a, unsigned lo,
    unsigned hi);
static int ngx_evbus_regex_char(const unsigned char **pp,
    const unsigned char *end, int in_class);
static int ngx_evbus_regex_class(const unsigned char **pp,
    const unsigned char *end, ngx_evbus_regex_atom_t *a);


static int
ngx_evbus_regex_count(const unsigned char **pp, const unsigned char *end,
    size_t *count)
{
    size_t                n;
    const unsigned char  *p;

    p = *pp;

    if (p == end || *p < '0' || *p > '9') {
        return -1;
    }

    for (n = 0; p < end && *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');

        if (n > NGX_EVBUS_REGEX_COUNT_MAX) {
            return -1;
        }
    }

    *pp = p;
    *count = n;

    return 0;
}


static void
ngx_evbus_regex_set(ngx_evbus_regex_atom_t *a, unsigned lo, unsigned hi)
{
    unsigned  c;

    for (c = lo; c <= hi; c++) {
        a->bits[c >> 6] |= (uint64_t) 1 << (c & 63);
    }
}


/* a literal character, plain or escaped punctuation; -1: none */

static int
ngx_evbus_regex_char(const unsigned char **pp, const unsigned char *end,
    int in_class)
{
    unsigned              c;
    const unsigned char  *p;

    p = *pp;
    c = *p;

    if (c == '\\') {
        if (p + 1 == end) {
            return -1;
        }

        c = p[1];

        if (c < 0x21 || c > 0x7e
            || (c >= '0' && c <= '9')
            || (c >= 'A' && c <= 'Z')
            || (c >= 'a' && c <= 'z'))
        {
            return -1;
        }

        *pp = p + 2;
        return (int) c;
    }

    if (c < 0x20 || c > 0x7e) {
        return -1;
    }

    if (in_class) {
        if (c == '[' || c == ']') {
            return -1;
        }

    } else if (strchr("^$.[]|()?*+{}", (int) c) != NULL) {
        return -1;
    }

    *pp = p + 1;
    return (int) c;
}


static int
ngx_evbus_regex_class(const unsigned char **pp, const unsigned char *end,
    ngx_evbus_regex_atom_t *a)
{
    int                   c, d;
    const unsigned char  *p;

    p = *pp + 1;

    if (p < end && (*p == '^' || *p == ']')) {
        return -1;
    }

    while (p < end && *p != ']') {

        if (end - p >= 2 && p[0] == '\\' && p[1] == 'd') {
            ngx_evbus_regex_set(a, '0', '9');
            p += 2;

            if (p < end && *p == '-' && p + 1 < end && p[1] != ']') {
                return -1;
            }

            continue;
        }

        c = ngx_evbus_regex_char(&p, end, 1);
        if (c < 0) {
            return -1;
        }

        if (p < end && *p == '-' && p + 1 < end && p[1] != ']') {
            p++;

            d = ngx_evbus_regex_char(&p, end, 1);
            if (d < 0 || d < c) {
                return -1;
            }

            ngx_evbus_regex_set(a, (unsigned) c, (unsigned) d);

            if (p < end && *p == '-' && p + 1 < end && p[1] != ']') {
                return -1;
            }

            continue;
        }

        ngx_evbus_regex_set(a, (unsigned) c, (unsigned) c);
    }

    if (p == end) {
        return -1;
    }

    *pp = p + 1;

    return 0;
}


ngx_evbus_regex_simple_t *
ngx_evbus_regex_simple(const unsigned char *pattern, size_t len,
    ngx_evbus_alloc_pt alloc, void *alloc_ctx)
{
    int                        c;
    size_t                     i, j, n, min, max;
    uint64_t                   follow[2];
    const unsigned char       *p, *end;
    ngx_evbus_regex_atom_t    *a, atoms[NGX_EVBUS_REGEX_ATOMS];
    ngx_evbus_regex_simple_t  *re;

    p = pattern;
    end = pattern + len;

    if (len < 2 || p[0] != '^' || end[-1] != '$') {
        return NULL;
    }

    p++;
    end--;

    if (end > p && end[-1] == '\\') {
        return NULL;
    }

    n = 0;

    while (p < end) {
        if (n == NGX_EVBUS_REGEX_ATOMS) {
            return NULL;
        }

        a = &atoms[n++];
        memset(a, 0, sizeof(ngx_evbus_regex_atom_t));

        if (*p == '[') {
            if (ngx_evbus_regex_class(&p, end, a) != 0) {
                return NULL;
            }

        } else if (end - p >= 2 && p[0] == '\\' && p[1] == 'd') {
            ngx_evbus_regex_set(a, '0', '9');
            p += 2;

        } else {
            c = ngx_evbus_regex_char(&p, end, 0);
            if (c < 0) {
                return NULL;
            }

            ngx_evbus_regex_set(a, (unsigned) c, (unsigned) c);
        }

        min = 1;
        max = 1;

        if (p < end) {
            switch (*p) {

            case '?':
                min = 0;
                p++;
                break;

            case '*':
                min = 0;
                max = (size_t) -1;
                p++;
                break;

            case '+':
                max = (size_t) -1;
                p++;
                break;

            case '{':
                p++;

                if (ngx_evbus_regex_count(&p, end, &min) != 0) {
                    return NULL;
                }

                max = min;

                if (p < end && *p == ',') {
                    p++;
                    max = (size_t) -1;

                    if (p < end && *p != '}'
                        && ngx_evbus_regex_count(&p, end, &max) != 0)
                    {
                        return NULL;
                    }
                }

                if (p == end || *p != '}' || max < min) {
                    return NULL;
                }

                p++;
                break;
            }

            /* lazy, possessive, or a quantifier of a quantifier */

            if (p < end && (*p == '?' || *p == '+' || *p == '*' || *p == '{'))
            {
                return NULL;
            }
        }

        a->min = min;
        a->max = max;
    }

    /* a variable count must not steal from what may follow it */

    for (i = 0; i < n; i++) {
        if (atoms[i].min == atoms[i].max) {
            continue;
        }

        follow[0] = 0;
        follow[1] = 0;

        for (j = i + 1; j < n; j++) {
            follow[0] |= atoms[j].bits[0];
            follow[1] |= atoms[j].bits[1];

            if (atoms[j].min > 0) {
                break;
            }
        }

        if ((follow[0] & atoms[i].bits[0]) || (follow[1] & atoms[i].bits[1])) {
            return NULL;
        }
    }

    re = alloc(alloc_ctx, sizeof(ngx_evbus_regex_simple_t)
                          + n * sizeof(ngx_evbus_regex_atom_t));
    if (re == NULL) {
        return NULL;
    }

    re->natoms = n;
    re->atoms = (ngx_evbus_regex_atom_t *) (re + 1);

    if (n) {
        memcpy(re->atoms, atoms, n * sizeof(ngx_evbus_regex_atom_t));
    }

    return re;
}


int
ngx_evbus_regex_simple_match(const ngx_evbus_regex_simple_t *re,
    const unsigned char *s, size_t len)
{
    unsigned                       c;
    const unsigned char           *p, *start, *stop, *end;
    const ngx_evbus_regex_atom_t  *a, *last;

    p = s;
    end = s + len;
    last = re->atoms + re->natoms;

    for (a = re->atoms; a < last; a++) {
        start = p;
        stop = ((size_t) (end - p) > a->max) ? p + a->max : end;

        while (p < stop) {
            c = *p;

            if (!((a->bits[c >> 6] >> (c & 63)) & 1)) {
                break;
            }

            p++;
        }

        if ((size_t) (p - start) < a->min) {
            return 0;
        }
    }

    return p == end;
}

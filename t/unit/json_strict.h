
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_TEST_JSON_STRICT_H_INCLUDED_
#define _NGX_EVBUS_TEST_JSON_STRICT_H_INCLUDED_


/*
 * A strict JSON checker for the tests, the oracle that the unit tests and
 * the fuzzer hold produced values to.  It shares no code with the module
 * and does not use yajl, which lets overlong UTF-8, UTF-8-encoded
 * surrogates, code points above U+10FFFF and unpaired \u surrogates
 * through.  Exactly one value (RFC 8259) with optional whitespace around
 * it; text in UTF-8 (RFC 3629); no control character unescaped; every \u
 * surrogate paired (RFC 8259 section 8.2 allows unpaired ones in the
 * grammar, the README promises valid UTF-8 JSON).  Nesting deeper than
 * EVBUS_JS_DEPTH is refused rather than recursed into.
 *
 * evbus_json_members() lists the members of a valid top-level object, for
 * the tests that check what was spliced into the client's bytes.
 */

#include <stddef.h>
#include <string.h>


#define EVBUS_JS_DEPTH  512

#define EVBUS_JS_FN  static __attribute__((unused))


typedef struct {
    const unsigned char  *p;
    const unsigned char  *end;
    const char           *err;
    int                   depth;
} evbus_js_t;


typedef struct {
    size_t                key_start;     /* the opening quote of the name */
    size_t                value_start;
    size_t                value_end;     /* just after the value */
    unsigned char         name[64];      /* decoded, NUL-terminated */
    size_t                name_len;      /* > 63: the name did not fit */
} evbus_json_member_t;


static int evbus_js_value(evbus_js_t *j);


EVBUS_JS_FN int
evbus_js_fail(evbus_js_t *j, const char *err)
{
    if (j->err == NULL) {
        j->err = err;
    }

    return 0;
}


EVBUS_JS_FN void
evbus_js_ws(evbus_js_t *j)
{
    while (j->p < j->end
           && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n'
               || *j->p == '\r'))
    {
        j->p++;
    }
}


/* one UTF-8 sequence at j->p (RFC 3629); the code point, or -1 */

EVBUS_JS_FN long
evbus_js_utf8(evbus_js_t *j)
{
    size_t          n, k;
    unsigned long   c, min;
    unsigned char   b;

    b = *j->p;

    if (b < 0x80) {
        j->p++;
        return b;
    }

    if (b >= 0xc2 && b <= 0xdf) {
        n = 1;
        c = b & 0x1f;
        min = 0x80;

    } else if (b >= 0xe0 && b <= 0xef) {
        n = 2;
        c = b & 0x0f;
        min = 0x800;

    } else if (b >= 0xf0 && b <= 0xf4) {
        n = 3;
        c = b & 0x07;
        min = 0x10000;

    } else {
        return -1;
    }

    if ((size_t) (j->end - j->p) <= n) {
        return -1;
    }

    for (k = 1; k <= n; k++) {
        if ((j->p[k] & 0xc0) != 0x80) {
            return -1;
        }

        c = (c << 6) | (j->p[k] & 0x3f);
    }

    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return -1;
    }

    j->p += n + 1;

    return (long) c;
}


EVBUS_JS_FN long
evbus_js_hex4(evbus_js_t *j)
{
    int            i;
    long           v;
    unsigned char  c;

    if (j->end - j->p < 4) {
        return -1;
    }

    v = 0;

    for (i = 0; i < 4; i++) {
        c = j->p[i];

        if (c >= '0' && c <= '9') {
            v = v * 16 + (c - '0');

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            v = v * 16 + ((c | 0x20) - 'a' + 10);

        } else {
            return -1;
        }
    }

    j->p += 4;

    return v;
}


/* a string at j->p; its decoded first bytes go to out, if given */

EVBUS_JS_FN int
evbus_js_string(evbus_js_t *j, unsigned char *out, size_t out_size,
    size_t *out_len)
{
    long           c, lo;
    size_t         n;
    unsigned char  b;

    n = 0;
    j->p++;

    for ( ;; ) {
        if (j->p >= j->end) {
            return evbus_js_fail(j, "unterminated string");
        }

        b = *j->p;

        if (b == '"') {
            j->p++;
            break;
        }

        if (b < 0x20) {
            return evbus_js_fail(j, "control character in a string");
        }

        if (b != '\\') {
            c = evbus_js_utf8(j);
            if (c < 0) {
                return evbus_js_fail(j, "invalid UTF-8");
            }

            goto put;
        }

        if (j->end - j->p < 2) {
            return evbus_js_fail(j, "unterminated escape");
        }

        b = j->p[1];
        j->p += 2;

        switch (b) {
        case '"': case '\\': case '/':
            c = b;
            break;
        case 'b':
            c = '\b';
            break;
        case 'f':
            c = '\f';
            break;
        case 'n':
            c = '\n';
            break;
        case 'r':
            c = '\r';
            break;
        case 't':
            c = '\t';
            break;

        case 'u':
            c = evbus_js_hex4(j);
            if (c < 0) {
                return evbus_js_fail(j, "bad \\u escape");
            }

            if (c >= 0xdc00 && c <= 0xdfff) {
                return evbus_js_fail(j, "unpaired low surrogate");
            }

            if (c >= 0xd800 && c <= 0xdbff) {
                if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u')
                {
                    return evbus_js_fail(j, "unpaired high surrogate");
                }

                j->p += 2;
                lo = evbus_js_hex4(j);
                if (lo < 0xdc00 || lo > 0xdfff) {
                    return evbus_js_fail(j, "unpaired high surrogate");
                }

                c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
            }

            break;

        default:
            return evbus_js_fail(j, "unknown escape");
        }

    put:

        /* names are compared in ASCII by the tests: anything else marks */

        if (out) {
            if (n < out_size - 1) {
                out[n] = (unsigned char) (c < 0x80 ? c : 0xff);
            }

            n++;
        }
    }

    if (out) {
        out[n < out_size ? n : out_size - 1] = '\0';
        *out_len = n;
    }

    return 1;
}


EVBUS_JS_FN int
evbus_js_digits(evbus_js_t *j)
{
    const unsigned char  *start;

    start = j->p;

    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        j->p++;
    }

    return j->p > start;
}


EVBUS_JS_FN int
evbus_js_number(evbus_js_t *j)
{
    if (*j->p == '-') {
        j->p++;
    }

    if (j->p < j->end && *j->p == '0') {
        j->p++;

    } else if (!evbus_js_digits(j)) {
        return evbus_js_fail(j, "bad number");
    }

    if (j->p < j->end && *j->p == '.') {
        j->p++;

        if (!evbus_js_digits(j)) {
            return evbus_js_fail(j, "no digit after the decimal point");
        }
    }

    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;

        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) {
            j->p++;
        }

        if (!evbus_js_digits(j)) {
            return evbus_js_fail(j, "no digit in the exponent");
        }
    }

    return 1;
}


EVBUS_JS_FN int
evbus_js_literal(evbus_js_t *j, const char *word)
{
    size_t  len;

    len = strlen(word);

    if ((size_t) (j->end - j->p) < len || memcmp(j->p, word, len) != 0) {
        return evbus_js_fail(j, "unexpected character");
    }

    j->p += len;

    return 1;
}


/*
 * an object or an array at j->p; for an object, its members go to m (at
 * most max of them, all counted in *n) when m is given
 */

EVBUS_JS_FN int
evbus_js_container(evbus_js_t *j, const unsigned char *base,
    evbus_json_member_t *m, size_t max, size_t *n)
{
    int                   obj;
    size_t                count;
    unsigned char         close;
    evbus_json_member_t   dummy;
    evbus_json_member_t  *cur;

    if (++j->depth > EVBUS_JS_DEPTH) {
        return evbus_js_fail(j, "nested too deep for the checker");
    }

    cur = &dummy;
    obj = (*j->p == '{');
    close = obj ? '}' : ']';
    count = 0;
    j->p++;

    evbus_js_ws(j);

    if (j->p < j->end && *j->p == close) {
        j->p++;
        goto done;
    }

    for ( ;; ) {
        if (obj) {
            if (j->p >= j->end || *j->p != '"') {
                return evbus_js_fail(j, "expected a member name");
            }

            cur = (m && count < max) ? &m[count] : &dummy;
            cur->key_start = j->p - base;

            if (!evbus_js_string(j, cur->name, sizeof(cur->name),
                                 &cur->name_len))
            {
                return 0;
            }

            evbus_js_ws(j);

            if (j->p >= j->end || *j->p != ':') {
                return evbus_js_fail(j, "expected ':'");
            }

            j->p++;
            evbus_js_ws(j);
            cur->value_start = j->p - base;
        }

        if (!evbus_js_value(j)) {
            return 0;
        }

        if (obj) {
            cur->value_end = j->p - base;
        }

        count++;
        evbus_js_ws(j);

        if (j->p < j->end && *j->p == ',') {
            j->p++;
            evbus_js_ws(j);
            continue;
        }

        if (j->p < j->end && *j->p == close) {
            j->p++;
            break;
        }

        return evbus_js_fail(j, obj ? "expected ',' or '}'"
                                    : "expected ',' or ']'");
    }

done:

    j->depth--;

    if (n) {
        *n = count;
    }

    return 1;
}


EVBUS_JS_FN int
evbus_js_value(evbus_js_t *j)
{
    if (j->p >= j->end) {
        return evbus_js_fail(j, "expected a value");
    }

    switch (*j->p) {
    case '{':
    case '[':
        return evbus_js_container(j, NULL, NULL, 0, NULL);
    case '"':
        return evbus_js_string(j, NULL, 0, NULL);
    case 't':
        return evbus_js_literal(j, "true");
    case 'f':
        return evbus_js_literal(j, "false");
    case 'n':
        return evbus_js_literal(j, "null");
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
            return evbus_js_number(j);
        }

        return evbus_js_fail(j, "unexpected character");
    }
}


/* 1: s is exactly one strict JSON value; 0: not, *err says why */

EVBUS_JS_FN int
evbus_strict_json(const unsigned char *s, size_t len, const char **err)
{
    evbus_js_t  j;

    j.p = s;
    j.end = s + len;
    j.err = NULL;
    j.depth = 0;

    evbus_js_ws(&j);

    if (evbus_js_value(&j)) {
        evbus_js_ws(&j);

        if (j.p != j.end) {
            evbus_js_fail(&j, "text after the value");
        }
    }

    if (err) {
        *err = j.err;
    }

    return j.err == NULL;
}


/* 1: s is valid UTF-8 (RFC 3629) */

EVBUS_JS_FN int
evbus_strict_utf8(const unsigned char *s, size_t len)
{
    evbus_js_t  j;

    j.p = s;
    j.end = s + len;

    while (j.p < j.end) {
        if (evbus_js_utf8(&j) < 0) {
            return 0;
        }
    }

    return 1;
}


/*
 * The members of s, a strict JSON object (optionally surrounded by
 * whitespace): up to max into m, offsets relative to s; returns their
 * number, or -1 when s is not a strict JSON object.
 */

EVBUS_JS_FN long
evbus_json_members(const unsigned char *s, size_t len,
    evbus_json_member_t *m, size_t max)
{
    size_t      n;
    evbus_js_t  j;

    if (!evbus_strict_json(s, len, NULL)) {
        return -1;
    }

    j.p = s;
    j.end = s + len;
    j.err = NULL;
    j.depth = 0;

    evbus_js_ws(&j);

    if (*j.p != '{' || !evbus_js_container(&j, s, m, max, &n)) {
        return -1;
    }

    return (long) n;
}


#endif /* _NGX_EVBUS_TEST_JSON_STRICT_H_INCLUDED_ */


/*
 * Copyright (C) ngx_evbus authors
 */


/*
 * Unit tests of the built-in matcher of simple patterns
 * (src/ngx_evbus_regex.c), printed as TAP: which patterns it takes, and a
 * differential test against libpcre2-8 in UTF mode.
 */

#define PCRE2_CODE_UNIT_WIDTH  8

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "ngx_evbus_regex.h"

#include "support.h"


/*
 * The built-in matcher of simple patterns against PCRE2 in UTF mode with
 * ECMA-262's "$" (PCRE2_DOLLAR_ENDONLY), as the module compiles them:
 * what it accepts must be decided exactly as PCRE2 decides, on strings
 * built to nearly match and on random ones.
 */

static uint64_t  rnd_state = 0x9e3779b97f4a7c15ULL;


static unsigned
rnd(unsigned n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;

    return (unsigned) (rnd_state >> 11) % n;
}


static size_t
rnd_near(const ngx_evbus_regex_simple_t *re, unsigned char *buf, size_t size)
{
    static const char  noise[] = "aZ09_-.\n\0 \xc3\xa9\xff\x80{}$^";

    size_t                         i, k, n, len;
    unsigned                       c;
    const ngx_evbus_regex_atom_t  *a;

    len = 0;

    for (i = 0; i < re->natoms; i++) {
        a = &re->atoms[i];
        n = a->min + rnd(6);

        if (n > a->max) {
            n = rnd(4) ? a->max : a->max + 1;
        }

        for (k = 0; k < n && len < size - 4; k++) {
            do {
                c = rnd(128);
            } while (!((a->bits[c >> 6] >> (c & 63)) & 1));

            buf[len++] = (unsigned char) c;
        }
    }

    switch (rnd(8)) {

    case 0:
        buf[len++] = '\n';
        break;

    case 1:
        buf[len++] = '\n';
        buf[len++] = '\n';
        break;

    case 2:
        if (len) {
            buf[rnd(len)] = noise[rnd(sizeof(noise) - 1)];
        }
        break;

    case 3:
        if (len) {
            len--;
        }
        break;

    case 4:
        buf[len++] = noise[rnd(sizeof(noise) - 1)];
        break;

    case 5:
        if (len) {
            k = rnd(len);
            memmove(buf + k, buf + k + 1, len - k - 1);
            len--;
        }
        break;
    }

    return len;
}


static void
test_regex_simple(void)
{
    static const char  *simple[] = {
        "^ord_[A-Za-z0-9]{6,32}$", "^[A-Z]{3}$", "^$", "^a$", "^a?$",
        "^a*b$", "^a+b?c*$", "^[a-z]+-[0-9]{2,}$", "^\\d{4}-\\d{2}-\\d{2}$",
        "^[\\d.]+$", "^[-a]{0,3}$", "^[a-]{1,2}x$", "^[--z]$", "^\\.\\-x$",
        "^a{0}b$", "^a{2}$", "^[A-Z][a-z]*$", "^user-[0-9]{5}$",
        "^[a-c]?[d-f]?[g-i]$", "^ #%&',/:;<=>@_`~\"!$", "^[$.|()?*+{}^]+$",
        "^[\\]\\[\\\\]{1,3}$", "^x{3,}y$", "^[ab]*c+d$",
        NULL
    };

    static const char  *refused[] = {
        "ord_[a-z]+$", "^ord_[a-z]+", "^a*a$", "^[a-z]*[0-9a]$", "^.$",
        "^[^a]$", "^a|b$", "^(a)$", "^a*?$", "^a++$", "^\\w$", "^\\s$",
        "^[[:alpha:]]$", "^a{,3}$", "^a{1$", "^\xc3\xa9$", "^a\\$",
        "^a?a$", "^[a-z]?[b]?[c]$", "^x{2}{3}$", "^\\Qa\\E$", "^a$$",
        "^[a-c-e]$", "^a{1,2}?$", "^\\n$", "^[ab]*[bc]?d$",
        NULL
    };

    int                        rc, want, got, bad, matched;
    size_t                     i, j, len;
    PCRE2_SIZE                 off;
    pcre2_code                *code;
    pcre2_match_data          *md;
    unsigned char              buf[128], example[128];
    ngx_evbus_regex_simple_t  *re;
    evbus_pool_t               pool;

    memset(&pool, 0, sizeof(evbus_pool_t));

    for (i = 0; refused[i]; i++) {
        re = ngx_evbus_regex_simple((const unsigned char *) refused[i],
                                    strlen(refused[i]), evbus_pool_alloc,
                                    &pool);
        ok(re == NULL, "simple pattern: %s left to PCRE2", refused[i]);
    }

    for (i = 0; simple[i]; i++) {
        re = ngx_evbus_regex_simple((const unsigned char *) simple[i],
                                    strlen(simple[i]), evbus_pool_alloc, &pool);
        if (re == NULL) {
            ok(0, "simple pattern: %s accepted", simple[i]);
            continue;
        }

        code = pcre2_compile((PCRE2_SPTR) simple[i], strlen(simple[i]),
                             PCRE2_UTF|PCRE2_DOLLAR_ENDONLY, &rc, &off, NULL);
        if (code == NULL) {
            ok(0, "simple pattern: %s compiles with PCRE2", simple[i]);
            continue;
        }

        md = pcre2_match_data_create_from_pattern(code, NULL);
        bad = 0;
        matched = 0;
        example[0] = '\0';

        for (j = 0; j < 20000; j++) {
            if (j % 4 == 3) {
                len = rnd(12);

                for (rc = 0; rc < (int) len; rc++) {
                    buf[rc] = (unsigned char) simple[i][rnd(strlen(simple[i]))];

                    if (rnd(6) == 0) {
                        buf[rc] = (unsigned char) rnd(256);
                    }
                }

            } else {
                len = rnd_near(re, buf, sizeof(buf));
            }

            want = pcre2_match(code, buf, len, 0, 0, md, NULL) >= 0;
            got = ngx_evbus_regex_simple_match(re, buf, len) == 1;
            matched += want;

            if (want != got) {
                if (bad++ == 0) {
                    snprintf((char *) example, sizeof(example), "%.*s: %d",
                             (int) len, buf, want);
                }
            }
        }

        ok(bad == 0 && matched > 0, "simple pattern: %s as PCRE2 (%d of"
           " 20000 match, %d differences%s%s)", simple[i], matched, bad,
           bad ? ", e.g. " : "", (char *) example);

        pcre2_match_data_free(md);
        pcre2_code_free(code);
    }

    evbus_pool_free(&pool);
}


/* ECMA-262: "$" without the m flag matches only at the subject's end */

static void
test_regex_dollar(void)
{
    evbus_pool_t               pool;
    ngx_evbus_regex_simple_t  *re;

    memset(&pool, 0, sizeof(evbus_pool_t));

    re = ngx_evbus_regex_simple((const unsigned char *) "^[A-Z]{3}$", 10,
                                evbus_pool_alloc, &pool);

    ok(re != NULL, "simple pattern: ^[A-Z]{3}$ taken");

    if (re != NULL) {
        ok(ngx_evbus_regex_simple_match(re, (const unsigned char *) "EUR", 3)
           == 1, "simple pattern: ^[A-Z]{3}$ matches EUR");
        ok(ngx_evbus_regex_simple_match(re,
                                        (const unsigned char *) "EUR\n", 4)
           == 0, "simple pattern: ^[A-Z]{3}$ does not match EUR\\n");
    }

    evbus_pool_free(&pool);
}


int
main(void)
{
    test_regex_simple();
    test_regex_dollar();

    printf("1..%d\n", ntests);

    return nfailed ? 1 : 0;
}

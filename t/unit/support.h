
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_TEST_SUPPORT_H_INCLUDED_
#define _NGX_EVBUS_TEST_SUPPORT_H_INCLUDED_


/*
 * What the unit tests and the fuzzer share: TAP output, a pool like
 * nginx's (nothing is freed before the pool) that can be told to fail, the
 * check that a produced value is valid JSON (the strict checker of
 * json_strict.h, not yajl), and the PCRE2 match callback of the schemas.
 * Included once per program; everything is static, and a program need not
 * use all of it.
 */

#define EVBUS_TEST_FN  static __attribute__((unused))

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH  8
#endif

#include <pcre2.h>
#include <yajl/yajl_parse.h>

#include "json_strict.h"


/* TAP: each check prints "ok N - name" or "not ok N - name" */

static __attribute__((unused)) int  ntests;
static __attribute__((unused)) int  nfailed;


EVBUS_TEST_FN void
ok(int cond, const char *fmt, ...)
{
    va_list  args;

    ntests++;

    if (!cond) {
        nfailed++;
        printf("not ");
    }

    printf("ok %d - ", ntests);
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    printf("\n");
}


typedef struct evbus_block_s  evbus_block_t;

struct evbus_block_s {
    evbus_block_t      *next;
    max_align_t         data[];
};


typedef struct {
    evbus_block_t      *blocks;
    long                count;
    long                fail_at;    /* 0: never; n: the n-th and later fail */
} evbus_pool_t;


EVBUS_TEST_FN void *
evbus_pool_alloc(void *ctx, size_t size)
{
    evbus_pool_t   *pool;
    evbus_block_t  *b;

    pool = ctx;

    if (pool->fail_at && ++pool->count >= pool->fail_at) {
        return NULL;
    }

    b = malloc(sizeof(evbus_block_t) + size);
    if (b == NULL) {
        return NULL;
    }

    b->next = pool->blocks;
    pool->blocks = b;

    return b->data;
}


EVBUS_TEST_FN void
evbus_pool_free(evbus_pool_t *pool)
{
    evbus_block_t  *b, *next;

    for (b = pool->blocks; b; b = next) {
        next = b->next;
        free(b);
    }

    pool->blocks = NULL;
}


/* two error strings, either NULL */

EVBUS_TEST_FN int
evbus_same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }

    return strcmp(a, b) == 0;
}


/*
 * yajl reports a parse error at the start of the offending token, or at
 * the start of the chunk when the token began in an earlier one: the
 * offset in the message may differ with the cuts, the reason may not.
 */

EVBUS_TEST_FN int
evbus_same_body_error(const char *a, const char *b)
{
    static const char  at[] = "invalid JSON at byte ";

    if (a == NULL || b == NULL
        || strncmp(a, at, sizeof(at) - 1) != 0
        || strncmp(b, at, sizeof(at) - 1) != 0)
    {
        return evbus_same_str(a, b);
    }

    return evbus_same_str(strchr(a, ':'), strchr(b, ':'));
}


/* the oracle: strict RFC 8259 and UTF-8, independent of yajl */

EVBUS_TEST_FN int
evbus_valid_json(const unsigned char *s, size_t len)
{
    return evbus_strict_json(s, len, NULL);
}


EVBUS_TEST_FN int
evbus_regex_match(void *ctx, void *regex, const unsigned char *s, size_t len)
{
    int                rc;
    pcre2_match_data  *md;

    static pcre2_match_context  *mctx;

    (void) ctx;

    md = pcre2_match_data_create_from_pattern(regex, NULL);
    if (md == NULL) {
        return -1;
    }

    /* the module's limit, so that a runaway pattern fails as it does */

    if (mctx == NULL) {
        mctx = pcre2_match_context_create(NULL);
        if (mctx == NULL) {
            pcre2_match_data_free(md);
            return -1;
        }

        pcre2_set_match_limit(mctx, 100000);
    }

    rc = pcre2_match(regex, s, len, 0, 0, md, mctx);
    pcre2_match_data_free(md);

    return rc >= 0 ? 1 : (rc == PCRE2_ERROR_NOMATCH ? 0 : -1);
}


#endif /* _NGX_EVBUS_TEST_SUPPORT_H_INCLUDED_ */

/*
 * Copyright (C) ngx_evbus authors
 */


#include <errno.h>
#include <sys/random.h>

#include "ngx_evbus_uuid.h"


#define NGX_EVBUS_UUID_SEQ_MAX    0xfff

/*
 * a new millisecond starts the counter in the lower half of its range,
 * so that at least 2048 ids fit into it before the timestamp is bumped
 */
#define NGX_EVBUS_UUID_SEQ_START  0x7ff


static void ngx_evbus_uuid_bytes(ngx_evbus_uuid_gen_t *gen, int64_t now_ms,
    unsigned char *b);
static uint64_t ngx_evbus_uuid_next(ngx_evbus_uuid_gen_t *gen);


static const char  ngx_evbus_uuid_hex[] = "0123456789abcdef";


int
ngx_evbus_uuid_init(ngx_evbus_uuid_gen_t *gen)
{
    size_t          got;
    ssize_t         n;
    unsigned char  *seed;

    gen->last_ms = 0;
    gen->seq = 0;

    seed = (unsigned char *) gen->state;
    got = 0;

    while (got < sizeof(gen->state)) {
        n = getrandom(seed + got, sizeof(gen->state) - got, 0);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            return -1;
        }

        got += (size_t) n;
    }

    /* xoroshiro must not start from the all-zero state */

    if (gen->state[0] == 0 && gen->state[1] == 0) {
        gen->state[0] = 0x9e3779b97f4a7c15ULL;
    }

    return 0;
}


void
ngx_evbus_uuid_v7(ngx_evbus_uuid_gen_t *gen, int64_t now_ms,
    unsigned char *out)
{
    int             i;
    unsigned char   b[16], *p;

    ngx_evbus_uuid_bytes(gen, now_ms, b);

    p = out;

    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            *p++ = '-';
        }

        *p++ = ngx_evbus_uuid_hex[b[i] >> 4];
        *p++ = ngx_evbus_uuid_hex[b[i] & 0x0f];
    }
}


void
ngx_evbus_uuid_v7_hex(ngx_evbus_uuid_gen_t *gen, int64_t now_ms,
    unsigned char *out)
{
    int            i;
    unsigned char  b[16];

    ngx_evbus_uuid_bytes(gen, now_ms, b);

    for (i = 0; i < 16; i++) {
        *out++ = ngx_evbus_uuid_hex[b[i] >> 4];
        *out++ = ngx_evbus_uuid_hex[b[i] & 0x0f];
    }
}


static void
ngx_evbus_uuid_bytes(ngx_evbus_uuid_gen_t *gen, int64_t now_ms,
    unsigned char *b)
{
    int       i;
    uint64_t  ms, rnd;

    if (now_ms > gen->last_ms) {
        gen->last_ms = now_ms;
        gen->seq = (uint32_t) ngx_evbus_uuid_next(gen)
                   & NGX_EVBUS_UUID_SEQ_START;

    } else if (++gen->seq > NGX_EVBUS_UUID_SEQ_MAX) {
        /* the clock stood still or went back: stay ahead of it */
        gen->last_ms++;
        gen->seq = (uint32_t) ngx_evbus_uuid_next(gen)
                   & NGX_EVBUS_UUID_SEQ_START;
    }

    ms = (uint64_t) gen->last_ms;
    rnd = ngx_evbus_uuid_next(gen);

    for (i = 0; i < 6; i++) {
        b[i] = (unsigned char) (ms >> (40 - 8 * i));
    }

    b[6] = (unsigned char) (0x70 | (gen->seq >> 8));
    b[7] = (unsigned char) gen->seq;
    b[8] = (unsigned char) (0x80 | ((rnd >> 56) & 0x3f));

    for (i = 9; i < 16; i++) {
        b[i] = (unsigned char) (rnd >> (8 * (15 - i)));
    }
}


/* xoroshiro128++ */

static uint64_t
ngx_evbus_uuid_next(ngx_evbus_uuid_gen_t *gen)
{
    uint64_t  s0, s1, r;

    s0 = gen->state[0];
    s1 = gen->state[1];

    r = s0 + s1;
    r = ((r << 17) | (r >> 47)) + s0;

    s1 ^= s0;
    gen->state[0] = ((s0 << 49) | (s0 >> 15)) ^ s1 ^ (s1 << 21);
    gen->state[1] = (s1 << 28) | (s1 >> 36);

    return r;
}

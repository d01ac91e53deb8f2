
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_UUID_H_INCLUDED_
#define _NGX_EVBUS_UUID_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_EVBUS_UUID_LEN      36
#define NGX_EVBUS_UUID_HEX_LEN  32


/*
 * UUIDv7 (RFC 9562): 48-bit unix milliseconds, then a 12-bit counter in
 * rand_a (method 1 of section 6.2) that keeps the ids one generator makes
 * strictly increasing within a millisecond, then 62 random bits.
 */
typedef struct {
    int64_t     last_ms;
    uint32_t    seq;
    uint64_t    state[2];     /* PRNG state, seeded from getrandom() */
} ngx_evbus_uuid_gen_t;


int ngx_evbus_uuid_init(ngx_evbus_uuid_gen_t *gen);

/* writes 36 lowercase characters, no NUL */
void ngx_evbus_uuid_v7(ngx_evbus_uuid_gen_t *gen, int64_t now_ms,
    unsigned char *out);

/*
 * the same id without its dashes: 32 lowercase hex digits, the form of
 * nginx's $request_id; no NUL
 */
void ngx_evbus_uuid_v7_hex(ngx_evbus_uuid_gen_t *gen, int64_t now_ms,
    unsigned char *out);


#endif /* _NGX_EVBUS_UUID_H_INCLUDED_ */

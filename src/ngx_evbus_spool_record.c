
/*
 * Copyright (C) ngx_evbus authors
 */


#include <string.h>
#include <zlib.h>

#include "ngx_evbus_spool_record.h"


/* the width of each length in the body, in field order */
static const size_t  ngx_evbus_spool_record_width[NGX_EVBUS_SPOOL_NFIELDS] = {
    2, 2, 4, 2, 2, 2, 2, 2, 2, 2, 2
};


size_t
ngx_evbus_spool_record_size(const ngx_evbus_spool_record_t *rec)
{
    size_t    len;
    unsigned  i;

    len = NGX_EVBUS_SPOOL_RECORD_FIXED;

    for (i = 0; i < NGX_EVBUS_SPOOL_NFIELDS; i++) {
        if (ngx_evbus_spool_record_width[i] == 2
            && rec->field[i].len > 0xffff)
        {
            return 0;
        }

        if (rec->field[i].len > NGX_EVBUS_SPOOL_RECORD_MAX) {
            return 0;
        }

        len += rec->field[i].len;
    }

    if (len > NGX_EVBUS_SPOOL_RECORD_MAX) {
        return 0;
    }

    return NGX_EVBUS_SPOOL_RECORD_HDR + len;
}


void
ngx_evbus_spool_record_encode(unsigned char *buf,
    const ngx_evbus_spool_record_t *rec)
{
    unsigned char  *p, *body;
    uint16_t        l16;
    uint32_t        l32;
    unsigned        i;
    size_t          len;

    body = buf + NGX_EVBUS_SPOOL_RECORD_HDR;
    p = body;

    memcpy(p, &rec->timestamp, 8);
    p += 8;

    for (i = 0; i < NGX_EVBUS_SPOOL_NFIELDS; i++) {
        if (ngx_evbus_spool_record_width[i] == 2) {
            l16 = (uint16_t) rec->field[i].len;
            memcpy(p, &l16, 2);
            p += 2;

        } else {
            l32 = (uint32_t) rec->field[i].len;
            memcpy(p, &l32, 4);
            p += 4;
        }
    }

    /* absent strings are { NULL, 0 }: memcpy() must not see NULL */

    for (i = 0; i < NGX_EVBUS_SPOOL_NFIELDS; i++) {
        if (rec->field[i].len) {
            memcpy(p, rec->field[i].data, rec->field[i].len);
            p += rec->field[i].len;
        }
    }

    len = p - body;

    l32 = NGX_EVBUS_SPOOL_RECORD_MAGIC;
    memcpy(buf, &l32, 4);
    l32 = (uint32_t) len;
    memcpy(buf + 4, &l32, 4);
    l32 = ngx_evbus_spool_record_crc32(body, len);
    memcpy(buf + 8, &l32, 4);
}


int
ngx_evbus_spool_record_decode(const unsigned char *buf, size_t n,
    ngx_evbus_spool_record_t *rec, size_t *size)
{
    size_t                len, sum, fixed;
    uint16_t              l16;
    uint32_t              magic, l32, crc;
    unsigned              i, nfields;
    const unsigned char  *p;

    *size = 0;

    if (n < NGX_EVBUS_SPOOL_RECORD_HDR) {
        return NGX_EVBUS_SPOOL_RECORD_SHORT;
    }

    memcpy(&magic, buf, 4);
    memcpy(&l32, buf + 4, 4);
    memcpy(&crc, buf + 8, 4);

    len = l32;

    if (magic == NGX_EVBUS_SPOOL_RECORD_MAGIC) {
        nfields = NGX_EVBUS_SPOOL_NFIELDS;
        fixed = NGX_EVBUS_SPOOL_RECORD_FIXED;

    } else if (magic == NGX_EVBUS_SPOOL_RECORD_MAGIC2) {
        nfields = NGX_EVBUS_SPOOL_NFIELDS2;
        fixed = NGX_EVBUS_SPOOL_RECORD_FIXED2;

    } else {
        return NGX_EVBUS_SPOOL_RECORD_CORRUPT;
    }

    if (len < fixed || len > NGX_EVBUS_SPOOL_RECORD_MAX) {
        return NGX_EVBUS_SPOOL_RECORD_CORRUPT;
    }

    *size = NGX_EVBUS_SPOOL_RECORD_HDR + len;

    if (n < *size) {
        return NGX_EVBUS_SPOOL_RECORD_SHORT;
    }

    p = buf + NGX_EVBUS_SPOOL_RECORD_HDR;

    if (ngx_evbus_spool_record_crc32(p, len) != crc) {
        return NGX_EVBUS_SPOOL_RECORD_CORRUPT;
    }

    memcpy(&rec->timestamp, p, 8);
    p += 8;

    sum = fixed;

    for (i = 0; i < nfields; i++) {
        if (ngx_evbus_spool_record_width[i] == 2) {
            memcpy(&l16, p, 2);
            rec->field[i].len = l16;
            p += 2;

        } else {
            memcpy(&l32, p, 4);
            rec->field[i].len = l32;
            p += 4;
        }

        sum += rec->field[i].len;
    }

    if (sum != len) {
        return NGX_EVBUS_SPOOL_RECORD_CORRUPT;
    }

    for (i = 0; i < nfields; i++) {
        rec->field[i].data = rec->field[i].len ? p : NULL;
        p += rec->field[i].len;
    }

    for ( /* void */ ; i < NGX_EVBUS_SPOOL_NFIELDS; i++) {
        rec->field[i].data = NULL;
        rec->field[i].len = 0;
    }

    return NGX_EVBUS_SPOOL_RECORD_OK;
}


/* CRC-32 (IEEE 802.3): the value ngx_crc32_long() gives, from zlib */

uint32_t
ngx_evbus_spool_record_crc32(const unsigned char *p, size_t len)
{
    uLong  crc;

    crc = crc32(0L, Z_NULL, 0);

    /* zlib takes a uInt length: feed larger bodies in pieces */

    while (len > 0x40000000) {
        crc = crc32(crc, p, 0x40000000);
        p += 0x40000000;
        len -= 0x40000000;
    }

    return (uint32_t) crc32(crc, p, (uInt) len);
}


/*
 * Copyright (C) ngx_evbus authors
 */


/*
 * libFuzzer target: arbitrary bytes as a spool file, read as the replay
 * reads it, record after record until one is short (a torn tail) or
 * corrupt.  Every decoded record must lie inside the input.  An EVB3
 * record must encode back to the very bytes it was decoded from; an EVB2
 * one (the older format, no trace headers or dead-letter topic) encodes as
 * EVB3, 3 lengths (6 bytes) longer, and decodes again to the same fields.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_evbus_spool_record.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                        rc;
    size_t                     n, used, i, size3, used3;
    unsigned char             *copy, *out;
    ngx_evbus_spool_record_t   rec, rec3;

    /* a heap copy of exactly the input, so that ASan sees any overread */

    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }

    if (size) {
        memcpy(copy, data, size);
    }

    n = 0;

    for ( ;; ) {
        rc = ngx_evbus_spool_record_decode(copy + n, size - n, &rec, &used);

        if (rc == NGX_EVBUS_SPOOL_RECORD_SHORT) {
            if (used != 0 && used <= size - n) {
                abort();
            }

            break;
        }

        if (rc != NGX_EVBUS_SPOOL_RECORD_OK) {
            break;
        }

        if (used < NGX_EVBUS_SPOOL_RECORD_HDR || used > size - n) {
            abort();
        }

        for (i = 0; i < NGX_EVBUS_SPOOL_NFIELDS; i++) {
            if (rec.field[i].len
                && (rec.field[i].data < copy + n + NGX_EVBUS_SPOOL_RECORD_HDR
                    || rec.field[i].data + rec.field[i].len
                       > copy + n + used))
            {
                abort();
            }
        }

        if (memcmp(copy + n, "EVB2", 4) == 0) {
            for (i = NGX_EVBUS_SPOOL_NFIELDS2; i < NGX_EVBUS_SPOOL_NFIELDS;
                 i++)
            {
                if (rec.field[i].len || rec.field[i].data) {
                    abort();
                }
            }

            size3 = used + 6;

        } else {
            size3 = used;
        }

        if (ngx_evbus_spool_record_size(&rec) != size3) {
            abort();
        }

        out = malloc(size3);
        if (out == NULL) {
            break;
        }

        ngx_evbus_spool_record_encode(out, &rec);

        if (size3 == used) {
            if (memcmp(out, copy + n, used) != 0) {
                abort();
            }

        } else {
            if (ngx_evbus_spool_record_decode(out, size3, &rec3, &used3)
                != NGX_EVBUS_SPOOL_RECORD_OK
                || used3 != size3
                || rec3.timestamp != rec.timestamp)
            {
                abort();
            }

            for (i = 0; i < NGX_EVBUS_SPOOL_NFIELDS; i++) {
                if (rec3.field[i].len != rec.field[i].len
                    || (rec.field[i].len
                        && memcmp(rec3.field[i].data, rec.field[i].data,
                                  rec.field[i].len) != 0))
                {
                    abort();
                }
            }
        }

        free(out);

        n += used;
    }

    free(copy);

    return 0;
}

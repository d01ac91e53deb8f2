
/*
 * Copyright (C) ngx_evbus authors
 */


/*
 * libFuzzer target: arbitrary bytes as a spool file, read as the replay
 * reads it, record after record until one is short (a torn tail) or
 * corrupt.  Every decoded record must lie inside the input and encode back
 * to the very bytes it was decoded from.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_evbus_spool_record.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                        rc;
    size_t                     n, used, i;
    unsigned char             *copy, *out;
    ngx_evbus_spool_record_t   rec;

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

        if (ngx_evbus_spool_record_size(&rec) != used) {
            abort();
        }

        out = malloc(used);
        if (out == NULL) {
            break;
        }

        ngx_evbus_spool_record_encode(out, &rec);

        if (memcmp(out, copy + n, used) != 0) {
            abort();
        }

        free(out);

        n += used;
    }

    free(copy);

    return 0;
}

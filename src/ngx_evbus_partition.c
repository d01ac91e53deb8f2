
/*
 * Copyright (C) ngx_evbus authors
 */


#include <string.h>
#include <xxhash.h>

#include "ngx_evbus_partition.h"


#define NGX_EVBUS_PARTITION_STACK  512


uint64_t
ngx_evbus_partition_hash(const unsigned char *type, size_t type_len,
    const unsigned char *id, size_t id_len)
{
    uint64_t        hash;
    unsigned char   buf[NGX_EVBUS_PARTITION_STACK];
    XXH3_state_t   *state;

    if (type_len + 1 + id_len <= sizeof(buf)) {
        memcpy(buf, type, type_len);
        buf[type_len] = '\0';
        memcpy(buf + type_len + 1, id, id_len);

        return XXH3_64bits(buf, type_len + 1 + id_len);
    }

    /* not reached with the module's 128-byte limits on type and id */

    state = XXH3_createState();
    if (state == NULL) {
        return 0;
    }

    (void) XXH3_64bits_reset(state);
    (void) XXH3_64bits_update(state, type, type_len);
    (void) XXH3_64bits_update(state, "", 1);
    (void) XXH3_64bits_update(state, id, id_len);

    hash = XXH3_64bits_digest(state);

    (void) XXH3_freeState(state);

    return hash;
}


int32_t
ngx_evbus_partition(const unsigned char *type, size_t type_len,
    const unsigned char *id, size_t id_len, int32_t partition_count)
{
    if (partition_count <= 0) {
        return -1;
    }

    return (int32_t) (ngx_evbus_partition_hash(type, type_len, id, id_len)
                      % (uint64_t) partition_count);
}

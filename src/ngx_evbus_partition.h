
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_PARTITION_H_INCLUDED_
#define _NGX_EVBUS_PARTITION_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * The partition of an event:
 *
 *     XXH3_64bits(event_type + "\0" + event_id) mod partition_count
 *
 * (the 64-bit hash taken as an unsigned integer).  Consumers reproduce it
 * with any XXH3 implementation, e.g. `printf 'click\0id' | xxhsum -H3`.
 */
uint64_t ngx_evbus_partition_hash(const unsigned char *type, size_t type_len,
    const unsigned char *id, size_t id_len);
int32_t ngx_evbus_partition(const unsigned char *type, size_t type_len,
    const unsigned char *id, size_t id_len, int32_t partition_count);


#endif /* _NGX_EVBUS_PARTITION_H_INCLUDED_ */

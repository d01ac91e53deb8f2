
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_FOOTPRINT_H_INCLUDED_
#define _NGX_EVBUS_FOOTPRINT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * The bytes a queued message really holds in a worker, as glibc's malloc
 * gives them out, not the payload alone that librdkafka counts against
 * queue.buffering.max.kbytes (rd_kafka_curr_msgs_add() is given the value's
 * length only).  librdkafka 2.0.2, x86-64:
 *   - the message, its value and key copied after it (RD_KAFKA_MSG_F_COPY,
 *     rd_kafka_msg_new00()): one allocation of sizeof(rd_kafka_msg_t) 168
 *     + value + key;
 *   - the header list (rd_kafka_headers_new()): rd_kafka_headers_t, 48
 *     bytes, and its array of NGX_EVBUS_FOOTPRINT_SLOTS pointers;
 *   - each header (rd_kafka_header_add()): rd_kafka_header_t, 40 bytes,
 *     with its name and value, each NUL-terminated.
 * Every allocation costs its size plus malloc's 8-byte chunk header,
 * rounded up to 16, at least 32.  Measured with Kafka down (as make
 * bench's part memory): a worker holding 100,000 messages of 548-byte
 * values grew by 1,423 bytes each; this gives 1,416 with the module's own
 * record.
 */

#define NGX_EVBUS_FOOTPRINT_MSG      168
#define NGX_EVBUS_FOOTPRINT_HEADERS  48
#define NGX_EVBUS_FOOTPRINT_HEADER   40
#define NGX_EVBUS_FOOTPRINT_SLOTS    8     /* rd_kafka_headers_new(8) */
#define NGX_EVBUS_FOOTPRINT_TRIM     (8 * 1024 * 1024)


/* what a message with this value and key holds, its header list included */
size_t ngx_evbus_footprint_message(size_t value, size_t key);

/* what one of its headers holds */
size_t ngx_evbus_footprint_header(size_t name, size_t value);

/*
 * Called on the producer's timer with the bytes queued and their limit:
 * once a queue that held a quarter of its limit (at least
 * NGX_EVBUS_FOOTPRINT_TRIM) is empty again, gives the freed memory back
 * to the system (glibc keeps it otherwise).
 */
void ngx_evbus_footprint_release(size_t queued, size_t max);


#endif /* _NGX_EVBUS_FOOTPRINT_H_INCLUDED_ */


/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_SPOOL_RECORD_H_INCLUDED_
#define _NGX_EVBUS_SPOOL_RECORD_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * A spool file is a sequence of records:
 *
 *     magic (4) | body length (4) | crc32 of the body (4) | body
 *
 * "EVB3" body: timestamp (8) | 11 lengths (topic 2, key 2, value 4,
 * event_type 2, event_version 2, source_service 2, ingest_timestamp 2,
 * error_kind 2, traceparent 2, tracestate 2, dead_letter 2) | the 11
 * strings.  error_kind is empty but for dead letters; traceparent and
 * tracestate are the W3C trace headers, or empty; dead_letter is the topic
 * a permanent delivery failure goes to, or empty.
 *
 * "EVB2", written by earlier versions, is the same without the last three
 * lengths and strings.  It is still decoded (those fields empty), so that a
 * spool left by an earlier version is replayed after an upgrade; records
 * are always encoded as EVB3.
 *
 * Integers are in host byte order: a spool is replayed on the host that
 * wrote it.  Encoding and decoding use no nginx types, so that they can be
 * tested and fuzzed alone.
 */

#define NGX_EVBUS_SPOOL_RECORD_MAGIC    0x33425645    /* "EVB3" */
#define NGX_EVBUS_SPOOL_RECORD_MAGIC2   0x32425645    /* "EVB2", read only */
#define NGX_EVBUS_SPOOL_RECORD_HDR      12
#define NGX_EVBUS_SPOOL_RECORD_FIXED2   (8 + 2 + 2 + 4 + 2 + 2 + 2 + 2 + 2)
#define NGX_EVBUS_SPOOL_RECORD_FIXED    (NGX_EVBUS_SPOOL_RECORD_FIXED2 + 3 * 2)
#define NGX_EVBUS_SPOOL_RECORD_MAX      (64 * 1024 * 1024)   /* body */

#define NGX_EVBUS_SPOOL_RECORD_OK       0
#define NGX_EVBUS_SPOOL_RECORD_SHORT    1
#define NGX_EVBUS_SPOOL_RECORD_CORRUPT  2


typedef enum {
    NGX_EVBUS_SPOOL_TOPIC = 0,
    NGX_EVBUS_SPOOL_KEY,
    NGX_EVBUS_SPOOL_VALUE,
    NGX_EVBUS_SPOOL_EVENT_TYPE,
    NGX_EVBUS_SPOOL_EVENT_VERSION,
    NGX_EVBUS_SPOOL_SOURCE_SERVICE,
    NGX_EVBUS_SPOOL_INGEST_TIMESTAMP,
    NGX_EVBUS_SPOOL_ERROR_KIND,
    NGX_EVBUS_SPOOL_NFIELDS2,                /* the fields of EVB2 */
    NGX_EVBUS_SPOOL_TRACEPARENT = NGX_EVBUS_SPOOL_NFIELDS2,
    NGX_EVBUS_SPOOL_TRACESTATE,
    NGX_EVBUS_SPOOL_DEAD_LETTER,
    NGX_EVBUS_SPOOL_NFIELDS
} ngx_evbus_spool_field_e;


typedef struct {
    const unsigned char        *data;        /* NULL when len is 0 */
    size_t                      len;
} ngx_evbus_spool_field_t;


typedef struct {
    int64_t                     timestamp;
    ngx_evbus_spool_field_t     field[NGX_EVBUS_SPOOL_NFIELDS];
} ngx_evbus_spool_record_t;


/* the size of the encoded record, header included; 0: it cannot be one */
size_t ngx_evbus_spool_record_size(const ngx_evbus_spool_record_t *rec);

/* writes ngx_evbus_spool_record_size() bytes, an EVB3 record */
void ngx_evbus_spool_record_encode(unsigned char *buf,
    const ngx_evbus_spool_record_t *rec);

/*
 * Decodes the record (EVB3 or EVB2) at the start of buf; the fields point
 * into buf, those an EVB2 record has not are empty.
 * OK: *size is the record's size; SHORT: buf ends before the record does,
 * *size is the record's size when its header is whole, else 0; CORRUPT: a
 * bad magic, length or checksum.
 */
int ngx_evbus_spool_record_decode(const unsigned char *buf, size_t n,
    ngx_evbus_spool_record_t *rec, size_t *size);

uint32_t ngx_evbus_spool_record_crc32(const unsigned char *p, size_t len);


#endif /* _NGX_EVBUS_SPOOL_RECORD_H_INCLUDED_ */


/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_SEGMENT_H_INCLUDED_
#define _NGX_EVBUS_SEGMENT_H_INCLUDED_


/*
 * Segment's HTTP Tracking API (evbus_format segment): the names of its
 * calls and paths, and the rule that turns a track call's event name into
 * an event_type.  No nginx types: the event core uses it.
 */

#include <stddef.h>


#define NGX_EVBUS_SEGMENT_NONE       0
#define NGX_EVBUS_SEGMENT_TRACK      1
#define NGX_EVBUS_SEGMENT_IDENTIFY   2
#define NGX_EVBUS_SEGMENT_PAGE       3
#define NGX_EVBUS_SEGMENT_SCREEN     4
#define NGX_EVBUS_SEGMENT_GROUP      5
#define NGX_EVBUS_SEGMENT_ALIAS      6
#define NGX_EVBUS_SEGMENT_BATCH      7    /* a path only */

/* 32 KB per event, 500 KB per batch, 2,500 events per batch */
#define NGX_EVBUS_SEGMENT_EVENT_MAX  32768
#define NGX_EVBUS_SEGMENT_BODY_MAX   512000
#define NGX_EVBUS_SEGMENT_EVENTS_MAX 2500


/* a "type" value: NGX_EVBUS_SEGMENT_TRACK..ALIAS, or NONE */
int ngx_evbus_segment_type(const unsigned char *s, size_t len);

/*
 * a request path's last segment, long or short ("track" or "t", "batch"
 * or "b"): a call type, NGX_EVBUS_SEGMENT_BATCH, or NONE
 */
int ngx_evbus_segment_path(const unsigned char *path, size_t len);

/* "track", "identify", ... */
const char *ngx_evbus_segment_type_name(int type, size_t *len);

/*
 * A track call's event name as an event_type, into dst (at least
 * NGX_EVBUS_EVENT_TYPE_MAX bytes): letters lowercased, every run of
 * characters other than A-Z a-z 0-9 _ . - one "_", none at either end,
 * at most NGX_EVBUS_EVENT_TYPE_MAX bytes; 0 when nothing is left.
 */
size_t ngx_evbus_segment_name(unsigned char *dst, const unsigned char *src,
    size_t len);


#endif /* _NGX_EVBUS_SEGMENT_H_INCLUDED_ */

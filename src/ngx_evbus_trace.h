
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_TRACE_H_INCLUDED_
#define _NGX_EVBUS_TRACE_H_INCLUDED_


#include <stddef.h>


#define NGX_EVBUS_TRACESTATE_MAX  512


/*
 * W3C Trace Context: 1 when the header value is well formed, else 0.
 * traceparent: version-traceid-parentid-flags, lowercase hex, ids not
 * all zero, version not ff, exactly 55 bytes for version 00.
 * tracestate: at most 32 key=value members, 512 bytes.
 */
int ngx_evbus_traceparent_valid(const unsigned char *p, size_t len);
int ngx_evbus_tracestate_valid(const unsigned char *p, size_t len);


#endif /* _NGX_EVBUS_TRACE_H_INCLUDED_ */

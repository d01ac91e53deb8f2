
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_LOG_H_INCLUDED_
#define _NGX_EVBUS_LOG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * error.log lines that clients can cause, one per event or per request,
 * go through here: at most one line a second per limiter and worker, the
 * line carrying the count of those not logged since the previous one; and
 * the client's bytes in them are escaped, so that no newline or control
 * byte reaches the log and no line can be forged.
 */

/* the longest escaped client text in a line, "..." included */
#define NGX_EVBUS_LOG_STR_LEN  512


typedef struct {
    time_t                 logged;    /* the second of the last line */
    ngx_uint_t             skipped;   /* lines not logged since */
} ngx_evbus_log_limit_t;


/*
 * 1: log the line now, with *skipped lines not logged before it;
 * 0: not now (counted)
 */
ngx_uint_t ngx_evbus_log_limit(ngx_evbus_log_limit_t *limit,
    ngx_uint_t *skipped);

/*
 * Printable ASCII is copied, every other byte and '\' become "\xNN";
 * at most size bytes are written (size >= 8), ending in "..." when the
 * text is cut.  Returns the end of what was written.
 */
u_char *ngx_evbus_log_escape(u_char *dst, size_t size, const u_char *src,
    size_t len);


#endif /* _NGX_EVBUS_LOG_H_INCLUDED_ */

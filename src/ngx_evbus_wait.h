
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_WAIT_H_INCLUDED_
#define _NGX_EVBUS_WAIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>


/*
 * A request waiting for the outcome of its events (delivery reports, spool
 * writes).  It lives on the heap, never in the request's pool: reports can
 * come after the client has gone.  "data" is the request, or NULL once the
 * request has been detached from it; the wait is freed when the last
 * outcome has arrived and no request is attached.
 */

typedef struct ngx_evbus_wait_s  ngx_evbus_wait_t;

typedef void (*ngx_evbus_wait_pt)(ngx_evbus_wait_t *wait);

typedef struct {
    int64_t             offset;
    int32_t             partition;
    int32_t             err;              /* rd_kafka_resp_err_t */
    unsigned            done:1;
    unsigned            spooled:1;
} ngx_evbus_result_t;

struct ngx_evbus_wait_s {
    void               *data;
    ngx_evbus_wait_pt   handler;          /* all outcomes in, data set */
    ngx_uint_t          pending;
    ngx_uint_t          nresults;
    ngx_evbus_result_t *results;
    ngx_event_t         timer;
    ngx_pool_cleanup_t *cleanup;
};


ngx_evbus_wait_t *ngx_evbus_wait_create(ngx_uint_t n, ngx_log_t *log);
void ngx_evbus_wait_report(ngx_evbus_wait_t *wait, ngx_uint_t index,
    int32_t partition, int64_t offset, int err, ngx_uint_t spooled);
void ngx_evbus_wait_detach(ngx_evbus_wait_t *wait);

/* the worker is exiting: outcomes still arrive, no request is touched */
void ngx_evbus_wait_close(void);


#endif /* _NGX_EVBUS_WAIT_H_INCLUDED_ */


/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_evbus_wait.h"


static ngx_uint_t  ngx_evbus_wait_closed;


ngx_evbus_wait_t *
ngx_evbus_wait_create(ngx_uint_t n, ngx_log_t *log)
{
    ngx_evbus_wait_t  *wait;

    wait = ngx_calloc(sizeof(ngx_evbus_wait_t)
                      + n * sizeof(ngx_evbus_result_t), log);
    if (wait == NULL) {
        return NULL;
    }

    wait->nresults = n;
    wait->results = (ngx_evbus_result_t *) (wait + 1);

    return wait;
}


void
ngx_evbus_wait_report(ngx_evbus_wait_t *wait, ngx_uint_t index,
    int32_t partition, int64_t offset, int err, ngx_uint_t spooled)
{
    ngx_evbus_result_t  *res;

    if (index < wait->nresults) {
        res = &wait->results[index];
        res->partition = partition;
        res->offset = offset;
        res->err = err;
        res->done = 1;
        res->spooled = spooled;
    }

    if (--wait->pending) {
        return;
    }

    /* a worker that is exiting touches no request */

    if (wait->data && !ngx_terminate && !ngx_evbus_wait_closed) {
        wait->handler(wait);
    }

    if (wait->data == NULL) {
        ngx_evbus_wait_detach(wait);
    }
}


/* the request is gone or answered: free the wait once nothing refers to it */

void
ngx_evbus_wait_detach(ngx_evbus_wait_t *wait)
{
    wait->data = NULL;

    if (wait->cleanup) {
        wait->cleanup->handler = NULL;
        wait->cleanup = NULL;
    }

    if (wait->timer.timer_set) {
        ngx_del_timer(&wait->timer);
    }

    if (wait->pending == 0) {
        ngx_free(wait);
    }
}


void
ngx_evbus_wait_close(void)
{
    ngx_evbus_wait_closed = 1;
}

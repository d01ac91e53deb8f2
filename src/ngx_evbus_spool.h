
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_SPOOL_H_INCLUDED_
#define _NGX_EVBUS_SPOOL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_evbus_msg.h"


#define NGX_EVBUS_FSYNC_OFF      0
#define NGX_EVBUS_FSYNC_BATCH    1
#define NGX_EVBUS_FSYNC_ALWAYS   2


typedef struct {
    ngx_str_t           path;
    off_t               max_size;
    ngx_uint_t          fsync;
    void               *thread_pool;
} ngx_evbus_spool_conf_t;


typedef struct {
    void                       *data;
    ngx_uint_t                  index;
} ngx_evbus_spool_waiter_t;

/*
 * A batch has been written (err 0: "nrecords" records are in the spool)
 * or has failed; the waiters are those given to ngx_evbus_spool_write().
 */
typedef void (*ngx_evbus_spool_written_pt)(ngx_uint_t nrecords,
    ngx_evbus_spool_waiter_t *waiters, ngx_uint_t nwaiters, ngx_err_t err);

/* NGX_OK: the record is taken or dropped; NGX_AGAIN: stop, try later */
typedef ngx_int_t (*ngx_evbus_spool_read_pt)(ngx_evbus_msg_t *msg);


char *ngx_evbus_spool_conf(ngx_conf_t *cf, ngx_evbus_spool_conf_t **spool);

ngx_int_t ngx_evbus_spool_init_process(ngx_cycle_t *cycle,
    ngx_evbus_spool_conf_t *conf, ngx_evbus_spool_written_pt written);
void ngx_evbus_spool_exit_begin(ngx_cycle_t *cycle);
void ngx_evbus_spool_exit_process(ngx_cycle_t *cycle);

ngx_uint_t ngx_evbus_spool_enabled(void);
off_t ngx_evbus_spool_bytes(void);

/*
 * NGX_OK: taken (written at once while exiting, else with the pending
 * batch; "data", if any, then goes to the written callback); NGX_BUSY: the
 * spool is full; NGX_ERROR: no spool or an I/O error.
 */
ngx_int_t ngx_evbus_spool_write(ngx_evbus_msg_t *msg, void *data,
    ngx_uint_t index);

/* looks for files left by earlier processes, now and then */
void ngx_evbus_spool_rescan(void);

/* hands stored records to the handler; returns 1 when more is waiting */
ngx_uint_t ngx_evbus_spool_replay(ngx_evbus_spool_read_pt handler);


#endif /* _NGX_EVBUS_SPOOL_H_INCLUDED_ */

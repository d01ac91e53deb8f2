
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
 * The index that marks "data" as a spool file handed out by replay (in
 * waiters and in the producer's opaque): its records' outcomes go back to
 * ngx_evbus_spool_replayed().
 */
#define NGX_EVBUS_SPOOL_REPLAYED  ((ngx_uint_t) -1)

/*
 * A batch has been written (err 0: "nrecords" records are in the spool)
 * or has failed; the waiters are those given to ngx_evbus_spool_write().
 */
typedef void (*ngx_evbus_spool_written_pt)(ngx_uint_t nrecords,
    ngx_evbus_spool_waiter_t *waiters, ngx_uint_t nwaiters, ngx_err_t err);

/*
 * A record read back for replay, from "file".  NGX_OK: taken, its outcome
 * comes back through ngx_evbus_spool_replayed(file, ok); NGX_DECLINED:
 * dropped; NGX_AGAIN: stop, try later.
 */
typedef ngx_int_t (*ngx_evbus_spool_read_pt)(ngx_evbus_msg_t *msg,
    void *file);


char *ngx_evbus_spool_conf(ngx_conf_t *cf, ngx_evbus_spool_conf_t **spool);

/* at the end of the http block: the directory against the worker user */
char *ngx_evbus_spool_conf_check(ngx_conf_t *cf,
    ngx_evbus_spool_conf_t *conf);

ngx_int_t ngx_evbus_spool_init_process(ngx_cycle_t *cycle,
    ngx_evbus_spool_conf_t *conf, ngx_evbus_spool_written_pt written);
void ngx_evbus_spool_exit_begin(ngx_cycle_t *cycle);
void ngx_evbus_spool_exit_process(ngx_cycle_t *cycle);

ngx_uint_t ngx_evbus_spool_enabled(void);
off_t ngx_evbus_spool_bytes(void);

/*
 * NGX_OK: taken, written with the pending batch; "data", if any, then goes
 * to the written callback, never before this function has returned.
 * While exiting the record is written at once, and a write with "data" is
 * refused (NGX_DECLINED).  NGX_BUSY: the spool is full; NGX_ERROR: no
 * spool, or no file can be written: nothing of "data" is kept.
 */
ngx_int_t ngx_evbus_spool_write(ngx_evbus_msg_t *msg, void *data,
    ngx_uint_t index);

/* looks for files left by earlier processes, now and then */
void ngx_evbus_spool_rescan(void);

/*
 * Hands stored records to the handler; returns 1 when more is waiting.  A
 * file is removed once every record of it has had a successful outcome;
 * one with a failed record is replayed again, whole.
 */
ngx_uint_t ngx_evbus_spool_replay(ngx_evbus_spool_read_pt handler);
void ngx_evbus_spool_replayed(void *file, ngx_uint_t ok);


#endif /* _NGX_EVBUS_SPOOL_H_INCLUDED_ */

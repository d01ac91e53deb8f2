
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_SPOOL_H_INCLUDED_
#define _NGX_EVBUS_SPOOL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_evbus_kafka.h"


#define NGX_EVBUS_FSYNC_OFF      0
#define NGX_EVBUS_FSYNC_BATCH    1
#define NGX_EVBUS_FSYNC_ALWAYS   2


typedef struct {
    ngx_str_t           path;
    off_t               max_size;
    ngx_uint_t          fsync;
    void               *thread_pool;
} ngx_evbus_spool_conf_t;


char *ngx_evbus_spool_conf(ngx_conf_t *cf, ngx_evbus_spool_conf_t **spool);

ngx_int_t ngx_evbus_spool_init_process(ngx_cycle_t *cycle,
    ngx_evbus_spool_conf_t *conf);
void ngx_evbus_spool_exit_begin(ngx_cycle_t *cycle);
void ngx_evbus_spool_exit_process(ngx_cycle_t *cycle);

ngx_uint_t ngx_evbus_spool_enabled(void);
off_t ngx_evbus_spool_bytes(void);

/*
 * NGX_OK: taken (written at once while exiting, else when the pending
 * batch is written; a wait then gets the outcome); NGX_BUSY: the spool is
 * full; NGX_ERROR: no spool or an I/O error.
 */
ngx_int_t ngx_evbus_spool_write(ngx_evbus_kafka_msg_t *msg,
    ngx_evbus_wait_t *wait, ngx_uint_t index);

/* replays what can be replayed; returns 1 when more is waiting */
ngx_uint_t ngx_evbus_spool_tick(void);


#endif /* _NGX_EVBUS_SPOOL_H_INCLUDED_ */

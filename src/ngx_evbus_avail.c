
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_evbus_avail.h"


/*
 * One word in a shared memory zone that survives reloads: the time since
 * which no broker is known to be up, or 0.  A new zone starts "down since
 * now" (no broker has been seen up since start); the first delivery or
 * broker found up clears it, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN sets it.
 * The time is ngx_current_msec, a monotonic clock every process shares.
 */

typedef struct {
    ngx_atomic_t                down_since;
} ngx_evbus_avail_shctx_t;


static ngx_int_t ngx_evbus_avail_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);


static ngx_evbus_avail_shctx_t  *ngx_evbus_avail;

static ngx_str_t  ngx_evbus_avail_zone_name = ngx_string("evbus_brokers");


ngx_int_t
ngx_evbus_avail_conf(ngx_conf_t *cf, void *tag)
{
    ngx_shm_zone_t  *shm_zone;

    shm_zone = ngx_shared_memory_add(cf, &ngx_evbus_avail_zone_name,
                                     8 * ngx_pagesize, tag);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_evbus_avail_init_zone;

    return NGX_OK;
}


static ngx_int_t
ngx_evbus_avail_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t           *shpool;
    ngx_evbus_avail_shctx_t  *sh;

    if (data) {
        shm_zone->data = data;
        ngx_evbus_avail = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        ngx_evbus_avail = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_evbus_avail_shctx_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh->down_since = ngx_max(ngx_current_msec, 1);

    shpool->data = sh;
    shm_zone->data = sh;
    ngx_evbus_avail = sh;

    return NGX_OK;
}


void
ngx_evbus_avail_down(void)
{
    if (ngx_evbus_avail) {
        (void) ngx_atomic_cmp_set(&ngx_evbus_avail->down_since, 0,
                                  ngx_max(ngx_current_msec, 1));
    }
}


void
ngx_evbus_avail_up(void)
{
    /* read first: every delivery calls this */

    if (ngx_evbus_avail && ngx_evbus_avail->down_since) {
        ngx_evbus_avail->down_since = 0;
    }
}


ngx_msec_t
ngx_evbus_avail_down_since(void)
{
    return ngx_evbus_avail ? (ngx_msec_t) ngx_evbus_avail->down_since : 0;
}

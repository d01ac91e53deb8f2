
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_PRIORITY_H_INCLUDED_
#define _NGX_EVBUS_PRIORITY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * Event priorities under overload (evbus_priority, evbus_shed): an event
 * is shed when its worker's Kafka queue is fuller than its priority's
 * threshold; critical events only when nothing can take them.
 */

#define NGX_EVBUS_PRIORITY_LOW       0
#define NGX_EVBUS_PRIORITY_NORMAL    1
#define NGX_EVBUS_PRIORITY_HIGH      2
#define NGX_EVBUS_PRIORITY_CRITICAL  3
#define NGX_EVBUS_PRIORITY_N         4

/* a threshold no queue exceeds: never shed */
#define NGX_EVBUS_SHED_NEVER         100


ngx_int_t ngx_evbus_priority_parse(u_char *data, size_t len);
const char *ngx_evbus_priority_name(ngx_uint_t priority);


#endif /* _NGX_EVBUS_PRIORITY_H_INCLUDED_ */

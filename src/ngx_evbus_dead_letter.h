
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_DEAD_LETTER_H_INCLUDED_
#define _NGX_EVBUS_DEAD_LETTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_event.h"


/*
 * A rejected event: to evbus_dead_letter_topic when there is one and the
 * event could be delimited, else counted and logged at info.  metadata is
 * the request's enrichment members, as spliced into accepted events.
 */
void ngx_http_evbus_dead_letter(ngx_http_request_t *r, ngx_evbus_event_t *ev,
    ngx_str_t *metadata, ngx_str_t *timestamp, int64_t now);


#endif /* _NGX_EVBUS_DEAD_LETTER_H_INCLUDED_ */

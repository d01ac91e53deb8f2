
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_module.h"
#include "ngx_evbus_priority.h"
#include "ngx_evbus_overload.h"


/*
 * Priorities under overload, the HTTP side: evbus_priority is evaluated
 * for every event (usually a volatile map on $evbus_event_type) and, with
 * the location's evbus_shed thresholds, tells the outbox how full the
 * worker's queue may be for the event to be admitted.  Locations without
 * evbus_priority shed nothing.
 */


static ngx_uint_t  ngx_http_evbus_shed_default[] = { 50, 75, 90 };


/* evbus_shed [low=N%] [normal=N%] [high=N%]; */

char *
ngx_http_evbus_shed(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_evbus_loc_conf_t  *elcf = conf;

    u_char      *eq;
    ngx_int_t    pri, n;
    ngx_str_t   *value, name, num;
    ngx_uint_t   i;

    if (elcf->shed[0] != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    ngx_memcpy(elcf->shed, ngx_http_evbus_shed_default,
               sizeof(ngx_http_evbus_shed_default));

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        eq = ngx_strlchr(value[i].data, value[i].data + value[i].len, '=');

        if (eq == NULL) {
            goto invalid;
        }

        name.data = value[i].data;
        name.len = eq - name.data;
        num.data = eq + 1;
        num.len = value[i].data + value[i].len - num.data;

        pri = ngx_evbus_priority_parse(name.data, name.len);

        if (pri == NGX_ERROR || pri == NGX_EVBUS_PRIORITY_CRITICAL) {
            goto invalid;
        }

        if (num.len < 2 || num.data[num.len - 1] != '%') {
            goto invalid;
        }

        n = ngx_atoi(num.data, num.len - 1);

        if (n == NGX_ERROR || n > 100) {
            goto invalid;
        }

        elcf->shed[pri] = n;
    }

    if (elcf->shed[NGX_EVBUS_PRIORITY_LOW]
        > elcf->shed[NGX_EVBUS_PRIORITY_NORMAL]
        || elcf->shed[NGX_EVBUS_PRIORITY_NORMAL]
           > elcf->shed[NGX_EVBUS_PRIORITY_HIGH])
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"evbus_shed\" thresholds must not decrease from"
                           " low to high");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\", use low=N%%, normal=N%%"
                       " or high=N%%", &value[i]);

    return NGX_CONF_ERROR;
}


char *
ngx_http_evbus_overload_merge(ngx_conf_t *cf,
    ngx_http_evbus_loc_conf_t *prev, ngx_http_evbus_loc_conf_t *conf)
{
    ngx_int_t  pri;

    ngx_conf_merge_ptr_value(conf->priority, prev->priority, NULL);

    if (conf->shed[0] == NGX_CONF_UNSET_UINT) {
        if (prev->shed[0] == NGX_CONF_UNSET_UINT) {
            ngx_memcpy(conf->shed, ngx_http_evbus_shed_default,
                       sizeof(ngx_http_evbus_shed_default));

        } else {
            ngx_memcpy(conf->shed, prev->shed, sizeof(conf->shed));
        }
    }

    if (conf->priority && conf->priority->lengths == NULL) {
        pri = ngx_evbus_priority_parse(conf->priority->value.data,
                                       conf->priority->value.len);
        if (pri == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid evbus_priority \"%V\", use critical,"
                               " high, normal or low",
                               &conf->priority->value);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * The priority of the event being produced: evbus_priority is evaluated
 * again for each event, so a map on $evbus_event_type (non-cacheable) must
 * be "volatile" or nginx keeps the first event's result for the request.
 */

void
ngx_http_evbus_overload_priority(ngx_http_request_t *r,
    ngx_http_evbus_loc_conf_t *elcf, ngx_evbus_msg_t *msg)
{
    ngx_int_t   pri;
    ngx_str_t   value;

    static time_t  logged;

    msg->priority = NGX_EVBUS_PRIORITY_NORMAL;
    msg->shed_above = NGX_EVBUS_SHED_NEVER;

    if (elcf->priority == NULL) {
        return;
    }

    if (ngx_http_complex_value(r, elcf->priority, &value) != NGX_OK) {
        value.len = 0;
    }

    pri = value.len ? ngx_evbus_priority_parse(value.data, value.len)
                    : NGX_EVBUS_PRIORITY_NORMAL;

    if (pri == NGX_ERROR) {
        if (logged != ngx_time()) {
            logged = ngx_time();
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "evbus: unknown evbus_priority \"%V\", taken for"
                          " normal", &value);
        }

        pri = NGX_EVBUS_PRIORITY_NORMAL;
    }

    msg->priority = pri;

    if (pri != NGX_EVBUS_PRIORITY_CRITICAL) {
        msg->shed_above = elcf->shed[pri];
    }
}

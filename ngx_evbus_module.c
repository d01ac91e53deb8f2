
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_module.h"
#include "ngx_evbus_ctx.h"
#include "ngx_evbus_json.h"
#include "ngx_evbus_handler.h"
#include "ngx_evbus_response.h"
#include "ngx_evbus_outbox.h"
#include "ngx_evbus_stats.h"
#include "ngx_evbus_health.h"
#include "ngx_evbus_schema_conf.h"
#include "ngx_evbus_avail.h"
#include "ngx_evbus_observe.h"
#include "ngx_evbus_cors.h"
#include "ngx_evbus_write_key.h"
#include "ngx_evbus_metadata.h"
#include "ngx_evbus_overload.h"

#include <librdkafka/rdkafka.h>
#include <yajl/yajl_version.h>


#define NGX_EVBUS_DEFAULT_TOPIC  "events"


static ngx_int_t ngx_http_evbus_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_evbus_init(ngx_conf_t *cf);
static void *ngx_http_evbus_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_evbus_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_evbus_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_evbus_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_evbus(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_evbus_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_evbus_health(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_evbus_brokers(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_evbus_kafka_property(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_evbus_source_service(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_evbus_spool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_evbus_add_topic(ngx_conf_t *cf,
    ngx_http_evbus_main_conf_t *emcf, ngx_str_t *topic);
static ngx_int_t ngx_http_evbus_check_kafka(ngx_conf_t *cf,
    ngx_http_evbus_main_conf_t *emcf);
static ngx_int_t ngx_http_evbus_variable_event_type(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_evbus_variable_count(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_evbus_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_evbus_init_process(ngx_cycle_t *cycle);
static void ngx_http_evbus_exit_process(ngx_cycle_t *cycle);


static ngx_conf_num_bounds_t  ngx_http_evbus_max_events_bounds = {
    ngx_conf_check_num_bounds, 1, 1000000
};

static ngx_conf_num_bounds_t  ngx_http_evbus_max_depth_bounds = {
    ngx_conf_check_num_bounds, 1, 1000
};

static ngx_conf_num_bounds_t  ngx_http_evbus_max_topics_bounds = {
    ngx_conf_check_num_bounds, 0, 100000
};


static ngx_conf_num_bounds_t  ngx_http_evbus_schema_version_bounds = {
    ngx_conf_check_num_bounds, 1, 0x7fffffff
};


static ngx_conf_enum_t  ngx_http_evbus_unknown_types[] = {
    { ngx_string("reject"), NGX_EVBUS_UNKNOWN_REJECT },
    { ngx_string("accept"), NGX_EVBUS_UNKNOWN_ACCEPT },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_evbus_ack[] = {
    { ngx_string("queued"), NGX_EVBUS_ACK_QUEUED },
    { ngx_string("kafka"), NGX_EVBUS_ACK_KAFKA },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_evbus_format[] = {
    { ngx_string("evbus"), NGX_HTTP_EVBUS_FORMAT_EVBUS },
    { ngx_string("segment"), NGX_HTTP_EVBUS_FORMAT_SEGMENT },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_evbus_commands[] = {

    { ngx_string("evbus"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_evbus,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("evbus_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_evbus_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("evbus_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_evbus_health,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("evbus_stats_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE123,
      ngx_http_evbus_stats_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_evbus_main_conf_t, stats_zone),
      NULL },

    { ngx_string("evbus_brokers"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_evbus_brokers,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("evbus_kafka_property"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_evbus_kafka_property,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("evbus_flush_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_evbus_main_conf_t, flush_timeout),
      NULL },

    { ngx_string("evbus_unavailable_after"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_evbus_main_conf_t, unavailable_after),
      NULL },

    { ngx_string("evbus_max_topics"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_evbus_main_conf_t, max_topics),
      &ngx_http_evbus_max_topics_bounds },

    { ngx_string("evbus_spool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_evbus_spool,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("evbus_ack"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_evbus_loc_conf_t, ack),
      &ngx_http_evbus_ack },

    { ngx_string("evbus_ack_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_evbus_loc_conf_t, ack_timeout),
      NULL },

    { ngx_string("evbus_topic"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_evbus_loc_conf_t, topic),
      NULL },

    { ngx_string("evbus_source_service"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_evbus_source_service,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("evbus_max_event_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_evbus_loc_conf_t, max_event_size),
      NULL },

    { ngx_string("evbus_max_events"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_evbus_loc_conf_t, max_events),
      &ngx_http_evbus_max_events_bounds },

    { ngx_string("evbus_max_depth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_evbus_loc_conf_t, max_depth),
      &ngx_http_evbus_max_depth_bounds },

    { ngx_string("evbus_schemas"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_evbus_schemas,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("evbus_schema_default_version"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_evbus_loc_conf_t, schema_default_version),
      &ngx_http_evbus_schema_version_bounds },

    { ngx_string("evbus_unknown_types"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_evbus_loc_conf_t, unknown_types),
      &ngx_http_evbus_unknown_types },

    { ngx_string("evbus_dead_letter_topic"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_evbus_loc_conf_t, dead_letter_topic),
      NULL },

    { ngx_string("evbus_cors_origins"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_evbus_cors_origins,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_evbus_loc_conf_t, cors),
      NULL },

    { ngx_string("evbus_accept_text_plain"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_evbus_loc_conf_t, accept_text_plain),
      NULL },

    { ngx_string("evbus_max_inflated_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_evbus_loc_conf_t, max_inflated_size),
      NULL },

    { ngx_string("evbus_write_keys"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_evbus_write_keys,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_evbus_loc_conf_t, write_keys),
      NULL },

    { ngx_string("evbus_metadata"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_evbus_metadata,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_evbus_loc_conf_t, metadata),
      NULL },

    { ngx_string("evbus_priority"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_evbus_loc_conf_t, priority),
      NULL },

    { ngx_string("evbus_shed"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_evbus_shed,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("evbus_format"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_evbus_loc_conf_t, format),
      &ngx_http_evbus_format },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_evbus_module_ctx = {
    ngx_http_evbus_add_variables,          /* preconfiguration */
    ngx_http_evbus_init,                   /* postconfiguration */

    ngx_http_evbus_create_main_conf,       /* create main configuration */
    ngx_http_evbus_init_main_conf,         /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_evbus_create_loc_conf,        /* create location configuration */
    ngx_http_evbus_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_evbus_module = {
    NGX_MODULE_V1,
    &ngx_http_evbus_module_ctx,            /* module context */
    ngx_http_evbus_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_evbus_init_module,            /* init module */
    ngx_http_evbus_init_process,           /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_evbus_exit_process,           /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_evbus_request_id = ngx_string("request_id");


static ngx_http_variable_t  ngx_http_evbus_vars[] = {

    { ngx_string("evbus_event_type"), NULL,
      ngx_http_evbus_variable_event_type, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("evbus_accepted"), NULL,
      ngx_http_evbus_variable_count,
      offsetof(ngx_http_evbus_ctx_t, accepted),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("evbus_rejected"), NULL,
      ngx_http_evbus_variable_count,
      offsetof(ngx_http_evbus_ctx_t, rejected),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("evbus_result"), NULL,
      ngx_http_evbus_variable_result, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("evbus_event_types"), NULL,
      ngx_http_evbus_variable_event_types, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("evbus_delivery_ms"), NULL,
      ngx_http_evbus_variable_delivery_ms, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("evbus_write_key"), NULL,
      ngx_http_evbus_write_key_variable, 0, 0, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_http_evbus_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_evbus_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_http_evbus_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_evbus_main_conf_t  *emcf;

    emcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_evbus_main_conf_t));
    if (emcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     emcf->brokers = { 0, NULL };
     *     emcf->properties_line = 0;
     */

    if (ngx_array_init(&emcf->topics, cf->pool, 4, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&emcf->locations, cf->pool, 4,
                       sizeof(ngx_http_evbus_loc_conf_t *))
        != NGX_OK)
    {
        return NULL;
    }

    emcf->kafka_conf = ngx_evbus_kafka_conf_create(cf);
    if (emcf->kafka_conf == NULL) {
        return NULL;
    }

    emcf->flush_timeout = NGX_CONF_UNSET_MSEC;
    emcf->unavailable_after = NGX_CONF_UNSET_MSEC;
    emcf->max_topics = NGX_CONF_UNSET_UINT;

    return emcf;
}


static char *
ngx_http_evbus_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_evbus_main_conf_t  *emcf = conf;

    ngx_conf_init_msec_value(emcf->flush_timeout, 5000);
    ngx_conf_init_msec_value(emcf->unavailable_after, 10000);
    ngx_conf_init_uint_value(emcf->max_topics, 64);

    if (emcf->unavailable_after == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"evbus_unavailable_after\" must not be zero");
        return NGX_CONF_ERROR;
    }

    if (emcf->spool
        && ngx_evbus_spool_conf_check(cf, emcf->spool) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_evbus_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_evbus_loc_conf_t  *elcf;

    elcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_evbus_loc_conf_t));
    if (elcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     elcf->source_service = { 0, NULL };
     *     elcf->source_service_raw = { 0, NULL };
     *     elcf->dead_letter_topic = { 0, NULL };
     */

    elcf->enable = NGX_CONF_UNSET;
    elcf->topic = NGX_CONF_UNSET_PTR;
    elcf->max_event_size = NGX_CONF_UNSET_SIZE;
    elcf->max_events = NGX_CONF_UNSET_UINT;
    elcf->max_depth = NGX_CONF_UNSET_UINT;
    elcf->ack = NGX_CONF_UNSET_UINT;
    elcf->ack_timeout = NGX_CONF_UNSET_MSEC;
    elcf->schemas = NGX_CONF_UNSET_PTR;
    elcf->schema_default_version = NGX_CONF_UNSET;
    elcf->unknown_types = NGX_CONF_UNSET_UINT;
    elcf->cors = NGX_CONF_UNSET_PTR;
    elcf->accept_text_plain = NGX_CONF_UNSET;
    elcf->max_inflated_size = NGX_CONF_UNSET_SIZE;
    elcf->write_keys = NGX_CONF_UNSET_PTR;
    elcf->metadata = NGX_CONF_UNSET_PTR;
    elcf->priority = NGX_CONF_UNSET_PTR;
    elcf->shed[0] = NGX_CONF_UNSET_UINT;
    elcf->format = NGX_CONF_UNSET_UINT;

    return elcf;
}


static char *
ngx_http_evbus_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_evbus_loc_conf_t  *prev = parent;
    ngx_http_evbus_loc_conf_t  *conf = child;

    size_t                             len;
    ngx_str_t                         *raw;
    ngx_http_compile_complex_value_t   ccv;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_size_value(conf->max_event_size, prev->max_event_size,
                              32 * 1024);
    ngx_conf_merge_uint_value(conf->max_events, prev->max_events, 500);
    ngx_conf_merge_uint_value(conf->max_depth, prev->max_depth, 32);
    ngx_conf_merge_uint_value(conf->ack, prev->ack, NGX_EVBUS_ACK_QUEUED);
    ngx_conf_merge_msec_value(conf->ack_timeout, prev->ack_timeout, 10000);
    ngx_conf_merge_ptr_value(conf->schemas, prev->schemas, NULL);
    ngx_conf_merge_value(conf->schema_default_version,
                         prev->schema_default_version, 0);
    ngx_conf_merge_uint_value(conf->unknown_types, prev->unknown_types,
                              NGX_EVBUS_UNKNOWN_REJECT);
    ngx_conf_merge_str_value(conf->dead_letter_topic,
                             prev->dead_letter_topic, "");
    ngx_conf_merge_ptr_value(conf->cors, prev->cors, NULL);
    ngx_conf_merge_value(conf->accept_text_plain, prev->accept_text_plain, 0);
    ngx_conf_merge_size_value(conf->max_inflated_size,
                              prev->max_inflated_size, 1024 * 1024);
    ngx_conf_merge_ptr_value(conf->write_keys, prev->write_keys, NULL);
    ngx_conf_merge_ptr_value(conf->metadata, prev->metadata, NULL);
    ngx_conf_merge_uint_value(conf->format, prev->format,
                              NGX_HTTP_EVBUS_FORMAT_EVBUS);

    if (conf->ack_timeout == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"evbus_ack_timeout\" must not be zero");
        return NGX_CONF_ERROR;
    }

    if (conf->max_event_size == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"evbus_max_event_size\" must not be zero");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_evbus_overload_merge(cf, prev, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_ptr_value(conf->topic, prev->topic, NULL);

    if (conf->topic == NULL) {
        conf->topic = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (conf->topic == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.value = ngx_palloc(cf->pool, sizeof(ngx_str_t));
        if (ccv.value == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_str_set(ccv.value, NGX_EVBUS_DEFAULT_TOPIC);

        ccv.cf = cf;
        ccv.complex_value = conf->topic;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        prev->topic = conf->topic;
    }

    /* the http level's own conf is never merged: escape at every level */

    if (conf->source_service_raw.data == NULL) {
        conf->source_service_raw = prev->source_service_raw.data
                                   ? prev->source_service_raw
                                   : cf->cycle->hostname;
    }

    raw = &conf->source_service_raw;

    if (prev->source_service.data
        && prev->source_service_raw.data == raw->data)
    {
        conf->source_service = prev->source_service;
        return NGX_CONF_OK;
    }

    len = ngx_evbus_json_escape_len(raw->len);

    conf->source_service.data = ngx_pnalloc(cf->pool, len);
    if (conf->source_service.data == NULL) {
        return NGX_CONF_ERROR;
    }

    conf->source_service.len = ngx_evbus_json_escape(conf->source_service.data,
                                                     raw->data, raw->len)
                               - conf->source_service.data;

    return NGX_CONF_OK;
}


static char *
ngx_http_evbus(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_evbus_loc_conf_t  *elcf = conf;

    ngx_http_evbus_loc_conf_t   **loc;
    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_evbus_main_conf_t   *emcf;

    if (elcf->enable != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    elcf->enable = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_evbus_handler;

    emcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_evbus_module);

    loc = ngx_array_push(&emcf->locations);
    if (loc == NULL) {
        return NGX_CONF_ERROR;
    }

    *loc = elcf;

    return NGX_CONF_OK;
}


static char *
ngx_http_evbus_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_evbus_main_conf_t  *emcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_evbus_status_handler;

    emcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_evbus_module);
    emcf->status = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_evbus_health(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_evbus_main_conf_t  *emcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_evbus_health_handler;

    /* read from the statistics zone */

    emcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_evbus_module);
    emcf->status = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_evbus_brokers(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_evbus_main_conf_t *emcf = conf;

    u_char     *p, *last, *comma, *colon;
    ngx_int_t   port;
    ngx_str_t  *value;

    if (emcf->brokers.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = value[1].data;
    last = p + value[1].len;

    if (p == last) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "empty \"evbus_brokers\"");
        return NGX_CONF_ERROR;
    }

    while (p < last) {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        colon = NULL;

        for (colon = comma; colon > p; colon--) {
            if (colon[-1] == ':') {
                break;
            }
        }

        port = (colon > p + 1) ? ngx_atoi(colon, comma - colon) : NGX_ERROR;

        if (port < 1 || port > 65535) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid broker \"%*s\" in \"evbus_brokers\","
                               " expected host:port", comma - p, p);
            return NGX_CONF_ERROR;
        }

        p = comma + 1;
    }

    emcf->brokers = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_evbus_kafka_property(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_evbus_main_conf_t *emcf = conf;

    char       *rv;
    ngx_str_t  *value;

    value = cf->args->elts;

    rv = ngx_evbus_kafka_conf_set(cf, emcf->kafka_conf, &value[1], &value[2]);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    emcf->properties_file = cf->conf_file->file.name;
    emcf->properties_line = cf->conf_file->line;

    if (ngx_strcmp(value[1].data, "linger.ms") == 0
        || ngx_strcmp(value[1].data, "queue.buffering.max.ms") == 0)
    {
        emcf->linger_set = 1;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_evbus_source_service(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_evbus_loc_conf_t *elcf = conf;

    ngx_str_t  *value;

    if (elcf->source_service_raw.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "must not be empty";
    }

    elcf->source_service_raw = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_evbus_spool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_evbus_main_conf_t *emcf = conf;

    return ngx_evbus_spool_conf(cf, (ngx_evbus_spool_conf_t **) &emcf->spool);
}


static ngx_int_t
ngx_http_evbus_init(ngx_conf_t *cf)
{
    ngx_uint_t                    i;
    ngx_http_evbus_loc_conf_t   **loc;
    ngx_http_evbus_main_conf_t   *emcf;

    static ngx_str_t  linger = ngx_string("linger.ms");
    static ngx_str_t  queued_linger = ngx_string(NGX_EVBUS_QUEUED_LINGER);

    emcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_evbus_module);

    if (emcf->locations.nelts == 0 && !emcf->status) {
        return NGX_OK;
    }

    if (ngx_evbus_stats_conf(cf, &ngx_http_evbus_module, emcf->stats_zone)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (emcf->locations.nelts == 0) {
        return NGX_OK;
    }

    if (ngx_evbus_avail_conf(cf, &ngx_http_evbus_module) != NGX_OK) {
        return NGX_ERROR;
    }

    emcf->request_id_index = ngx_http_get_variable_index(cf,
                                                   &ngx_http_evbus_request_id);
    if (emcf->request_id_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (emcf->brokers.data == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"evbus_brokers\" is required in the http block"
                      " when a location uses \"evbus\"");
        return NGX_ERROR;
    }

    loc = emcf->locations.elts;

    for (i = 0; i < emcf->locations.nelts; i++) {
        if (loc[i]->topic != NGX_CONF_UNSET_PTR
            && loc[i]->topic != NULL
            && loc[i]->topic->lengths == NULL)
        {
            if (ngx_http_evbus_add_topic(cf, emcf, &loc[i]->topic->value)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        if (loc[i]->dead_letter_topic.len
            && ngx_http_evbus_add_topic(cf, emcf, &loc[i]->dead_letter_topic)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /*
     * The client of an "evbus_ack queued" location does not wait for
     * Kafka, so a longer linger costs it nothing and puts several events
     * into one produce request (each costs the worker ~25,000
     * instructions, docs/bench.md); "evbus_ack kafka" keeps the short one.
     */

    if (!emcf->linger_set) {
        for (i = 0; i < emcf->locations.nelts; i++) {
            if (loc[i]->ack == NGX_EVBUS_ACK_KAFKA) {
                break;
            }
        }

        if (i == emcf->locations.nelts
            && ngx_evbus_kafka_conf_set(cf, emcf->kafka_conf, &linger,
                                        &queued_linger)
               != NGX_CONF_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_evbus_kafka_conf_check(cf, emcf->kafka_conf,
                                   &emcf->properties_file,
                                   emcf->properties_line)
        != NGX_CONF_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_evbus_check_kafka(cf, emcf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_evbus_response_init(cf);
}


static ngx_int_t
ngx_http_evbus_add_topic(ngx_conf_t *cf, ngx_http_evbus_main_conf_t *emcf,
    ngx_str_t *topic)
{
    ngx_str_t   *t;
    ngx_uint_t   i;

    t = emcf->topics.elts;

    for (i = 0; i < emcf->topics.nelts; i++) {
        if (t[i].len == topic->len
            && ngx_strncmp(t[i].data, topic->data, topic->len) == 0)
        {
            return NGX_OK;
        }
    }

    t = ngx_array_push(&emcf->topics);
    if (t == NULL) {
        return NGX_ERROR;
    }

    *t = *topic;

    return NGX_OK;
}


/*
 * What librdkafka's settings say about the locations: "evbus_ack kafka"
 * promises an event is in Kafka, which only acks=all makes true; and the
 * largest event with its metadata must fit message.max.bytes, or every
 * such event fails at produce time.
 */

static ngx_int_t
ngx_http_evbus_check_kafka(ngx_conf_t *cf, ngx_http_evbus_main_conf_t *emcf)
{
    size_t                       size;
    ngx_int_t                    acks, max;
    ngx_uint_t                   i, warned;
    ngx_http_evbus_loc_conf_t  **loc;

    acks = ngx_evbus_kafka_conf_int(emcf->kafka_conf, "acks");
    max = ngx_evbus_kafka_conf_int(emcf->kafka_conf, "message.max.bytes");

    loc = emcf->locations.elts;
    warned = 0;

    for (i = 0; i < emcf->locations.nelts; i++) {

        if (loc[i]->ack == NGX_EVBUS_ACK_KAFKA && acks != -1 && !warned) {
            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "\"evbus_ack kafka\" with the Kafka property"
                          " \"acks\" %i: a delivery report then does not"
                          " mean every in-sync replica has the event"
                          " (use \"evbus_kafka_property acks all\")", acks);
            warned = 1;
        }

        size = ngx_http_evbus_handler_message_max(loc[i]->max_event_size,
                   &loc[i]->source_service,
                   ngx_http_evbus_metadata_max(loc[i]->metadata)
                   + ngx_http_evbus_write_key_max(loc[i]->write_keys));

        if (max > 0 && size > (size_t) max) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"evbus_max_event_size\" %uz plus up to %uz bytes"
                          " of metadata, key and headers exceeds the Kafka"
                          " property \"message.max.bytes\" %i",
                          loc[i]->max_event_size,
                          size - loc[i]->max_event_size, max);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_evbus_variable_event_type(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_evbus_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_evbus_module);

    if (ctx == NULL || ctx->event_type.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ctx->event_type.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = ctx->event_type.data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_evbus_variable_count(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                *p;
    ngx_http_evbus_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_evbus_module);

    if (ctx == NULL || !ctx->done) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%ui", *(ngx_uint_t *) ((char *) ctx + data)) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_evbus_init_module(ngx_cycle_t *cycle)
{
    int                v;
    static ngx_uint_t  logged;

    /*
     * Once per load of the module into a master (start, or the reload that
     * loads it), like "nginx/1.22.1"; not for "nginx -t" or "nginx -s".
     */

    if (logged || ngx_test_config || ngx_process == NGX_PROCESS_SIGNALLER) {
        return NGX_OK;
    }

    logged = 1;
    v = yajl_version();

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  NGX_EVBUS_VER " librdkafka/%s yajl/%d.%d.%d",
                  rd_kafka_version_str(), v / 10000, v / 100 % 100, v % 100);

    return NGX_OK;
}


static ngx_int_t
ngx_http_evbus_init_process(ngx_cycle_t *cycle)
{
    ngx_evbus_outbox_conf_t      conf;
    ngx_http_evbus_main_conf_t  *emcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    ngx_evbus_stats_init_process(cycle, &ngx_http_evbus_module);

    emcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_evbus_module);

    if (emcf == NULL || emcf->locations.nelts == 0) {
        return NGX_OK;
    }

    if (ngx_http_evbus_handler_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&conf, sizeof(ngx_evbus_outbox_conf_t));

    conf.kafka.brokers = emcf->brokers;
    conf.kafka.kafka_conf = emcf->kafka_conf;
    conf.kafka.topics = &emcf->topics;
    conf.kafka.flush_timeout = emcf->flush_timeout;
    conf.kafka.unavailable_after = emcf->unavailable_after;
    conf.kafka.max_topics = emcf->max_topics;
    conf.spool = emcf->spool;

    return ngx_evbus_outbox_init_process(cycle, &conf);
}


static void
ngx_http_evbus_exit_process(ngx_cycle_t *cycle)
{
    ngx_evbus_outbox_exit_process(cycle);
}

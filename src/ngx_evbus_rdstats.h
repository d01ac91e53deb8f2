
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_RDSTATS_H_INCLUDED_
#define _NGX_EVBUS_RDSTATS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_EVBUS_RDSTATS_BROKERS   8
#define NGX_EVBUS_RDSTATS_NAME_LEN  64


/* what evbus keeps of one broker in librdkafka's statistics JSON */

typedef struct {
    u_char                      name[NGX_EVBUS_RDSTATS_NAME_LEN];
    u_char                      state[16];
    ngx_uint_t                  up;
    uint64_t                    rtt_avg;         /* microseconds */
    uint64_t                    rtt_p99;
    uint64_t                    outstanding;     /* outbuf + waitresp */
    uint64_t                    tx;              /* requests sent */
    uint64_t                    txerrs;
    uint64_t                    txretries;
    uint64_t                    txbytes;
} ngx_evbus_rdstats_broker_t;


typedef struct {
    ngx_uint_t                  nbrokers;
    ngx_evbus_rdstats_broker_t  brokers[NGX_EVBUS_RDSTATS_BROKERS];
    uint64_t                    txmsgs;
    uint64_t                    txmsg_bytes;     /* before compression */
    uint64_t                    batch_bytes;     /* average, bytes */
    uint64_t                    batch_msgs;      /* average, messages */
} ngx_evbus_rdstats_t;


/*
 * Parses one statistics JSON document of librdkafka into *st, and logs
 * each broker's change between up and down once.  NGX_ERROR: not
 * statistics JSON.
 */
ngx_int_t ngx_evbus_rdstats_parse(const u_char *json, size_t len,
    ngx_evbus_rdstats_t *st, ngx_log_t *log);


#endif /* _NGX_EVBUS_RDSTATS_H_INCLUDED_ */

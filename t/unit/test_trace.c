
/*
 * Copyright (C) ngx_evbus authors
 */


/*
 * Unit tests of the W3C Trace Context checks (src/ngx_evbus_trace.c),
 * printed as TAP.
 */

#include <stdio.h>
#include <string.h>

#include "ngx_evbus_trace.h"

#include "support.h"


typedef struct {
    const char  *value;
    int          valid;
} tcase_t;


static const tcase_t  parents[] = {
    { "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 1 },
    { "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", 1 },
    { "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", 1 },
    { "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 1 },
    { "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", 0 },
    { "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", 0 },
    { "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0 },
    { "00-00000000000000000000000000000000-00f067aa0ba902b7-01", 0 },
    { "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", 0 },
    { "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", 0 },
    { "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", 0 },
    { "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g", 0 },
    { "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0 },
    { "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0 },
    { "", 0 },
    { NULL, 0 }
};


static const tcase_t  states[] = {
    { "congo=t61rcWkgMzE", 1 },
    { "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", 1 },
    { "rojo=1 , congo=2", 1 },
    { "tenant@vendor=x", 1 },
    { "a=b,,c=d", 1 },
    { "", 0 },
    { ",", 0 },
    { "=b", 0 },
    { "a=", 0 },
    { "A=b", 0 },
    { "a=b=c", 0 },
    { "a b=c", 0 },
    { "a=\x01", 0 },
    { NULL, 0 }
};


int
main(void)
{
    int              i;
    char             big[600];
    const tcase_t   *c;

    for (c = parents; c->value; c++) {
        ok(ngx_evbus_traceparent_valid((const unsigned char *) c->value,
                                       strlen(c->value)) == c->valid,
           "traceparent \"%s\": %s", c->value, c->valid ? "valid" : "invalid");
    }

    for (c = states; c->value; c++) {
        ok(ngx_evbus_tracestate_valid((const unsigned char *) c->value,
                                      strlen(c->value)) == c->valid,
           "tracestate \"%s\": %s", c->value, c->valid ? "valid" : "invalid");
    }

    big[0] = '\0';

    for (i = 0; i < 33; i++) {
        sprintf(big + strlen(big), "%sk%d=v", i ? "," : "", i);
    }

    ok(!ngx_evbus_tracestate_valid((const unsigned char *) big, strlen(big)),
       "tracestate: not 33 members");

    memset(big, 'a', 520);
    big[1] = '=';
    ok(!ngx_evbus_tracestate_valid((const unsigned char *) big, 520),
       "tracestate: not over 512 bytes");

    printf("1..%d\n", ntests);

    return nfailed ? 1 : 0;
}

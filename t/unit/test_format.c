
/*
 * Copyright (C) ngx_evbus authors
 */


/*
 * Unit tests of the "format" checkers (src/ngx_evbus_format.c), printed
 * as TAP: each format on values just inside and just outside it.
 */

#include <stdio.h>
#include <string.h>

#include "ngx_evbus_schema_int.h"

#include "support.h"


typedef struct {
    const char  *format;
    const char  *value;
    int          valid;
} fcase_t;


static const fcase_t  cases[] = {

    { "date-time", "2026-02-28T23:59:60.123+01:00", 1 },
    { "date-time", "2024-02-29T00:00:00Z", 1 },
    { "date-time", "2026-11-26t17:00:00z", 1 },
    { "date-time", "2026-11-26T17:00:00.5-23:59", 1 },
    { "date-time", "2023-02-29T00:00:00Z", 0 },
    { "date-time", "2026-01-01 10:00:00", 0 },
    { "date-time", "2026-11-26T17:00:00", 0 },
    { "date-time", "2026-11-26T24:00:00Z", 0 },
    { "date-time", "2026-11-26T17:00:00.Z", 0 },
    { "date-time", "2026-11-26T17:00:00+24:00", 0 },
    { "date-time", "2026-11-26T17:00:00+01:60", 0 },
    { "date-time", "2026-11-26T", 0 },
    { "date-time", "", 0 },

    { "date", "2026-12-31", 1 },
    { "date", "2000-02-29", 1 },
    { "date", "1900-02-28", 1 },
    { "date", "1900-02-29", 0 },
    { "date", "2026-13-01", 0 },
    { "date", "2026-00-10", 0 },
    { "date", "2026-04-31", 0 },
    { "date", "2026-04-00", 0 },
    { "date", "2026-4-01", 0 },
    { "date", "20260401", 0 },
    { "date", "2026-04-01x", 0 },

    { "time", "08:30:00z", 1 },
    { "time", "23:59:60Z", 1 },
    { "time", "00:00:00+00:00", 1 },
    { "time", "00:00:00.000001-12:30", 1 },
    { "time", "8:30:00Z", 0 },
    { "time", "08:30:00", 0 },
    { "time", "08:60:00Z", 0 },
    { "time", "08:30:61Z", 0 },
    { "time", "08:30:00.Z", 0 },
    { "time", "08:30:00+0100", 0 },

    { "uuid", "0192f0c1-7e1a-7c3b-9d2e-4f5a6b7c8d9e", 1 },
    { "uuid", "0192F0C1-7E1A-7C3B-9D2E-4F5A6B7C8D9E", 1 },
    { "uuid", "0192f0c1-7e1a-7c3b-9d2e-4f5a6b7c8d9", 0 },
    { "uuid", "0192f0c1-7e1a-7c3b-9d2e-4f5a6b7c8d9g", 0 },
    { "uuid", "0192f0c1x7e1a-7c3b-9d2e-4f5a6b7c8d9e", 0 },
    { "uuid", "0192f0c17e1a7c3b9d2e4f5a6b7c8d9e", 0 },

    { "email", "joe.bloggs+x@example.co.uk", 1 },
    { "email", "a@[192.168.0.1]", 1 },
    { "email", "user@localhost", 1 },
    { "email", "a@b@example.com", 0 },
    { "email", "joe..b@example.com", 0 },
    { "email", "2962", 0 },
    { "email", ".a@example.com", 0 },
    { "email", "a.@example.com", 0 },
    { "email", "@example.com", 0 },
    { "email", "a@", 0 },
    { "email", "a@-x.example", 0 },
    { "email", "a b@example.com", 0 },
    { "email", "\"a\"@example.com", 0 },
    { "email", "a@[256.0.0.1]", 0 },

    { "ipv4", "192.168.0.1", 1 },
    { "ipv4", "0.0.0.0", 1 },
    { "ipv4", "255.255.255.255", 1 },
    { "ipv4", "192.168.0.01", 0 },
    { "ipv4", "256.1.1.1", 0 },
    { "ipv4", "1.2.3", 0 },
    { "ipv4", "1.2.3.4.5", 0 },
    { "ipv4", "1..2.3", 0 },
    { "ipv4", "1.2.3.4 ", 0 },
    { "ipv4", "1.2.3.1000", 0 },
    { "ipv4", "", 0 },

    { "ipv6", "::1", 1 },
    { "ipv6", "::", 1 },
    { "ipv6", "2001:db8::8a2e:370:7334", 1 },
    { "ipv6", "::ffff:192.0.2.1", 1 },
    { "ipv6", "1:2:3:4:5:6:7:8:9", 0 },
    { "ipv6", "1::2::3", 0 },
    { "ipv6", ":::", 0 },
    { "ipv6", "192.0.2.1", 0 },
    { "ipv6", "", 0 },

    { "hostname", "a-b.example", 1 },
    { "hostname", "localhost", 1 },
    { "hostname", "x", 1 },
    { "hostname", "a1.b2.c3", 1 },
    { "hostname", "-a.example", 0 },
    { "hostname", "a-.example", 0 },
    { "hostname", "a..b", 0 },
    { "hostname", "a.example.", 0 },
    { "hostname", "a_b.example", 0 },
    { "hostname", ".", 0 },
    { "hostname", "", 0 },

    { NULL, NULL, 0 }
};


static void
test_find(void)
{
    static const char  *names[] = {
        "date-time", "date", "time", "uuid", "email", "ipv4", "ipv6",
        "hostname", NULL
    };

    int                        good;
    size_t                     i;
    const ngx_evbus_format_t  *f;

    good = 1;

    for (i = 0; names[i]; i++) {
        f = ngx_evbus_format_find(names[i]);
        good = good && f && strcmp(f->name, names[i]) == 0;
    }

    ok(good, "format: every supported format is found by its name");

    ok(ngx_evbus_format_find("color") == NULL
       && ngx_evbus_format_find("") == NULL
       && ngx_evbus_format_find("Date") == NULL
       && ngx_evbus_format_find("uri") == NULL,
       "format: others are not");
}


static void
test_cases(void)
{
    int                        got;
    const fcase_t             *c;
    const ngx_evbus_format_t  *f;

    for (c = cases; c->format; c++) {
        f = ngx_evbus_format_find(c->format);

        if (f == NULL) {
            ok(0, "format %s: found", c->format);
            continue;
        }

        got = f->check((const unsigned char *) c->value, strlen(c->value));

        ok(got == c->valid, "format %s: \"%s\" is %s", c->format, c->value,
           c->valid ? "valid" : "invalid");
    }
}


/* lengths, and bytes a C string cannot hold */

static void
test_bounds(void)
{
    char                       host[300], label[70];
    const ngx_evbus_format_t  *f;

    f = ngx_evbus_format_find("hostname");

    memset(label, 'a', 63);
    label[63] = '\0';
    ok(f->check((const unsigned char *) label, 63),
       "hostname: a label of 63 characters");

    label[63] = 'a';
    ok(!f->check((const unsigned char *) label, 64),
       "hostname: not one of 64");

    memset(host, 'a', sizeof(host));

    host[63] = '.';
    host[127] = '.';
    host[191] = '.';

    ok(f->check((const unsigned char *) host, 253),
       "hostname: 253 characters");
    ok(!f->check((const unsigned char *) host, 254),
       "hostname: not 254");

    ok(!f->check((const unsigned char *) "a\0b", 3),
       "hostname: not with a NUL byte");

    f = ngx_evbus_format_find("ipv6");
    ok(!f->check((const unsigned char *) "::1\0", 4),
       "ipv6: not with a NUL byte");

    f = ngx_evbus_format_find("email");
    ok(!f->check((const unsigned char *) "a\0b@example.com", 15),
       "email: not with a NUL byte");

    memset(host, 'a', 65);
    memcpy(host + 65, "@example.com", sizeof("@example.com"));
    ok(!f->check((const unsigned char *) host, strlen(host)),
       "email: not a local part of 65 characters");
    ok(f->check((const unsigned char *) host + 1, strlen(host + 1)),
       "email: a local part of 64 characters");
}


int
main(void)
{
    test_find();
    test_cases();
    test_bounds();

    printf("1..%d\n", ntests);

    return nfailed ? 1 : 0;
}

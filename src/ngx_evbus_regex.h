
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_REGEX_H_INCLUDED_
#define _NGX_EVBUS_REGEX_H_INCLUDED_


/*
 * The built-in matcher of simple anchored patterns like "^[A-Z]{3}$": the
 * schema compiler uses it instead of the caller's regular expression
 * engine for the patterns it decides exactly as PCRE2 in UTF mode does.
 */

#include <stddef.h>
#include <stdint.h>

#include "ngx_evbus_schema.h"


typedef struct {
    uint64_t                    bits[4];      /* the class, ASCII only */
    size_t                      min;
    size_t                      max;
} ngx_evbus_regex_atom_t;


typedef struct {
    ngx_evbus_regex_atom_t     *atoms;
    size_t                      natoms;
} ngx_evbus_regex_simple_t;


/*
 * A pattern in the subset the built-in matcher decides exactly as PCRE2 in
 * UTF mode, or NULL: not in the subset, or out of memory.  The match
 * returns 1 or 0.
 */
ngx_evbus_regex_simple_t *ngx_evbus_regex_simple(
    const unsigned char *pattern, size_t len, ngx_evbus_alloc_pt alloc,
    void *alloc_ctx);
int ngx_evbus_regex_simple_match(const ngx_evbus_regex_simple_t *re,
    const unsigned char *s, size_t len);


#endif /* _NGX_EVBUS_REGEX_H_INCLUDED_ */

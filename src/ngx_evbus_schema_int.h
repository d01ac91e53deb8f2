
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_SCHEMA_INT_H_INCLUDED_
#define _NGX_EVBUS_SCHEMA_INT_H_INCLUDED_


/*
 * What the schema files share and nothing else includes: the compiled
 * nodes.  ngx_evbus_schema.c holds the set, the loader and the lookup,
 * ngx_evbus_schema_compile.c turns a file into nodes,
 * ngx_evbus_validate.c walks them token by token, ngx_evbus_format.c
 * checks "format" and ngx_evbus_regex.c matches simple patterns.
 */

#include <stddef.h>
#include <stdint.h>

#include "ngx_evbus_schema.h"
#include "ngx_evbus_regex.h"


/* JSON types, as bits in the order of ngx_evbus_schema_type_names[] */
#define NGX_EVBUS_T_NULL           0x01
#define NGX_EVBUS_T_BOOLEAN        0x02
#define NGX_EVBUS_T_OBJECT         0x04
#define NGX_EVBUS_T_ARRAY          0x08
#define NGX_EVBUS_T_NUMBER         0x10
#define NGX_EVBUS_T_INTEGER        0x20
#define NGX_EVBUS_T_STRING         0x40

/* the maximum of a length or a count the schema does not bound */
#define NGX_EVBUS_SCHEMA_UNLIMITED ((size_t) -1)

/* keeps rare and long paths out of the per-token functions' registers */
#if (defined __GNUC__)
#define ngx_evbus_noinline         __attribute__((noinline))
#else
#define ngx_evbus_noinline
#endif


/* 1: s has the format */
typedef int (*ngx_evbus_format_pt)(const unsigned char *s, size_t len);


typedef struct {
    const char                 *name;
    ngx_evbus_format_pt         check;
} ngx_evbus_format_t;


typedef struct ngx_evbus_snode_s  ngx_evbus_snode_t;


typedef struct {
    const unsigned char        *name;
    size_t                      len;
    uint32_t                    hash;
    ngx_evbus_snode_t          *node;         /* NULL: any value */
    size_t                      after;        /* declared next, or -1 */
} ngx_evbus_sprop_t;


typedef struct {
    int                         tok;          /* NGX_EVBUS_TOK_*, 0: none */
    const unsigned char        *s;            /* string; number's text */
    size_t                      len;
    double                      num;
} ngx_evbus_svalue_t;


typedef struct {
    double                      value;
    const char                 *text;         /* as written; NULL: none */
} ngx_evbus_slimit_t;


/*
 * A keyword the schema does not have leaves its field as memset() and
 * ngx_evbus_schema_compile() make it: no limit text, no constant, a
 * minimum length or count of 0 and a maximum of
 * NGX_EVBUS_SCHEMA_UNLIMITED, which bound nothing.
 */

struct ngx_evbus_snode_s {
    unsigned                    types;        /* 0: any type */
    unsigned                    reject_all:1; /* the schema false */
    unsigned                    additional:1;
    unsigned                    walk_object:1;
    unsigned                    walk_array:1;
    unsigned                    need_value:1;

    ngx_evbus_slimit_t          min;
    ngx_evbus_slimit_t          max;
    ngx_evbus_slimit_t          xmin;
    ngx_evbus_slimit_t          xmax;

    size_t                      min_len;
    size_t                      max_len;
    size_t                      min_items;
    size_t                      max_items;

    void                       *regex;
    ngx_evbus_regex_simple_t   *simple;       /* NULL: match with regex */
    const char                 *pattern;
    const ngx_evbus_format_t   *format;

    ngx_evbus_sprop_t          *props;
    size_t                      nprops;
    size_t                      first;        /* declared first */
    uint32_t                   *slots;        /* index + 1, 0: free */
    size_t                      nslots;       /* a power of two */
    size_t                     *required;     /* indexes into props */
    size_t                      nrequired;

    ngx_evbus_snode_t          *items;        /* NULL: any item */

    ngx_evbus_svalue_t         *values;       /* enum */
    size_t                      nvalues;
    ngx_evbus_svalue_t          cnst;
};


struct ngx_evbus_schema_s {
    int64_t                     version;
    ngx_evbus_snode_t          *root;         /* NULL: any event */
    const char                 *file;
};


typedef struct {
    const unsigned char        *name;
    size_t                      len;
    uint32_t                    hash;
    ngx_evbus_schema_t         *versions;     /* sorted by version */
    size_t                      nversions;
    size_t                      cap;
} ngx_evbus_stype_t;


struct ngx_evbus_schemas_s {
    ngx_evbus_schema_env_t      env;
    ngx_evbus_stype_t          *types;
    size_t                      ntypes;
    size_t                      types_cap;
    uint32_t                   *slots;
    size_t                      nslots;
    size_t                      nschemas;
};


/* for the set's life, from the environment's allocator */
void *ngx_evbus_schema_alloc(ngx_evbus_schemas_t *set, size_t size);
char *ngx_evbus_schema_strdup(ngx_evbus_schemas_t *set, const char *s,
    size_t len);

/*
 * One schema file's text into nodes; *root is NULL for a schema that
 * accepts any event.  On failure returns -1 and err names the file, the
 * keyword and where, e.g.
 * "click/1.json: unsupported keyword \"allOf\" at /properties/a"
 */
int ngx_evbus_schema_compile(ngx_evbus_schemas_t *set,
    const unsigned char *json, size_t len, const char *file,
    ngx_evbus_snode_t **root, char *err, size_t err_len);

/* a "format" by name, or NULL when it is not supported */
const ngx_evbus_format_t *ngx_evbus_format_find(const char *name);


extern const char  *ngx_evbus_schema_type_names[];


/* FNV-1a, of type and member names: inline in the validator's lookups */

static inline uint32_t
ngx_evbus_schema_hash(const unsigned char *s, size_t len)
{
    size_t    i;
    uint32_t  h;

    h = 2166136261u;

    for (i = 0; i < len; i++) {
        h = (h ^ s[i]) * 16777619u;
    }

    return h;
}


#endif /* _NGX_EVBUS_SCHEMA_INT_H_INCLUDED_ */

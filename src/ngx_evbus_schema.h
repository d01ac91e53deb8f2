
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_SCHEMA_H_INCLUDED_
#define _NGX_EVBUS_SCHEMA_H_INCLUDED_


/*
 * Versioned event schemas: loading a directory <event_type>/<version>.json,
 * compiling a subset of JSON Schema 2020-12, finding a schema by type and
 * version in O(1), and a validator driven token by token from the event
 * core's own streaming yajl pass.  Like the core, it knows nothing of
 * nginx: memory and regular expressions come from the caller.  The set
 * and the loader are in ngx_evbus_schema.c, the compiler in
 * ngx_evbus_schema_compile.c, the validator in ngx_evbus_validate.c.
 */

#include <stddef.h>
#include <stdint.h>


/* allocations live as long as their owner (a pool): never freed one by one */
typedef void *(*ngx_evbus_alloc_pt)(void *ctx, size_t size);

/* a compiled regular expression, or NULL with a reason in err */
typedef void *(*ngx_evbus_regex_compile_pt)(void *ctx,
    const unsigned char *pattern, size_t len, char *err, size_t err_len);

/* 1: s matches somewhere (unanchored), 0: no match, -1: error */
typedef int (*ngx_evbus_regex_match_pt)(void *ctx, void *regex,
    const unsigned char *s, size_t len);


typedef struct {
    ngx_evbus_alloc_pt          alloc;           /* for the set's life */
    void                       *alloc_ctx;
    ngx_evbus_regex_compile_pt  regex_compile;
    ngx_evbus_regex_match_pt    regex_match;
    void                       *regex_ctx;
} ngx_evbus_schema_env_t;


/* the tokens the validator is fed */
#define NGX_EVBUS_TOK_MAP          1
#define NGX_EVBUS_TOK_ARRAY        2
#define NGX_EVBUS_TOK_KEY          3
#define NGX_EVBUS_TOK_STRING       4
#define NGX_EVBUS_TOK_NUMBER       5
#define NGX_EVBUS_TOK_TRUE         6
#define NGX_EVBUS_TOK_FALSE        7
#define NGX_EVBUS_TOK_NULL         8
#define NGX_EVBUS_TOK_END          9

/* validator results */
#define NGX_EVBUS_VALID_OK         0
#define NGX_EVBUS_VALID_FAILED     -1    /* see ngx_evbus_validator_error() */
#define NGX_EVBUS_VALID_NOMEM      -2

#define NGX_EVBUS_SCHEMA_ERR_LEN   512


typedef struct ngx_evbus_schemas_s    ngx_evbus_schemas_t;
typedef struct ngx_evbus_schema_s     ngx_evbus_schema_t;
typedef struct ngx_evbus_validator_s  ngx_evbus_validator_t;


typedef struct {
    const char                 *kind;       /* "schema", "duplicate_key" */
    const char                 *keyword;    /* "type", "required", ... */
    const char                 *pointer;    /* JSON Pointer, "" the event */
    const char                 *message;    /* "expected number, got string" */
} ngx_evbus_schema_error_t;


ngx_evbus_schemas_t *ngx_evbus_schemas_create(
    const ngx_evbus_schema_env_t *env);

/*
 * Loads every <event_type>/<version>.json under dir.  On failure returns
 * -1 and err says which file and which keyword, e.g.
 * "/etc/s/click/1.json: unsupported keyword \"allOf\" at /properties/a"
 */
int ngx_evbus_schemas_load(ngx_evbus_schemas_t *set, const char *dir,
    char *err, size_t err_len);

/* one schema from memory (file names it in errors); then _done() */
int ngx_evbus_schemas_add(ngx_evbus_schemas_t *set,
    const unsigned char *type, size_t type_len, int64_t version,
    const unsigned char *json, size_t len, const char *file, char *err,
    size_t err_len);
int ngx_evbus_schemas_done(ngx_evbus_schemas_t *set, char *err,
    size_t err_len);

size_t ngx_evbus_schemas_count(const ngx_evbus_schemas_t *set);
size_t ngx_evbus_schemas_types(const ngx_evbus_schemas_t *set);

/*
 * The schema of a type: version > 0 picks that version exactly; 0 picks
 * default_version when the type has it, else the latest.  Returns NULL
 * when there is none; *known says whether the type has any schema, and
 * *single whether it has exactly one version.
 */
const ngx_evbus_schema_t *ngx_evbus_schemas_find(
    const ngx_evbus_schemas_t *set, const unsigned char *type,
    size_t type_len, int64_t version, int64_t default_version,
    int *known, int *single);

int64_t ngx_evbus_schema_version(const ngx_evbus_schema_t *schema);

/*
 * The validator of one request: reset for every event, fed every token of
 * the event from its opening brace.  Until a schema is chosen the tokens
 * are recorded on a compact tape (kind, length, decoded bytes); choosing
 * one replays the tape and validates the rest as it streams.
 */
ngx_evbus_validator_t *ngx_evbus_validator_create(
    const ngx_evbus_schemas_t *set, size_t tape_max,
    ngx_evbus_alloc_pt alloc, void *alloc_ctx);
void ngx_evbus_validator_reset(ngx_evbus_validator_t *v);
int ngx_evbus_validator_token(ngx_evbus_validator_t *v, int tok,
    const unsigned char *s, size_t len);
int ngx_evbus_validator_start(ngx_evbus_validator_t *v,
    const ngx_evbus_schema_t *schema);
void ngx_evbus_validator_stop(ngx_evbus_validator_t *v);
int ngx_evbus_validator_pending(ngx_evbus_validator_t *v);
const ngx_evbus_schema_error_t *ngx_evbus_validator_error(
    ngx_evbus_validator_t *v);


#endif /* _NGX_EVBUS_SCHEMA_H_INCLUDED_ */


/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_module.h"
#include "ngx_evbus_schema.h"
#include "ngx_evbus_schema_conf.h"


/*
 * Schemas are loaded and compiled while nginx reads its configuration,
 * into the configuration's pool: `nginx -t` reports a broken file, a
 * reload loads the directory afresh, and a reload that fails leaves the
 * old cycle, with its schemas, serving.  Patterns go to PCRE2 in UTF
 * mode, so that "." and lengths count characters, with ECMA-262's "$":
 * only at the subject's very end (PCRE2_DOLLAR_ENDONLY, an option nginx's
 * ngx_regex_compile() cannot pass).  Every match is bounded by a match and
 * a depth limit; the engine giving up is reported as such, not as a
 * mismatch.
 */


#define NGX_HTTP_EVBUS_REGEX_MATCH_LIMIT  100000
#define NGX_HTTP_EVBUS_REGEX_DEPTH_LIMIT  10000


typedef struct {
    ngx_str_t             path;
    ngx_evbus_schemas_t  *set;
} ngx_evbus_schema_set_t;


static ngx_evbus_schemas_t *ngx_http_evbus_schemas_load(ngx_conf_t *cf,
    ngx_str_t *path);
static void *ngx_http_evbus_schema_alloc(void *ctx, size_t size);
static void *ngx_http_evbus_schema_regex_compile(void *ctx,
    const unsigned char *pattern, size_t len, char *err, size_t err_len);
static int ngx_http_evbus_schema_regex_match(void *ctx, void *regex,
    const unsigned char *s, size_t len);
#if (NGX_PCRE2)
static void ngx_http_evbus_schema_regex_free(void *data);
#endif


#if (NGX_PCRE2)
static pcre2_match_data     *ngx_http_evbus_regex_md;
static pcre2_match_context  *ngx_http_evbus_regex_mctx;
#endif


char *
ngx_http_evbus_schemas(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_evbus_loc_conf_t *elcf = conf;

    ngx_str_t                   *value, path;
    ngx_uint_t                   i;
    ngx_evbus_schema_set_t      *s;
    ngx_http_evbus_main_conf_t  *emcf;

    if (elcf->schemas != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        elcf->schemas = NULL;
        return NGX_CONF_OK;
    }

    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    emcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_evbus_module);

    if (emcf->schema_sets == NULL) {
        emcf->schema_sets = ngx_array_create(cf->pool, 2,
                                             sizeof(ngx_evbus_schema_set_t));
        if (emcf->schema_sets == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    /* one directory is loaded once, however many locations use it */

    s = emcf->schema_sets->elts;

    for (i = 0; i < emcf->schema_sets->nelts; i++) {
        if (s[i].path.len == path.len
            && ngx_strncmp(s[i].path.data, path.data, path.len) == 0)
        {
            elcf->schemas = s[i].set;
            return NGX_CONF_OK;
        }
    }

    s = ngx_array_push(emcf->schema_sets);
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    s->path = path;
    s->set = ngx_http_evbus_schemas_load(cf, &path);

    if (s->set == NULL) {
        emcf->schema_sets->nelts--;
        return NGX_CONF_ERROR;
    }

    elcf->schemas = s->set;

    return NGX_CONF_OK;
}


static ngx_evbus_schemas_t *
ngx_http_evbus_schemas_load(ngx_conf_t *cf, ngx_str_t *path)
{
    char                    err[NGX_EVBUS_SCHEMA_ERR_LEN], *dir;
    ngx_evbus_schemas_t    *set;
    ngx_evbus_schema_env_t  env;

    dir = ngx_pnalloc(cf->pool, path->len + 1);
    if (dir == NULL) {
        return NULL;
    }

    (void) ngx_cpystrn((u_char *) dir, path->data, path->len + 1);

    env.alloc = ngx_http_evbus_schema_alloc;
    env.alloc_ctx = cf->pool;
    env.regex_compile = ngx_http_evbus_schema_regex_compile;
    env.regex_match = ngx_http_evbus_schema_regex_match;
    env.regex_ctx = cf;

    set = ngx_evbus_schemas_create(&env);
    if (set == NULL) {
        return NULL;
    }

    if (ngx_evbus_schemas_load(set, dir, err, sizeof(err)) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "evbus_schemas: %s", err);
        return NULL;
    }

    ngx_conf_log_error(NGX_LOG_DEBUG, cf, 0,
                       "evbus_schemas: %uz schemas of %uz event types"
                       " from \"%V\"", ngx_evbus_schemas_count(set),
                       ngx_evbus_schemas_types(set), path);

    return set;
}


static void *
ngx_http_evbus_schema_alloc(void *ctx, size_t size)
{
    return ngx_palloc(ctx, size);
}


#if (NGX_PCRE2)

static void *
ngx_http_evbus_schema_regex_compile(void *ctx, const unsigned char *pattern,
    size_t len, char *err, size_t err_len)
{
    int                  errcode;
    u_char              *p, msg[256];
    PCRE2_SIZE           off;
    ngx_conf_t          *cf;
    pcre2_code          *code;
    ngx_pool_cleanup_t  *cln;

    cf = ctx;

    /* one match data and one match context serve every pattern */

    if (ngx_http_evbus_regex_md == NULL) {
        ngx_http_evbus_regex_md = pcre2_match_data_create(1, NULL);
        ngx_http_evbus_regex_mctx = pcre2_match_context_create(NULL);

        if (ngx_http_evbus_regex_md == NULL
            || ngx_http_evbus_regex_mctx == NULL)
        {
            (void) ngx_cpystrn((u_char *) err, (u_char *) "out of memory",
                               err_len);
            return NULL;
        }

        pcre2_set_match_limit(ngx_http_evbus_regex_mctx,
                              NGX_HTTP_EVBUS_REGEX_MATCH_LIMIT);
        pcre2_set_depth_limit(ngx_http_evbus_regex_mctx,
                              NGX_HTTP_EVBUS_REGEX_DEPTH_LIMIT);
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        (void) ngx_cpystrn((u_char *) err, (u_char *) "out of memory",
                           err_len);
        return NULL;
    }

    code = pcre2_compile(pattern, len, PCRE2_UTF|PCRE2_DOLLAR_ENDONLY,
                         &errcode, &off, NULL);
    if (code == NULL) {
        (void) pcre2_get_error_message(errcode, msg, sizeof(msg));
        p = ngx_snprintf((u_char *) err, err_len - 1, "%s at offset %uz",
                         msg, (size_t) off);
        *p = '\0';
        return NULL;
    }

    cln->handler = ngx_http_evbus_schema_regex_free;
    cln->data = code;

    /*
     * Schema patterns run for every event, and JIT halves their cost.
     * Without JIT support, or when it fails, pcre2_match() interprets.
     */

    (void) pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);

    return code;
}


static int
ngx_http_evbus_schema_regex_match(void *ctx, void *regex,
    const unsigned char *s, size_t len)
{
    int  rc;

    rc = pcre2_match(regex, s, len, 0, 0, ngx_http_evbus_regex_md,
                     ngx_http_evbus_regex_mctx);

    if (rc >= 0) {
        return 1;
    }

    /* the match limit, the depth limit, the JIT stack, a bad subject */

    return (rc == PCRE2_ERROR_NOMATCH) ? 0 : -1;
}


static void
ngx_http_evbus_schema_regex_free(void *data)
{
    pcre2_code_free(data);
}

#else

/*
 * nginx built with the older PCRE: its engine, whose "$" also matches
 * before a final newline
 */

static void *
ngx_http_evbus_schema_regex_compile(void *ctx, const unsigned char *pattern,
    size_t len, char *err, size_t err_len)
{
    u_char               *p, errstr[NGX_MAX_CONF_ERRSTR];
    ngx_conf_t           *cf;
    ngx_regex_compile_t   rc;

    cf = ctx;

    ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

    rc.pattern.len = sizeof("(*UTF)") - 1 + len;
    rc.pattern.data = ngx_pnalloc(cf->pool, rc.pattern.len);
    if (rc.pattern.data == NULL) {
        (void) ngx_cpystrn((u_char *) err, (u_char *) "out of memory",
                           err_len);
        return NULL;
    }

    p = ngx_cpymem(rc.pattern.data, "(*UTF)", sizeof("(*UTF)") - 1);
    ngx_memcpy(p, pattern, len);

    rc.pool = cf->pool;
    rc.err.len = NGX_MAX_CONF_ERRSTR;
    rc.err.data = errstr;

    if (ngx_regex_compile(&rc) != NGX_OK) {
        p = ngx_snprintf((u_char *) err, err_len - 1, "%V", &rc.err);
        *p = '\0';
        return NULL;
    }

    return rc.regex;
}


static int
ngx_http_evbus_schema_regex_match(void *ctx, void *regex,
    const unsigned char *s, size_t len)
{
    ngx_int_t  rc;
    ngx_str_t  str;

    str.data = (u_char *) s;
    str.len = len;

    rc = ngx_regex_exec(regex, &str, NULL, 0);

    if (rc >= 0) {
        return 1;
    }

    return (rc == NGX_REGEX_NO_MATCHED) ? 0 : -1;
}

#endif


/*
 * Copyright (C) ngx_evbus authors
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "ngx_evbus_schema_int.h"


#define NGX_EVBUS_SCHEMA_DEPTH     64


/* compilation of one file */
typedef struct {
    ngx_evbus_schemas_t        *set;
    const char                 *file;
    char                       *err;
    size_t                      err_len;
    char                        path[256];    /* where in the schema */
    size_t                      path_len;
    size_t                      depth;
} ngx_evbus_scomp_t;


typedef struct ngx_evbus_schema_keyword_s  ngx_evbus_schema_keyword_t;

typedef int (*ngx_evbus_schema_keyword_pt)(ngx_evbus_scomp_t *cc,
    ngx_evbus_snode_t *n, yajl_val v, const ngx_evbus_schema_keyword_t *kw);


/*
 * An entry for each keyword, as ngx_command_t is for each directive: the
 * handler compiles the keyword's value into the node, most into the field
 * at offset; an entry without a handler is an annotation, accepted and
 * ignored
 */

struct ngx_evbus_schema_keyword_s {
    const char                   *name;
    ngx_evbus_schema_keyword_pt   handler;    /* NULL: an annotation */
    size_t                        offset;
};


static int ngx_evbus_schema_compile_node(ngx_evbus_scomp_t *cc, yajl_val v,
    ngx_evbus_snode_t **out);
static int ngx_evbus_schema_compile_type(ngx_evbus_scomp_t *cc,
    ngx_evbus_snode_t *n, yajl_val v, const ngx_evbus_schema_keyword_t *kw);
static int ngx_evbus_schema_compile_props(ngx_evbus_scomp_t *cc,
    ngx_evbus_snode_t *n, yajl_val v, const ngx_evbus_schema_keyword_t *kw);
static int ngx_evbus_schema_compile_required(ngx_evbus_scomp_t *cc,
    ngx_evbus_snode_t *n, yajl_val v, const ngx_evbus_schema_keyword_t *kw);
static int ngx_evbus_schema_compile_additional(ngx_evbus_scomp_t *cc,
    ngx_evbus_snode_t *n, yajl_val v, const ngx_evbus_schema_keyword_t *kw);
static int ngx_evbus_schema_compile_items(ngx_evbus_scomp_t *cc,
    ngx_evbus_snode_t *n, yajl_val v, const ngx_evbus_schema_keyword_t *kw);
static int ngx_evbus_schema_compile_enum(ngx_evbus_scomp_t *cc,
    ngx_evbus_snode_t *n, yajl_val v, const ngx_evbus_schema_keyword_t *kw);
static int ngx_evbus_schema_compile_const(ngx_evbus_scomp_t *cc,
    ngx_evbus_snode_t *n, yajl_val v, const ngx_evbus_schema_keyword_t *kw);
static int ngx_evbus_schema_compile_limit(ngx_evbus_scomp_t *cc,
    ngx_evbus_snode_t *n, yajl_val v, const ngx_evbus_schema_keyword_t *kw);
static int ngx_evbus_schema_compile_count(ngx_evbus_scomp_t *cc,
    ngx_evbus_snode_t *n, yajl_val v, const ngx_evbus_schema_keyword_t *kw);
static int ngx_evbus_schema_compile_pattern(ngx_evbus_scomp_t *cc,
    ngx_evbus_snode_t *n, yajl_val v, const ngx_evbus_schema_keyword_t *kw);
static int ngx_evbus_schema_compile_format(ngx_evbus_scomp_t *cc,
    ngx_evbus_snode_t *n, yajl_val v, const ngx_evbus_schema_keyword_t *kw);

static int ngx_evbus_schema_compile_value(ngx_evbus_scomp_t *cc, yajl_val v,
    ngx_evbus_svalue_t *sv);
static int ngx_evbus_schema_compile_hash(ngx_evbus_scomp_t *cc,
    ngx_evbus_snode_t *n);
static int ngx_evbus_schema_compile_prop(ngx_evbus_scomp_t *cc,
    ngx_evbus_snode_t *n, const char *name, size_t len,
    ngx_evbus_snode_t *node, size_t *index);
static int ngx_evbus_schema_compile_error(ngx_evbus_scomp_t *cc,
    const char *fmt, ...);
static size_t ngx_evbus_schema_compile_path(ngx_evbus_scomp_t *cc,
    const char *seg);


const char  *ngx_evbus_schema_type_names[] = {
    "null", "boolean", "object", "array", "number", "integer", "string", NULL
};


static const ngx_evbus_schema_keyword_t  ngx_evbus_schema_keywords[] = {

    { "type",
      ngx_evbus_schema_compile_type,
      offsetof(ngx_evbus_snode_t, types) },

    { "properties",
      ngx_evbus_schema_compile_props,
      0 },

    { "required",
      ngx_evbus_schema_compile_required,
      0 },

    { "additionalProperties",
      ngx_evbus_schema_compile_additional,
      0 },

    { "items",
      ngx_evbus_schema_compile_items,
      offsetof(ngx_evbus_snode_t, items) },

    { "enum",
      ngx_evbus_schema_compile_enum,
      0 },

    { "const",
      ngx_evbus_schema_compile_const,
      offsetof(ngx_evbus_snode_t, cnst) },

    { "minimum",
      ngx_evbus_schema_compile_limit,
      offsetof(ngx_evbus_snode_t, min) },

    { "maximum",
      ngx_evbus_schema_compile_limit,
      offsetof(ngx_evbus_snode_t, max) },

    { "exclusiveMinimum",
      ngx_evbus_schema_compile_limit,
      offsetof(ngx_evbus_snode_t, xmin) },

    { "exclusiveMaximum",
      ngx_evbus_schema_compile_limit,
      offsetof(ngx_evbus_snode_t, xmax) },

    { "minLength",
      ngx_evbus_schema_compile_count,
      offsetof(ngx_evbus_snode_t, min_len) },

    { "maxLength",
      ngx_evbus_schema_compile_count,
      offsetof(ngx_evbus_snode_t, max_len) },

    { "minItems",
      ngx_evbus_schema_compile_count,
      offsetof(ngx_evbus_snode_t, min_items) },

    { "maxItems",
      ngx_evbus_schema_compile_count,
      offsetof(ngx_evbus_snode_t, max_items) },

    { "pattern",
      ngx_evbus_schema_compile_pattern,
      0 },

    { "format",
      ngx_evbus_schema_compile_format,
      offsetof(ngx_evbus_snode_t, format) },

    /* keywords that annotate and do not constrain: accepted, ignored */

    { "$schema", NULL, 0 },
    { "$id", NULL, 0 },
    { "$comment", NULL, 0 },
    { "title", NULL, 0 },
    { "description", NULL, 0 },
    { "default", NULL, 0 },
    { "examples", NULL, 0 },
    { "deprecated", NULL, 0 },
    { "readOnly", NULL, 0 },
    { "writeOnly", NULL, 0 },

    { NULL, NULL, 0 }
};


int
ngx_evbus_schema_compile(ngx_evbus_schemas_t *set, const unsigned char *json,
    size_t len, const char *file, ngx_evbus_snode_t **root, char *err,
    size_t err_len)
{
    int                 rc;
    char               *text, ebuf[256];
    size_t              i;
    yajl_val            tree;
    ngx_evbus_scomp_t   cc;

    if (memchr(json, '\0', len) != NULL) {
        snprintf(err, err_len, "%s: invalid JSON: a NUL byte", file);
        return -1;
    }

    text = malloc(len + 1);
    if (text == NULL) {
        snprintf(err, err_len, "%s: out of memory", file);
        return -1;
    }

    memcpy(text, json, len);
    text[len] = '\0';

    ebuf[0] = '\0';
    tree = yajl_tree_parse(text, ebuf, sizeof(ebuf));
    free(text);

    if (tree == NULL) {
        for (i = 0; ebuf[i]; i++) {
            if (ebuf[i] == '\n') {
                ebuf[i] = ' ';
            }
        }

        snprintf(err, err_len, "%s: invalid JSON: %s", file,
                 ebuf[0] ? ebuf : "parse error");
        return -1;
    }

    memset(&cc, 0, sizeof(ngx_evbus_scomp_t));
    cc.set = set;
    cc.file = file;
    cc.err = err;
    cc.err_len = err_len;

    if (!YAJL_IS_OBJECT(tree)) {
        rc = ngx_evbus_schema_compile_error(&cc, "a schema file must hold a"
                                            " JSON object");

    } else {
        rc = ngx_evbus_schema_compile_node(&cc, tree, root);
    }

    yajl_tree_free(tree);

    return rc;
}


/* v is a schema; *out is NULL for one that accepts anything */

static int
ngx_evbus_schema_compile_node(ngx_evbus_scomp_t *cc, yajl_val v,
    ngx_evbus_snode_t **out)
{
    int                                constrained;
    size_t                             i, k;
    const char                        *key;
    ngx_evbus_snode_t                 *n;
    const ngx_evbus_schema_keyword_t  *kw;

    *out = NULL;

    if (YAJL_IS_TRUE(v)) {
        return 0;
    }

    n = ngx_evbus_schema_alloc(cc->set, sizeof(ngx_evbus_snode_t));
    if (n == NULL) {
        return ngx_evbus_schema_compile_error(cc, "out of memory");
    }

    memset(n, 0, sizeof(ngx_evbus_snode_t));
    n->additional = 1;
    n->max_len = NGX_EVBUS_SCHEMA_UNLIMITED;
    n->max_items = NGX_EVBUS_SCHEMA_UNLIMITED;

    if (YAJL_IS_FALSE(v)) {
        n->reject_all = 1;
        *out = n;
        return 0;
    }

    if (!YAJL_IS_OBJECT(v)) {
        return ngx_evbus_schema_compile_error(cc, "a schema must be an object"
                                              " or a boolean");
    }

    if (++cc->depth > NGX_EVBUS_SCHEMA_DEPTH) {
        return ngx_evbus_schema_compile_error(cc, "schema nests deeper than"
                                              " %d levels",
                                              NGX_EVBUS_SCHEMA_DEPTH);
    }

    constrained = 0;

    for (i = 0; i < v->u.object.len; i++) {
        key = v->u.object.keys[i];

        for (k = 0; k < i; k++) {
            if (strcmp(key, v->u.object.keys[k]) == 0) {
                return ngx_evbus_schema_compile_error(cc, "duplicate keyword"
                                                      " \"%s\"", key);
            }
        }

        for (kw = ngx_evbus_schema_keywords; kw->name; kw++) {
            if (strcmp(key, kw->name) == 0) {
                break;
            }
        }

        if (kw->name == NULL) {
            return ngx_evbus_schema_compile_error(cc, "unsupported keyword"
                                                  " \"%s\"", key);
        }

        if (kw->handler == NULL) {
            continue;
        }

        constrained = 1;

        if (kw->handler(cc, n, v->u.object.values[i], kw) != 0) {
            return -1;
        }
    }

    if (ngx_evbus_schema_compile_hash(cc, n) != 0) {
        return -1;
    }

    /* an absent minimum is 0, an absent maximum NGX_EVBUS_SCHEMA_UNLIMITED */

    if (n->min_len > n->max_len) {
        return ngx_evbus_schema_compile_error(cc, "\"minLength\" is greater"
                                              " than \"maxLength\"");
    }

    if (n->min_items > n->max_items) {
        return ngx_evbus_schema_compile_error(cc, "\"minItems\" is greater"
                                              " than \"maxItems\"");
    }

    n->need_value = (n->min.text || n->max.text || n->xmin.text
                     || n->xmax.text || n->cnst.tok || n->nvalues);
    n->walk_object = (n->nprops || n->nrequired || !n->additional);
    n->walk_array = (n->items || n->min_items
                     || n->max_items != NGX_EVBUS_SCHEMA_UNLIMITED);

    cc->depth--;

    if (constrained) {
        *out = n;
    }

    return 0;
}


static int
ngx_evbus_schema_compile_type(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n,
    yajl_val v, const ngx_evbus_schema_keyword_t *kw)
{
    size_t       i, k, count;
    unsigned    *types;
    const char  *name;

    types = (unsigned *) ((char *) n + kw->offset);

    count = YAJL_IS_ARRAY(v) ? v->u.array.len : 1;

    if (YAJL_IS_ARRAY(v) && count == 0) {
        return ngx_evbus_schema_compile_error(cc, "keyword \"type\" must not"
                                              " be an empty array");
    }

    for (i = 0; i < count; i++) {
        name = YAJL_IS_ARRAY(v) ? YAJL_GET_STRING(v->u.array.values[i])
                                : YAJL_GET_STRING(v);

        if (name == NULL) {
            return ngx_evbus_schema_compile_error(cc, "keyword \"type\" must"
                                                  " be a string or an array"
                                                  " of strings");
        }

        for (k = 0; ngx_evbus_schema_type_names[k]; k++) {
            if (strcmp(name, ngx_evbus_schema_type_names[k]) == 0) {
                break;
            }
        }

        if (ngx_evbus_schema_type_names[k] == NULL) {
            return ngx_evbus_schema_compile_error(cc, "keyword \"type\":"
                                                  " unknown type \"%s\"",
                                                  name);
        }

        *types |= 1u << k;
    }

    return 0;
}


static int
ngx_evbus_schema_compile_props(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n,
    yajl_val v, const ngx_evbus_schema_keyword_t *kw)
{
    int                 rc;
    char                seg[160];
    size_t              i, saved, index, prev;
    ngx_evbus_snode_t  *child;

    if (!YAJL_IS_OBJECT(v)) {
        return ngx_evbus_schema_compile_error(cc, "keyword \"%s\" must be an"
                                              " object", kw->name);
    }

    /*
     * The members are chained in the order "properties" declares them
     * ("required" may have added some before): the validator expects
     * them in that order.
     */

    prev = (size_t) -1;

    for (i = 0; i < v->u.object.len; i++) {
        snprintf(seg, sizeof(seg), "properties/%s", v->u.object.keys[i]);

        saved = ngx_evbus_schema_compile_path(cc, seg);
        rc = ngx_evbus_schema_compile_node(cc, v->u.object.values[i], &child);

        if (rc == 0) {
            rc = ngx_evbus_schema_compile_prop(cc, n, v->u.object.keys[i],
                                               strlen(v->u.object.keys[i]),
                                               child, &index);
        }

        if (rc == 0) {
            if (prev == (size_t) -1) {
                n->first = index;

            } else if (prev != index) {
                n->props[prev].after = index;
            }

            prev = index;
        }

        cc->path_len = saved;
        cc->path[saved] = '\0';

        if (rc != 0) {
            return rc;
        }
    }

    return 0;
}


static int
ngx_evbus_schema_compile_required(ngx_evbus_scomp_t *cc,
    ngx_evbus_snode_t *n, yajl_val v, const ngx_evbus_schema_keyword_t *kw)
{
    size_t       i, k, index;
    const char  *name;

    if (!YAJL_IS_ARRAY(v)) {
        return ngx_evbus_schema_compile_error(cc, "keyword \"%s\" must be an"
                                              " array of strings", kw->name);
    }

    n->required = ngx_evbus_schema_alloc(cc->set,
                                         v->u.array.len * sizeof(size_t));
    if (n->required == NULL) {
        return ngx_evbus_schema_compile_error(cc, "out of memory");
    }

    for (i = 0; i < v->u.array.len; i++) {
        name = YAJL_GET_STRING(v->u.array.values[i]);

        if (name == NULL) {
            return ngx_evbus_schema_compile_error(cc, "keyword \"%s\" must"
                                                  " be an array of strings",
                                                  kw->name);
        }

        if (ngx_evbus_schema_compile_prop(cc, n, name, strlen(name), NULL,
                                          &index)
            != 0)
        {
            return -1;
        }

        for (k = 0; k < n->nrequired; k++) {
            if (n->required[k] == index) {
                return ngx_evbus_schema_compile_error(cc, "keyword \"%s\":"
                                                      " \"%s\" is listed"
                                                      " twice", kw->name,
                                                      name);
            }
        }

        n->required[n->nrequired++] = index;
    }

    return 0;
}


static int
ngx_evbus_schema_compile_additional(ngx_evbus_scomp_t *cc,
    ngx_evbus_snode_t *n, yajl_val v, const ngx_evbus_schema_keyword_t *kw)
{
    if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
        return ngx_evbus_schema_compile_error(cc, "keyword \"%s\" must be"
                                              " true or false (a schema is"
                                              " not supported)", kw->name);
    }

    n->additional = YAJL_IS_TRUE(v);

    return 0;
}


static int
ngx_evbus_schema_compile_items(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n,
    yajl_val v, const ngx_evbus_schema_keyword_t *kw)
{
    int                  rc;
    size_t               saved;
    ngx_evbus_snode_t  **items;

    if (!YAJL_IS_OBJECT(v) && !YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
        return ngx_evbus_schema_compile_error(cc, "keyword \"items\" must be"
                                              " a schema (the array form is"
                                              " not supported)");
    }

    items = (ngx_evbus_snode_t **) ((char *) n + kw->offset);

    saved = ngx_evbus_schema_compile_path(cc, kw->name);
    rc = ngx_evbus_schema_compile_node(cc, v, items);
    cc->path_len = saved;
    cc->path[saved] = '\0';

    return rc;
}


static int
ngx_evbus_schema_compile_enum(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n,
    yajl_val v, const ngx_evbus_schema_keyword_t *kw)
{
    size_t  i;

    if (!YAJL_IS_ARRAY(v) || v->u.array.len == 0) {
        return ngx_evbus_schema_compile_error(cc, "keyword \"%s\" must be a"
                                              " non-empty array", kw->name);
    }

    n->values = ngx_evbus_schema_alloc(cc->set, v->u.array.len
                                                * sizeof(ngx_evbus_svalue_t));
    if (n->values == NULL) {
        return ngx_evbus_schema_compile_error(cc, "out of memory");
    }

    for (i = 0; i < v->u.array.len; i++) {
        if (ngx_evbus_schema_compile_value(cc, v->u.array.values[i],
                                           &n->values[i])
            != 0)
        {
            return -1;
        }
    }

    n->nvalues = v->u.array.len;

    return 0;
}


static int
ngx_evbus_schema_compile_const(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n,
    yajl_val v, const ngx_evbus_schema_keyword_t *kw)
{
    return ngx_evbus_schema_compile_value(cc, v, (ngx_evbus_svalue_t *)
                                                 ((char *) n + kw->offset));
}


static int
ngx_evbus_schema_compile_limit(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n,
    yajl_val v, const ngx_evbus_schema_keyword_t *kw)
{
    ngx_evbus_slimit_t  *l;

    if (!YAJL_IS_NUMBER(v)) {
        return ngx_evbus_schema_compile_error(cc, "keywords \"minimum\","
                                              " \"maximum\","
                                              " \"exclusiveMinimum\" and"
                                              " \"exclusiveMaximum\" must be"
                                              " numbers");
    }

    l = (ngx_evbus_slimit_t *) ((char *) n + kw->offset);

    l->value = strtod(v->u.number.r, NULL);
    l->text = ngx_evbus_schema_strdup(cc->set, v->u.number.r,
                                      strlen(v->u.number.r));

    return l->text ? 0 : ngx_evbus_schema_compile_error(cc, "out of memory");
}


static int
ngx_evbus_schema_compile_count(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n,
    yajl_val v, const ngx_evbus_schema_keyword_t *kw)
{
    size_t  *count;

    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0) {
        return ngx_evbus_schema_compile_error(cc, "keywords \"minLength\","
                                              " \"maxLength\", \"minItems\""
                                              " and \"maxItems\" must be"
                                              " non-negative integers");
    }

    count = (size_t *) ((char *) n + kw->offset);
    *count = (size_t) YAJL_GET_INTEGER(v);

    return 0;
}


static int
ngx_evbus_schema_compile_pattern(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n,
    yajl_val v, const ngx_evbus_schema_keyword_t *kw)
{
    char                     reason[160];
    size_t                   len;
    const unsigned char     *p;
    ngx_evbus_schema_env_t  *env;

    if (!YAJL_IS_STRING(v)) {
        return ngx_evbus_schema_compile_error(cc, "keyword \"%s\" must be a"
                                              " string", kw->name);
    }

    p = (const unsigned char *) v->u.string;
    len = strlen(v->u.string);

    n->pattern = ngx_evbus_schema_strdup(cc->set, v->u.string, len);
    if (n->pattern == NULL) {
        return ngx_evbus_schema_compile_error(cc, "out of memory");
    }

    env = &cc->set->env;

    if (env->regex_compile == NULL) {
        return ngx_evbus_schema_compile_error(cc, "keyword \"%s\": no"
                                              " regular expression engine",
                                              kw->name);
    }

    reason[0] = '\0';

    n->regex = env->regex_compile(env->regex_ctx, p, len, reason,
                                  sizeof(reason));
    if (n->regex == NULL) {
        return ngx_evbus_schema_compile_error(cc, "keyword \"%s\": invalid"
                                              " regular expression \"%s\":"
                                              " %s", kw->name, v->u.string,
                                              reason);
    }

    n->simple = ngx_evbus_regex_simple(p, len, env->alloc, env->alloc_ctx);

    return 0;
}


static int
ngx_evbus_schema_compile_format(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n,
    yajl_val v, const ngx_evbus_schema_keyword_t *kw)
{
    const ngx_evbus_format_t  **format;

    if (!YAJL_IS_STRING(v)) {
        return ngx_evbus_schema_compile_error(cc, "keyword \"format\" must"
                                              " be a string");
    }

    format = (const ngx_evbus_format_t **) ((char *) n + kw->offset);

    *format = ngx_evbus_format_find(v->u.string);

    if (*format == NULL) {
        return ngx_evbus_schema_compile_error(cc, "keyword \"format\":"
                                              " unsupported format \"%s\""
                                              " (supported: date-time, date,"
                                              " time, uuid, email, ipv4,"
                                              " ipv6, hostname)",
                                              v->u.string);
    }

    return 0;
}


static int
ngx_evbus_schema_compile_value(ngx_evbus_scomp_t *cc, yajl_val v,
    ngx_evbus_svalue_t *sv)
{
    const char  *s;

    memset(sv, 0, sizeof(ngx_evbus_svalue_t));

    if (YAJL_IS_STRING(v)) {
        s = v->u.string;
        sv->tok = NGX_EVBUS_TOK_STRING;
        sv->len = strlen(s);
        sv->s = (unsigned char *) ngx_evbus_schema_strdup(cc->set, s,
                                                          sv->len);
        return sv->s ? 0 : ngx_evbus_schema_compile_error(cc,
                                                          "out of memory");
    }

    if (YAJL_IS_NUMBER(v)) {
        s = v->u.number.r;
        sv->tok = NGX_EVBUS_TOK_NUMBER;
        sv->num = strtod(s, NULL);
        sv->len = strlen(s);
        sv->s = (unsigned char *) ngx_evbus_schema_strdup(cc->set, s,
                                                          sv->len);
        return sv->s ? 0 : ngx_evbus_schema_compile_error(cc,
                                                          "out of memory");
    }

    if (YAJL_IS_TRUE(v)) {
        sv->tok = NGX_EVBUS_TOK_TRUE;
        return 0;
    }

    if (YAJL_IS_FALSE(v)) {
        sv->tok = NGX_EVBUS_TOK_FALSE;
        return 0;
    }

    if (YAJL_IS_NULL(v)) {
        sv->tok = NGX_EVBUS_TOK_NULL;
        return 0;
    }

    return ngx_evbus_schema_compile_error(cc, "keywords \"enum\" and"
                                          " \"const\": objects and arrays"
                                          " as values are not supported");
}


static int
ngx_evbus_schema_compile_hash(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n)
{
    size_t  i, k, size;

    if (n->nprops == 0) {
        return 0;
    }

    size = 4;

    while (size < 2 * n->nprops) {
        size *= 2;
    }

    n->slots = ngx_evbus_schema_alloc(cc->set, size * sizeof(uint32_t));
    if (n->slots == NULL) {
        return ngx_evbus_schema_compile_error(cc, "out of memory");
    }

    memset(n->slots, 0, size * sizeof(uint32_t));

    for (i = 0; i < n->nprops; i++) {
        for (k = n->props[i].hash & (size - 1); n->slots[k];
             k = (k + 1) & (size - 1))
        {
            /* void */
        }

        n->slots[k] = (uint32_t) i + 1;
    }

    n->nslots = size;

    return 0;
}


/*
 * A property by name: "required" may come before or after "properties";
 * whichever comes second finds the entry the first one made.
 */

static int
ngx_evbus_schema_compile_prop(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n,
    const char *name, size_t len, ngx_evbus_snode_t *node, size_t *index)
{
    size_t              i;
    ngx_evbus_sprop_t  *p;

    for (i = 0; i < n->nprops; i++) {
        p = &n->props[i];

        if (p->len == len && memcmp(p->name, name, len) == 0) {
            if (node) {
                p->node = node;
            }

            if (index) {
                *index = i;
            }

            return 0;
        }
    }

    if ((n->nprops & (n->nprops - 1)) == 0) {
        /* 0, 1, 2, 4, ...: grow to the next power of two */

        p = ngx_evbus_schema_alloc(cc->set, (n->nprops ? 2 * n->nprops : 1)
                                            * sizeof(ngx_evbus_sprop_t));
        if (p == NULL) {
            return ngx_evbus_schema_compile_error(cc, "out of memory");
        }

        if (n->props) {
            memcpy(p, n->props, n->nprops * sizeof(ngx_evbus_sprop_t));
        }

        n->props = p;
    }

    p = &n->props[n->nprops];
    p->name = (unsigned char *) ngx_evbus_schema_strdup(cc->set, name, len);
    if (p->name == NULL) {
        return ngx_evbus_schema_compile_error(cc, "out of memory");
    }

    p->len = len;
    p->hash = ngx_evbus_schema_hash(p->name, len);
    p->node = node;
    p->after = n->nprops + 1;

    if (index) {
        *index = n->nprops;
    }

    n->nprops++;

    return 0;
}


static int
ngx_evbus_schema_compile_error(ngx_evbus_scomp_t *cc, const char *fmt, ...)
{
    int      n;
    va_list  args;

    n = snprintf(cc->err, cc->err_len, "%s: ", cc->file);

    if (n < 0 || (size_t) n >= cc->err_len) {
        return -1;
    }

    va_start(args, fmt);
    (void) vsnprintf(cc->err + n, cc->err_len - n, fmt, args);
    va_end(args);

    n = (int) strlen(cc->err);

    if ((size_t) n < cc->err_len) {
        snprintf(cc->err + n, cc->err_len - n, " at %s",
                 cc->path_len ? cc->path : "the top level");
    }

    return -1;
}


/* appends "/seg" to the path; returns its length before, to restore it */

static size_t
ngx_evbus_schema_compile_path(ngx_evbus_scomp_t *cc, const char *seg)
{
    size_t  saved, n;

    saved = cc->path_len;
    n = strlen(seg);

    if (saved + 1 + n < sizeof(cc->path)) {
        cc->path[saved] = '/';
        memcpy(cc->path + saved + 1, seg, n + 1);
        cc->path_len = saved + 1 + n;
    }

    return saved;
}

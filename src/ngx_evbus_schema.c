
/*
 * Copyright (C) ngx_evbus authors
 */


#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include <yajl/yajl_tree.h>

#include "ngx_evbus_schema.h"


#define NGX_EVBUS_T_NULL          0x01
#define NGX_EVBUS_T_BOOLEAN       0x02
#define NGX_EVBUS_T_OBJECT        0x04
#define NGX_EVBUS_T_ARRAY         0x08
#define NGX_EVBUS_T_NUMBER        0x10
#define NGX_EVBUS_T_INTEGER       0x20
#define NGX_EVBUS_T_STRING        0x40

#define NGX_EVBUS_FMT_NONE        0
#define NGX_EVBUS_FMT_DATE_TIME   1
#define NGX_EVBUS_FMT_DATE        2
#define NGX_EVBUS_FMT_TIME        3
#define NGX_EVBUS_FMT_UUID        4
#define NGX_EVBUS_FMT_EMAIL       5
#define NGX_EVBUS_FMT_IPV4        6
#define NGX_EVBUS_FMT_IPV6        7
#define NGX_EVBUS_FMT_HOSTNAME    8

#define NGX_EVBUS_V_IDLE          0
#define NGX_EVBUS_V_RECORD        1
#define NGX_EVBUS_V_LIVE          2
#define NGX_EVBUS_V_FAILED        3

#define NGX_EVBUS_SCHEMA_DEPTH    64
#define NGX_EVBUS_SCHEMA_FILE_MAX (1024 * 1024)
#define NGX_EVBUS_PTR_MAX         200
#define NGX_EVBUS_GOT_MAX         40
#define NGX_EVBUS_ENUM_SHOWN      5
#define NGX_EVBUS_TYPE_MAX        128

/* keeps rare and long paths out of the per-token functions' registers */
#if (defined __GNUC__)
#define ngx_evbus_noinline        __attribute__((noinline))
#else
#define ngx_evbus_noinline
#endif


typedef struct ngx_evbus_snode_s  ngx_evbus_snode_t;


typedef struct {
    const unsigned char        *name;
    size_t                      len;
    uint32_t                    hash;
    ngx_evbus_snode_t          *node;         /* NULL: any value */
    size_t                      after;        /* declared next, or -1 */
} ngx_evbus_sprop_t;


typedef struct {
    int                         tok;          /* NGX_EVBUS_TOK_* */
    const unsigned char        *s;            /* string; number's text */
    size_t                      len;
    double                      num;
} ngx_evbus_svalue_t;


typedef struct {
    double                      value;
    const char                 *text;         /* as written in the schema */
} ngx_evbus_slimit_t;


struct ngx_evbus_snode_s {
    unsigned                    types;        /* 0: any type */
    unsigned                    reject_all:1; /* the schema false */
    unsigned                    additional:1;
    unsigned                    walk_object:1;
    unsigned                    walk_array:1;
    unsigned                    has_min:1;
    unsigned                    has_max:1;
    unsigned                    has_xmin:1;
    unsigned                    has_xmax:1;
    unsigned                    has_const:1;
    unsigned                    has_min_len:1;
    unsigned                    has_max_len:1;
    unsigned                    has_min_items:1;
    unsigned                    has_max_items:1;
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
    int                         format;

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


typedef struct {
    const ngx_evbus_snode_t    *node;
    const ngx_evbus_snode_t    *child;        /* of the current member */
    const unsigned char        *name;         /* of the current member */
    size_t                      name_len;
    size_t                      count;        /* items or members */
    size_t                      bits;         /* seen members, in v->bits */
    size_t                      next;         /* the member expected next */
    unsigned                    array:1;
} ngx_evbus_vframe_t;


struct ngx_evbus_validator_s {
    const ngx_evbus_schemas_t  *set;
    ngx_evbus_alloc_pt          alloc;
    void                       *alloc_ctx;
    int                         state;
    unsigned                    root_seen:1;
    unsigned                    overflow:1;
    size_t                      skip;         /* inside an unchecked value */
    const ngx_evbus_snode_t    *root;

    ngx_evbus_vframe_t         *frames;
    size_t                      nframes;
    size_t                      frames_cap;

    uint32_t                   *bits;
    size_t                      nbits;
    size_t                      bits_cap;

    unsigned char              *tape;
    size_t                      tape_len;
    size_t                      tape_cap;
    size_t                      tape_max;

    char                        num[64];
    ngx_evbus_schema_error_t    error;
};


static void *ngx_evbus_salloc(ngx_evbus_schemas_t *set, size_t size);
static int ngx_evbus_load_type(ngx_evbus_schemas_t *set, const char *dir,
    const char *type, char *err, size_t err_len);
static int ngx_evbus_load_file(ngx_evbus_schemas_t *set, const char *file,
    const char *type, int64_t version, char *err, size_t err_len);
static int64_t ngx_evbus_file_version(const char *name);
static int ngx_evbus_type_name(const unsigned char *s, size_t len);

static int ngx_evbus_compile(ngx_evbus_scomp_t *cc, yajl_val v,
    ngx_evbus_snode_t **out);
static int ngx_evbus_compile_key(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n,
    const char *key, yajl_val v, int *constrained);
static int ngx_evbus_compile_type(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n,
    yajl_val v);
static int ngx_evbus_compile_props(ngx_evbus_scomp_t *cc,
    ngx_evbus_snode_t *n, yajl_val v);
static int ngx_evbus_compile_required(ngx_evbus_scomp_t *cc,
    ngx_evbus_snode_t *n, yajl_val v);
static int ngx_evbus_compile_value(ngx_evbus_scomp_t *cc, yajl_val v,
    ngx_evbus_svalue_t *sv);
static int ngx_evbus_compile_limit(ngx_evbus_scomp_t *cc, yajl_val v,
    ngx_evbus_slimit_t *l);
static int ngx_evbus_compile_count(ngx_evbus_scomp_t *cc, yajl_val v,
    size_t *count);
static int ngx_evbus_compile_hash(ngx_evbus_scomp_t *cc,
    ngx_evbus_snode_t *n);
static int ngx_evbus_add_prop(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n,
    const char *name, size_t len, ngx_evbus_snode_t *node, size_t *index);
static int ngx_evbus_cerror(ngx_evbus_scomp_t *cc, const char *fmt, ...);
static size_t ngx_evbus_path_push(ngx_evbus_scomp_t *cc, const char *seg);
static char *ngx_evbus_sdup(ngx_evbus_schemas_t *set, const char *s,
    size_t len);

static uint32_t ngx_evbus_hash(const unsigned char *s, size_t len);
static int ngx_evbus_bytes_eq(const unsigned char *a, const unsigned char *b,
    size_t len);
static ngx_evbus_stype_t *ngx_evbus_type_lookup(
    const ngx_evbus_schemas_t *set, const unsigned char *s, size_t len);
static const ngx_evbus_sprop_t *ngx_evbus_prop_lookup(
    const ngx_evbus_snode_t *n, const unsigned char *s, size_t len,
    size_t *index);

static int ngx_evbus_record(ngx_evbus_validator_t *v, int tok,
    const unsigned char *s, size_t len);
static int ngx_evbus_live(ngx_evbus_validator_t *v, int tok,
    const unsigned char *s, size_t len);
static int ngx_evbus_vkey(ngx_evbus_validator_t *v, const unsigned char *s,
    size_t len);
static int ngx_evbus_vend(ngx_evbus_validator_t *v);
static int ngx_evbus_vvalue(ngx_evbus_validator_t *v,
    const ngx_evbus_snode_t *n, int tok, const unsigned char *s, size_t len);
static int ngx_evbus_vlimits(ngx_evbus_validator_t *v,
    const ngx_evbus_snode_t *n, const unsigned char *s, size_t len,
    double num);
static int ngx_evbus_vpush(ngx_evbus_validator_t *v,
    const ngx_evbus_snode_t *n, int array);
static int ngx_evbus_vstring(ngx_evbus_validator_t *v,
    const ngx_evbus_snode_t *n, const unsigned char *s, size_t len);
static int ngx_evbus_venum(ngx_evbus_validator_t *v,
    const ngx_evbus_snode_t *n, int tok, const unsigned char *s, size_t len,
    double num);
static int ngx_evbus_value_eq(const ngx_evbus_svalue_t *sv, int tok,
    const unsigned char *s, size_t len, double num);
static int ngx_evbus_number(ngx_evbus_validator_t *v, const unsigned char *s,
    size_t len, double *d, int *integral);
static int ngx_evbus_number_fast(const unsigned char *s, size_t len,
    double *d);
static int ngx_evbus_vfail(ngx_evbus_validator_t *v, size_t nseg,
    const unsigned char *extra, size_t extra_len, const char *kind,
    const char *keyword, const char *fmt, ...);
static size_t ngx_evbus_got(char *buf, size_t size, int tok,
    const unsigned char *s, size_t len);
static size_t ngx_evbus_show_value(char *buf, size_t size,
    const ngx_evbus_svalue_t *sv);
static const char *ngx_evbus_tok_type(int tok);
static size_t ngx_evbus_types_text(char *buf, size_t size, unsigned types);
static size_t ngx_evbus_chars(const unsigned char *s, size_t len);

static int ngx_evbus_format(int format, const unsigned char *s, size_t len);
static int ngx_evbus_fmt_date(const unsigned char *s, size_t len);
static int ngx_evbus_fmt_time(const unsigned char *s, size_t len);
static int ngx_evbus_fmt_uuid(const unsigned char *s, size_t len);
static int ngx_evbus_fmt_email(const unsigned char *s, size_t len);
static int ngx_evbus_fmt_ipv4(const unsigned char *s, size_t len);
static int ngx_evbus_fmt_ipv6(const unsigned char *s, size_t len);
static int ngx_evbus_fmt_hostname(const unsigned char *s, size_t len);
static int ngx_evbus_digits(const unsigned char *s, size_t n, int *value);


static const char  *ngx_evbus_type_names[] = {
    "null", "boolean", "object", "array", "number", "integer", "string", NULL
};

static const char  *ngx_evbus_format_names[] = {
    "", "date-time", "date", "time", "uuid", "email", "ipv4", "ipv6",
    "hostname", NULL
};

/* keywords that annotate and do not constrain: accepted, ignored */
static const char  *ngx_evbus_annotations[] = {
    "$schema", "$id", "$comment", "title", "description", "default",
    "examples", "deprecated", "readOnly", "writeOnly", NULL
};

/* the envelope the core checks: always allowed at the top level */
static const char  *ngx_evbus_envelope[] = {
    "event_type", "event_id", "event_version", "metadata", NULL
};


ngx_evbus_schemas_t *
ngx_evbus_schemas_create(const ngx_evbus_schema_env_t *env)
{
    ngx_evbus_schemas_t  *set;

    set = env->alloc(env->alloc_ctx, sizeof(ngx_evbus_schemas_t));
    if (set == NULL) {
        return NULL;
    }

    memset(set, 0, sizeof(ngx_evbus_schemas_t));
    set->env = *env;

    return set;
}


int
ngx_evbus_schemas_load(ngx_evbus_schemas_t *set, const char *dir, char *err,
    size_t err_len)
{
    int             rc;
    DIR            *d;
    char            path[4096];
    struct stat     st;
    struct dirent  *de;

    d = opendir(dir);
    if (d == NULL) {
        snprintf(err, err_len, "%s: opendir() failed: %s", dir,
                 strerror(errno));
        return -1;
    }

    rc = 0;

    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }

        if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir, de->d_name)
            >= sizeof(path))
        {
            snprintf(err, err_len, "%s/%s: path too long", dir, de->d_name);
            rc = -1;
            break;
        }

        if (stat(path, &st) != 0) {
            snprintf(err, err_len, "%s: stat() failed: %s", path,
                     strerror(errno));
            rc = -1;
            break;
        }

        if (!S_ISDIR(st.st_mode)
            || !ngx_evbus_type_name((const unsigned char *) de->d_name,
                                    strlen(de->d_name)))
        {
            snprintf(err, err_len, "%s: unexpected file, expected a"
                     " directory named after an event type", path);
            rc = -1;
            break;
        }

        rc = ngx_evbus_load_type(set, path, de->d_name, err, err_len);
        if (rc != 0) {
            break;
        }
    }

    closedir(d);

    if (rc != 0) {
        return rc;
    }

    if (set->nschemas == 0) {
        snprintf(err, err_len, "%s: no schemas, expected"
                 " <event_type>/<version>.json files", dir);
        return -1;
    }

    return ngx_evbus_schemas_done(set, err, err_len);
}


static int
ngx_evbus_load_type(ngx_evbus_schemas_t *set, const char *dir,
    const char *type, char *err, size_t err_len)
{
    int             rc;
    DIR            *d;
    char            path[4096];
    int64_t         version;
    struct stat     st;
    struct dirent  *de;

    d = opendir(dir);
    if (d == NULL) {
        snprintf(err, err_len, "%s: opendir() failed: %s", dir,
                 strerror(errno));
        return -1;
    }

    rc = 0;

    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }

        if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir, de->d_name)
            >= sizeof(path))
        {
            snprintf(err, err_len, "%s/%s: path too long", dir, de->d_name);
            rc = -1;
            break;
        }

        version = ngx_evbus_file_version(de->d_name);

        if (version <= 0 || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            snprintf(err, err_len, "%s: unexpected file, expected"
                     " <version>.json with an integer version", path);
            rc = -1;
            break;
        }

        rc = ngx_evbus_load_file(set, path, type, version, err, err_len);
        if (rc != 0) {
            break;
        }
    }

    closedir(d);

    return rc;
}


static int
ngx_evbus_load_file(ngx_evbus_schemas_t *set, const char *file,
    const char *type, int64_t version, char *err, size_t err_len)
{
    int             rc;
    FILE           *f;
    char           *name;
    size_t          n;
    unsigned char  *buf;

    f = fopen(file, "rb");
    if (f == NULL) {
        snprintf(err, err_len, "%s: fopen() failed: %s", file,
                 strerror(errno));
        return -1;
    }

    buf = malloc(NGX_EVBUS_SCHEMA_FILE_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        snprintf(err, err_len, "%s: out of memory", file);
        return -1;
    }

    n = fread(buf, 1, NGX_EVBUS_SCHEMA_FILE_MAX + 1, f);

    if (ferror(f)) {
        snprintf(err, err_len, "%s: read failed", file);
        rc = -1;

    } else if (n > NGX_EVBUS_SCHEMA_FILE_MAX) {
        snprintf(err, err_len, "%s: larger than 1 MB", file);
        rc = -1;

    } else {
        name = ngx_evbus_sdup(set, file, strlen(file));

        rc = (name == NULL)
             ? (snprintf(err, err_len, "%s: out of memory", file), -1)
             : ngx_evbus_schemas_add(set, (const unsigned char *) type,
                                     strlen(type), version, buf, n, name,
                                     err, err_len);
    }

    fclose(f);
    free(buf);

    return rc;
}


/* "12.json" -> 12; anything else, leading zeros included -> -1 */

static int64_t
ngx_evbus_file_version(const char *name)
{
    size_t   i, len;
    int64_t  v;

    len = strlen(name);

    if (len < 6 || len > 15 || strcmp(name + len - 5, ".json") != 0
        || name[0] == '0')
    {
        return -1;
    }

    v = 0;

    for (i = 0; i < len - 5; i++) {
        if (name[i] < '0' || name[i] > '9') {
            return -1;
        }

        v = v * 10 + (name[i] - '0');
    }

    return (v >= 1 && v <= 0x7fffffff) ? v : -1;
}


static int
ngx_evbus_type_name(const unsigned char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_EVBUS_TYPE_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9')
              || s[i] == '_' || s[i] == '.' || s[i] == '-'))
        {
            return 0;
        }
    }

    return 1;
}


int
ngx_evbus_schemas_add(ngx_evbus_schemas_t *set, const unsigned char *type,
    size_t type_len, int64_t version, const unsigned char *json, size_t len,
    const char *file, char *err, size_t err_len)
{
    int                  rc;
    char                *text, ebuf[256];
    size_t               i, cap;
    yajl_val             tree;
    ngx_evbus_stype_t   *t;
    ngx_evbus_schema_t  *sc;
    ngx_evbus_snode_t   *root;
    ngx_evbus_scomp_t    cc;

    if (!ngx_evbus_type_name(type, type_len)) {
        snprintf(err, err_len, "%s: invalid event type \"%.*s\"", file,
                 (int) (type_len > 128 ? 128 : type_len), type);
        return -1;
    }

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
        rc = ngx_evbus_cerror(&cc, "a schema file must hold a JSON object");

    } else {
        rc = ngx_evbus_compile(&cc, tree, &root);
    }

    yajl_tree_free(tree);

    if (rc != 0) {
        return rc;
    }

    t = ngx_evbus_type_lookup(set, type, type_len);

    if (t == NULL) {
        if (set->ntypes == set->types_cap) {
            cap = set->types_cap ? 2 * set->types_cap : 16;

            t = ngx_evbus_salloc(set, cap * sizeof(ngx_evbus_stype_t));
            if (t == NULL) {
                goto nomem;
            }

            if (set->types) {
                memcpy(t, set->types,
                       set->ntypes * sizeof(ngx_evbus_stype_t));
            }

            set->types = t;
            set->types_cap = cap;

            /* the hash is rebuilt by ngx_evbus_schemas_done() */
            set->nslots = 0;
        }

        t = &set->types[set->ntypes++];
        memset(t, 0, sizeof(ngx_evbus_stype_t));

        t->name = (unsigned char *) ngx_evbus_sdup(set, (const char *) type,
                                                   type_len);
        if (t->name == NULL) {
            goto nomem;
        }

        t->len = type_len;
        t->hash = ngx_evbus_hash(type, type_len);
    }

    for (i = 0; i < t->nversions; i++) {
        if (t->versions[i].version == version) {
            snprintf(err, err_len, "%s: duplicate schema for \"%.*s\""
                     " version %lld", file, (int) type_len, type,
                     (long long) version);
            return -1;
        }
    }

    if (t->nversions == t->cap) {
        cap = t->cap ? 2 * t->cap : 4;

        sc = ngx_evbus_salloc(set, cap * sizeof(ngx_evbus_schema_t));
        if (sc == NULL) {
            goto nomem;
        }

        if (t->versions) {
            memcpy(sc, t->versions, t->nversions * sizeof(ngx_evbus_schema_t));
        }

        t->versions = sc;
        t->cap = cap;
    }

    /* kept sorted by version */

    for (i = t->nversions; i > 0 && t->versions[i - 1].version > version; i--)
    {
        t->versions[i] = t->versions[i - 1];
    }

    sc = &t->versions[i];
    sc->version = version;
    sc->root = root;
    sc->file = file;

    t->nversions++;
    set->nschemas++;

    return 0;

nomem:

    snprintf(err, err_len, "%s: out of memory", file);
    return -1;
}


int
ngx_evbus_schemas_done(ngx_evbus_schemas_t *set, char *err, size_t err_len)
{
    size_t    i, k, n;
    uint32_t  *slots;

    n = 8;

    while (n < 2 * set->ntypes) {
        n *= 2;
    }

    slots = ngx_evbus_salloc(set, n * sizeof(uint32_t));
    if (slots == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }

    memset(slots, 0, n * sizeof(uint32_t));

    for (i = 0; i < set->ntypes; i++) {
        for (k = set->types[i].hash & (n - 1); slots[k]; k = (k + 1) & (n - 1))
        {
            /* void */
        }

        slots[k] = (uint32_t) i + 1;
    }

    set->slots = slots;
    set->nslots = n;

    return 0;
}


size_t
ngx_evbus_schemas_count(const ngx_evbus_schemas_t *set)
{
    return set->nschemas;
}


size_t
ngx_evbus_schemas_types(const ngx_evbus_schemas_t *set)
{
    return set->ntypes;
}


const ngx_evbus_schema_t *
ngx_evbus_schemas_find(const ngx_evbus_schemas_t *set,
    const unsigned char *type, size_t type_len, int64_t version,
    int64_t default_version, int *known, int *single)
{
    size_t              lo, hi, mid;
    ngx_evbus_stype_t  *t;

    t = ngx_evbus_type_lookup(set, type, type_len);

    if (t == NULL || t->nversions == 0) {
        *known = 0;
        *single = 0;
        return NULL;
    }

    *known = 1;
    *single = (t->nversions == 1);

    if (version <= 0) {
        if (default_version <= 0) {
            return &t->versions[t->nversions - 1];
        }

        version = default_version;
    }

    lo = 0;
    hi = t->nversions;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        if (t->versions[mid].version == version) {
            return &t->versions[mid];
        }

        if (t->versions[mid].version < version) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    if (version == default_version) {
        /* the default is a preference: a type without it gets its latest */
        return &t->versions[t->nversions - 1];
    }

    return NULL;
}


int64_t
ngx_evbus_schema_version(const ngx_evbus_schema_t *schema)
{
    return schema->version;
}


static void *
ngx_evbus_salloc(ngx_evbus_schemas_t *set, size_t size)
{
    return set->env.alloc(set->env.alloc_ctx, size ? size : 1);
}


static char *
ngx_evbus_sdup(ngx_evbus_schemas_t *set, const char *s, size_t len)
{
    char  *d;

    d = ngx_evbus_salloc(set, len + 1);
    if (d == NULL) {
        return NULL;
    }

    memcpy(d, s, len);
    d[len] = '\0';

    return d;
}


static uint32_t
ngx_evbus_hash(const unsigned char *s, size_t len)
{
    size_t    i;
    uint32_t  h;

    h = 2166136261u;

    for (i = 0; i < len; i++) {
        h = (h ^ s[i]) * 16777619u;
    }

    return h;
}


/*
 * Equality of short byte strings (member names, constants) without a call
 * to memcmp(): 8 bytes at a time, the last ones overlapping.
 */

static int
ngx_evbus_bytes_eq(const unsigned char *a, const unsigned char *b,
    size_t len)
{
    size_t    i;
    uint32_t  x4, y4;
    uint64_t  x, y;

    if (len >= 8) {
        for (i = 0; i + 8 < len; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);

            if (x != y) {
                return 0;
            }
        }

        memcpy(&x, a + len - 8, 8);
        memcpy(&y, b + len - 8, 8);

        return x == y;
    }

    if (len >= 4) {
        memcpy(&x4, a, 4);
        memcpy(&y4, b, 4);

        if (x4 != y4) {
            return 0;
        }

        memcpy(&x4, a + len - 4, 4);
        memcpy(&y4, b + len - 4, 4);

        return x4 == y4;
    }

    for (i = 0; i < len; i++) {
        if (a[i] != b[i]) {
            return 0;
        }
    }

    return 1;
}


static ngx_evbus_stype_t *
ngx_evbus_type_lookup(const ngx_evbus_schemas_t *set, const unsigned char *s,
    size_t len)
{
    size_t              i, k, mask;
    uint32_t            h;
    ngx_evbus_stype_t  *t;

    if (set->nslots == 0) {
        /* still loading */

        for (i = 0; i < set->ntypes; i++) {
            t = &set->types[i];

            if (t->len == len && memcmp(t->name, s, len) == 0) {
                return t;
            }
        }

        return NULL;
    }

    h = ngx_evbus_hash(s, len);
    mask = set->nslots - 1;

    for (k = h & mask; set->slots[k]; k = (k + 1) & mask) {
        t = &set->types[set->slots[k] - 1];

        if (t->hash == h && t->len == len && memcmp(t->name, s, len) == 0) {
            return t;
        }
    }

    return NULL;
}


ngx_evbus_noinline static const ngx_evbus_sprop_t *
ngx_evbus_prop_lookup(const ngx_evbus_snode_t *n, const unsigned char *s,
    size_t len, size_t *index)
{
    size_t                    k, mask;
    uint32_t                  h;
    const ngx_evbus_sprop_t  *p;

    if (n->nslots == 0) {
        return NULL;
    }

    h = ngx_evbus_hash(s, len);
    mask = n->nslots - 1;

    for (k = h & mask; n->slots[k]; k = (k + 1) & mask) {
        p = &n->props[n->slots[k] - 1];

        if (p->hash == h && p->len == len
            && ngx_evbus_bytes_eq(p->name, s, len))
        {
            *index = n->slots[k] - 1;
            return p;
        }
    }

    return NULL;
}


/* compilation: v is a schema; *out is NULL for one that accepts anything */

static int
ngx_evbus_compile(ngx_evbus_scomp_t *cc, yajl_val v, ngx_evbus_snode_t **out)
{
    int                 constrained;
    size_t              i, k;
    const char         *key;
    ngx_evbus_snode_t  *n;

    *out = NULL;

    if (YAJL_IS_TRUE(v)) {
        return 0;
    }

    n = ngx_evbus_salloc(cc->set, sizeof(ngx_evbus_snode_t));
    if (n == NULL) {
        return ngx_evbus_cerror(cc, "out of memory");
    }

    memset(n, 0, sizeof(ngx_evbus_snode_t));
    n->additional = 1;

    if (YAJL_IS_FALSE(v)) {
        n->reject_all = 1;
        *out = n;
        return 0;
    }

    if (!YAJL_IS_OBJECT(v)) {
        return ngx_evbus_cerror(cc, "a schema must be an object or a"
                                " boolean");
    }

    if (++cc->depth > NGX_EVBUS_SCHEMA_DEPTH) {
        return ngx_evbus_cerror(cc, "schema nests deeper than %d levels",
                                NGX_EVBUS_SCHEMA_DEPTH);
    }

    constrained = 0;

    for (i = 0; i < v->u.object.len; i++) {
        key = v->u.object.keys[i];

        for (k = 0; k < i; k++) {
            if (strcmp(key, v->u.object.keys[k]) == 0) {
                return ngx_evbus_cerror(cc, "duplicate keyword \"%s\"", key);
            }
        }

        if (ngx_evbus_compile_key(cc, n, key, v->u.object.values[i],
                                  &constrained)
            != 0)
        {
            return -1;
        }
    }

    if (ngx_evbus_compile_hash(cc, n) != 0) {
        return -1;
    }

    if (n->has_min_len && n->has_max_len && n->min_len > n->max_len) {
        return ngx_evbus_cerror(cc, "\"minLength\" is greater than"
                                " \"maxLength\"");
    }

    if (n->has_min_items && n->has_max_items && n->min_items > n->max_items)
    {
        return ngx_evbus_cerror(cc, "\"minItems\" is greater than"
                                " \"maxItems\"");
    }

    n->need_value = (n->has_min || n->has_max || n->has_xmin || n->has_xmax
                     || n->has_const || n->nvalues);
    n->walk_object = (n->nprops || n->nrequired || !n->additional);
    n->walk_array = (n->items || n->has_min_items || n->has_max_items);

    cc->depth--;

    if (constrained) {
        *out = n;
    }

    return 0;
}


static int
ngx_evbus_compile_key(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n,
    const char *key, yajl_val v, int *constrained)
{
    int      rc;
    char     reason[160];
    size_t   i, saved;

    for (i = 0; ngx_evbus_annotations[i]; i++) {
        if (strcmp(key, ngx_evbus_annotations[i]) == 0) {
            return 0;
        }
    }

    *constrained = 1;

    if (strcmp(key, "type") == 0) {
        return ngx_evbus_compile_type(cc, n, v);
    }

    if (strcmp(key, "properties") == 0) {
        return ngx_evbus_compile_props(cc, n, v);
    }

    if (strcmp(key, "required") == 0) {
        return ngx_evbus_compile_required(cc, n, v);
    }

    if (strcmp(key, "additionalProperties") == 0) {
        if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
            return ngx_evbus_cerror(cc, "keyword \"additionalProperties\""
                                    " must be true or false (a schema is"
                                    " not supported)");
        }

        n->additional = YAJL_IS_TRUE(v);
        return 0;
    }

    if (strcmp(key, "items") == 0) {
        if (!YAJL_IS_OBJECT(v) && !YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
            return ngx_evbus_cerror(cc, "keyword \"items\" must be a schema"
                                    " (the array form is not supported)");
        }

        saved = ngx_evbus_path_push(cc, "items");
        rc = ngx_evbus_compile(cc, v, &n->items);
        cc->path_len = saved;
        cc->path[saved] = '\0';

        return rc;
    }

    if (strcmp(key, "enum") == 0) {
        if (!YAJL_IS_ARRAY(v) || v->u.array.len == 0) {
            return ngx_evbus_cerror(cc, "keyword \"enum\" must be a"
                                    " non-empty array");
        }

        n->values = ngx_evbus_salloc(cc->set, v->u.array.len
                                              * sizeof(ngx_evbus_svalue_t));
        if (n->values == NULL) {
            return ngx_evbus_cerror(cc, "out of memory");
        }

        for (i = 0; i < v->u.array.len; i++) {
            if (ngx_evbus_compile_value(cc, v->u.array.values[i],
                                        &n->values[i])
                != 0)
            {
                return -1;
            }
        }

        n->nvalues = v->u.array.len;
        return 0;
    }

    if (strcmp(key, "const") == 0) {
        n->has_const = 1;
        return ngx_evbus_compile_value(cc, v, &n->cnst);
    }

    if (strcmp(key, "minimum") == 0) {
        n->has_min = 1;
        return ngx_evbus_compile_limit(cc, v, &n->min);
    }

    if (strcmp(key, "maximum") == 0) {
        n->has_max = 1;
        return ngx_evbus_compile_limit(cc, v, &n->max);
    }

    if (strcmp(key, "exclusiveMinimum") == 0) {
        n->has_xmin = 1;
        return ngx_evbus_compile_limit(cc, v, &n->xmin);
    }

    if (strcmp(key, "exclusiveMaximum") == 0) {
        n->has_xmax = 1;
        return ngx_evbus_compile_limit(cc, v, &n->xmax);
    }

    if (strcmp(key, "minLength") == 0) {
        n->has_min_len = 1;
        return ngx_evbus_compile_count(cc, v, &n->min_len);
    }

    if (strcmp(key, "maxLength") == 0) {
        n->has_max_len = 1;
        return ngx_evbus_compile_count(cc, v, &n->max_len);
    }

    if (strcmp(key, "minItems") == 0) {
        n->has_min_items = 1;
        return ngx_evbus_compile_count(cc, v, &n->min_items);
    }

    if (strcmp(key, "maxItems") == 0) {
        n->has_max_items = 1;
        return ngx_evbus_compile_count(cc, v, &n->max_items);
    }

    if (strcmp(key, "pattern") == 0) {
        if (!YAJL_IS_STRING(v)) {
            return ngx_evbus_cerror(cc, "keyword \"pattern\" must be a"
                                    " string");
        }

        n->pattern = ngx_evbus_sdup(cc->set, v->u.string,
                                    strlen(v->u.string));
        if (n->pattern == NULL) {
            return ngx_evbus_cerror(cc, "out of memory");
        }

        if (cc->set->env.regex_compile == NULL) {
            return ngx_evbus_cerror(cc, "keyword \"pattern\": no regular"
                                    " expression engine");
        }

        reason[0] = '\0';

        n->regex = cc->set->env.regex_compile(cc->set->env.regex_ctx,
                                     (const unsigned char *) v->u.string,
                                     strlen(v->u.string), reason,
                                     sizeof(reason));
        if (n->regex == NULL) {
            return ngx_evbus_cerror(cc, "keyword \"pattern\": invalid"
                                    " regular expression \"%s\": %s",
                                    v->u.string, reason);
        }

        n->simple = ngx_evbus_regex_simple((const unsigned char *) v->u.string,
                                           strlen(v->u.string),
                                           cc->set->env.alloc,
                                           cc->set->env.alloc_ctx);
        return 0;
    }

    if (strcmp(key, "format") == 0) {
        if (!YAJL_IS_STRING(v)) {
            return ngx_evbus_cerror(cc, "keyword \"format\" must be a"
                                    " string");
        }

        for (i = 1; ngx_evbus_format_names[i]; i++) {
            if (strcmp(v->u.string, ngx_evbus_format_names[i]) == 0) {
                n->format = (int) i;
                return 0;
            }
        }

        return ngx_evbus_cerror(cc, "keyword \"format\": unsupported format"
                                " \"%s\" (supported: date-time, date, time,"
                                " uuid, email, ipv4, ipv6, hostname)",
                                v->u.string);
    }

    return ngx_evbus_cerror(cc, "unsupported keyword \"%s\"", key);
}


static int
ngx_evbus_compile_type(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n,
    yajl_val v)
{
    size_t       i, k, count;
    const char  *name;

    count = YAJL_IS_ARRAY(v) ? v->u.array.len : 1;

    if (YAJL_IS_ARRAY(v) && count == 0) {
        return ngx_evbus_cerror(cc, "keyword \"type\" must not be an empty"
                                " array");
    }

    for (i = 0; i < count; i++) {
        name = YAJL_IS_ARRAY(v) ? YAJL_GET_STRING(v->u.array.values[i])
                                : YAJL_GET_STRING(v);

        if (name == NULL) {
            return ngx_evbus_cerror(cc, "keyword \"type\" must be a string"
                                    " or an array of strings");
        }

        for (k = 0; ngx_evbus_type_names[k]; k++) {
            if (strcmp(name, ngx_evbus_type_names[k]) == 0) {
                break;
            }
        }

        if (ngx_evbus_type_names[k] == NULL) {
            return ngx_evbus_cerror(cc, "keyword \"type\": unknown type"
                                    " \"%s\"", name);
        }

        n->types |= 1u << k;
    }

    return 0;
}


static int
ngx_evbus_compile_props(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n,
    yajl_val v)
{
    int                 rc;
    char                seg[160];
    size_t              i, saved, index, prev;
    ngx_evbus_snode_t  *child;

    if (!YAJL_IS_OBJECT(v)) {
        return ngx_evbus_cerror(cc, "keyword \"properties\" must be an"
                                " object");
    }

    /*
     * The members are chained in the order "properties" declares them
     * ("required" may have added some before): the validator expects
     * them in that order.
     */

    prev = (size_t) -1;

    for (i = 0; i < v->u.object.len; i++) {
        snprintf(seg, sizeof(seg), "properties/%s", v->u.object.keys[i]);

        saved = ngx_evbus_path_push(cc, seg);
        rc = ngx_evbus_compile(cc, v->u.object.values[i], &child);

        if (rc == 0) {
            rc = ngx_evbus_add_prop(cc, n, v->u.object.keys[i],
                                    strlen(v->u.object.keys[i]), child,
                                    &index);
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
ngx_evbus_compile_required(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n,
    yajl_val v)
{
    size_t       i, k, index;
    const char  *name;

    if (!YAJL_IS_ARRAY(v)) {
        return ngx_evbus_cerror(cc, "keyword \"required\" must be an array"
                                " of strings");
    }

    n->required = ngx_evbus_salloc(cc->set, v->u.array.len * sizeof(size_t));
    if (n->required == NULL) {
        return ngx_evbus_cerror(cc, "out of memory");
    }

    for (i = 0; i < v->u.array.len; i++) {
        name = YAJL_GET_STRING(v->u.array.values[i]);

        if (name == NULL) {
            return ngx_evbus_cerror(cc, "keyword \"required\" must be an"
                                    " array of strings");
        }

        if (ngx_evbus_add_prop(cc, n, name, strlen(name), NULL, &index) != 0)
        {
            return -1;
        }

        for (k = 0; k < n->nrequired; k++) {
            if (n->required[k] == index) {
                return ngx_evbus_cerror(cc, "keyword \"required\": \"%s\""
                                        " is listed twice", name);
            }
        }

        n->required[n->nrequired++] = index;
    }

    return 0;
}


/*
 * A property by name: "required" may come before or after "properties";
 * whichever comes second finds the entry the first one made.
 */

static int
ngx_evbus_add_prop(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n,
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

        p = ngx_evbus_salloc(cc->set, (n->nprops ? 2 * n->nprops : 1)
                                      * sizeof(ngx_evbus_sprop_t));
        if (p == NULL) {
            return ngx_evbus_cerror(cc, "out of memory");
        }

        if (n->props) {
            memcpy(p, n->props, n->nprops * sizeof(ngx_evbus_sprop_t));
        }

        n->props = p;
    }

    p = &n->props[n->nprops];
    p->name = (unsigned char *) ngx_evbus_sdup(cc->set, name, len);
    if (p->name == NULL) {
        return ngx_evbus_cerror(cc, "out of memory");
    }

    p->len = len;
    p->hash = ngx_evbus_hash(p->name, len);
    p->node = node;
    p->after = n->nprops + 1;

    if (index) {
        *index = n->nprops;
    }

    n->nprops++;

    return 0;
}


static int
ngx_evbus_compile_hash(ngx_evbus_scomp_t *cc, ngx_evbus_snode_t *n)
{
    size_t  i, k, size;

    if (n->nprops == 0) {
        return 0;
    }

    size = 4;

    while (size < 2 * n->nprops) {
        size *= 2;
    }

    n->slots = ngx_evbus_salloc(cc->set, size * sizeof(uint32_t));
    if (n->slots == NULL) {
        return ngx_evbus_cerror(cc, "out of memory");
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


static int
ngx_evbus_compile_value(ngx_evbus_scomp_t *cc, yajl_val v,
    ngx_evbus_svalue_t *sv)
{
    const char  *s;

    memset(sv, 0, sizeof(ngx_evbus_svalue_t));

    if (YAJL_IS_STRING(v)) {
        s = v->u.string;
        sv->tok = NGX_EVBUS_TOK_STRING;
        sv->len = strlen(s);
        sv->s = (unsigned char *) ngx_evbus_sdup(cc->set, s, sv->len);
        return sv->s ? 0 : ngx_evbus_cerror(cc, "out of memory");
    }

    if (YAJL_IS_NUMBER(v)) {
        s = v->u.number.r;
        sv->tok = NGX_EVBUS_TOK_NUMBER;
        sv->num = strtod(s, NULL);
        sv->len = strlen(s);
        sv->s = (unsigned char *) ngx_evbus_sdup(cc->set, s, sv->len);
        return sv->s ? 0 : ngx_evbus_cerror(cc, "out of memory");
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

    return ngx_evbus_cerror(cc, "keywords \"enum\" and \"const\": objects"
                            " and arrays as values are not supported");
}


static int
ngx_evbus_compile_limit(ngx_evbus_scomp_t *cc, yajl_val v,
    ngx_evbus_slimit_t *l)
{
    if (!YAJL_IS_NUMBER(v)) {
        return ngx_evbus_cerror(cc, "keywords \"minimum\", \"maximum\","
                                " \"exclusiveMinimum\" and"
                                " \"exclusiveMaximum\" must be numbers");
    }

    l->value = strtod(v->u.number.r, NULL);
    l->text = ngx_evbus_sdup(cc->set, v->u.number.r, strlen(v->u.number.r));

    return l->text ? 0 : ngx_evbus_cerror(cc, "out of memory");
}


static int
ngx_evbus_compile_count(ngx_evbus_scomp_t *cc, yajl_val v, size_t *count)
{
    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0) {
        return ngx_evbus_cerror(cc, "keywords \"minLength\", \"maxLength\","
                                " \"minItems\" and \"maxItems\" must be"
                                " non-negative integers");
    }

    *count = (size_t) YAJL_GET_INTEGER(v);

    return 0;
}


static int
ngx_evbus_cerror(ngx_evbus_scomp_t *cc, const char *fmt, ...)
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


static size_t
ngx_evbus_path_push(ngx_evbus_scomp_t *cc, const char *seg)
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


ngx_evbus_validator_t *
ngx_evbus_validator_create(const ngx_evbus_schemas_t *set, size_t tape_max,
    ngx_evbus_alloc_pt alloc, void *alloc_ctx)
{
    ngx_evbus_validator_t  *v;

    v = alloc(alloc_ctx, sizeof(ngx_evbus_validator_t));
    if (v == NULL) {
        return NULL;
    }

    memset(v, 0, sizeof(ngx_evbus_validator_t));

    v->set = set;
    v->alloc = alloc;
    v->alloc_ctx = alloc_ctx;
    v->tape_max = tape_max;

    return v;
}


void
ngx_evbus_validator_reset(ngx_evbus_validator_t *v)
{
    v->state = NGX_EVBUS_V_RECORD;
    v->root_seen = 0;
    v->overflow = 0;
    v->skip = 0;
    v->root = NULL;
    v->nframes = 0;
    v->nbits = 0;
    v->tape_len = 0;
    memset(&v->error, 0, sizeof(ngx_evbus_schema_error_t));
}


int
ngx_evbus_validator_token(ngx_evbus_validator_t *v, int tok,
    const unsigned char *s, size_t len)
{
    if (v->state == NGX_EVBUS_V_LIVE) {
        return ngx_evbus_live(v, tok, s, len);
    }

    if (v->state == NGX_EVBUS_V_RECORD) {
        return ngx_evbus_record(v, tok, s, len);
    }

    return NGX_EVBUS_VALID_OK;
}


/*
 * The tape: a kind byte, the length as a base-128 varint, the decoded
 * bytes.  It is bounded: the core rejects events larger than
 * max_event_size, and no event's tape is larger than twice its text.
 */

ngx_evbus_noinline static int
ngx_evbus_record(ngx_evbus_validator_t *v, int tok, const unsigned char *s,
    size_t len)
{
    size_t          need, cap, n;
    unsigned char  *t;

    if (v->overflow) {
        return NGX_EVBUS_VALID_OK;
    }

    need = v->tape_len + 1 + 10 + len;

    if (need > v->tape_max) {
        v->overflow = 1;
        return NGX_EVBUS_VALID_OK;
    }

    if (need > v->tape_cap) {
        cap = v->tape_cap ? 2 * v->tape_cap : 1024;

        while (cap < need) {
            cap *= 2;
        }

        t = v->alloc(v->alloc_ctx, cap);
        if (t == NULL) {
            return NGX_EVBUS_VALID_NOMEM;
        }

        if (v->tape_len) {
            memcpy(t, v->tape, v->tape_len);
        }

        v->tape = t;
        v->tape_cap = cap;
    }

    t = v->tape + v->tape_len;
    *t++ = (unsigned char) tok;

    for (n = len; n >= 0x80; n >>= 7) {
        *t++ = (unsigned char) (n | 0x80);
    }

    *t++ = (unsigned char) n;

    if (len) {
        memcpy(t, s, len);
        t += len;
    }

    v->tape_len = t - v->tape;

    return NGX_EVBUS_VALID_OK;
}


int
ngx_evbus_validator_start(ngx_evbus_validator_t *v,
    const ngx_evbus_schema_t *schema)
{
    int                   rc, tok, shift;
    size_t                len;
    const unsigned char  *t, *end;

    if (v->state != NGX_EVBUS_V_RECORD) {
        return v->state == NGX_EVBUS_V_FAILED ? NGX_EVBUS_VALID_FAILED
                                              : NGX_EVBUS_VALID_OK;
    }

    v->state = NGX_EVBUS_V_LIVE;
    v->root = schema->root;

    if (v->overflow) {
        v->state = NGX_EVBUS_V_FAILED;
        v->error.kind = "too_large";
        v->error.keyword = "";
        v->error.pointer = "";
        v->error.message = "event too large to validate";
        return NGX_EVBUS_VALID_FAILED;
    }

    t = v->tape;
    end = t + v->tape_len;

    while (t < end) {
        tok = *t++;
        len = 0;
        shift = 0;

        do {
            len |= (size_t) (*t & 0x7f) << shift;
            shift += 7;
        } while (*t++ & 0x80);

        rc = ngx_evbus_live(v, tok, t, len);
        if (rc != NGX_EVBUS_VALID_OK) {
            return rc;
        }

        t += len;
    }

    return NGX_EVBUS_VALID_OK;
}


void
ngx_evbus_validator_stop(ngx_evbus_validator_t *v)
{
    if (v->state != NGX_EVBUS_V_FAILED) {
        v->state = NGX_EVBUS_V_IDLE;
    }
}


int
ngx_evbus_validator_pending(ngx_evbus_validator_t *v)
{
    return v->state == NGX_EVBUS_V_RECORD;
}


const ngx_evbus_schema_error_t *
ngx_evbus_validator_error(ngx_evbus_validator_t *v)
{
    return v->state == NGX_EVBUS_V_FAILED ? &v->error : NULL;
}


static int
ngx_evbus_live(ngx_evbus_validator_t *v, int tok, const unsigned char *s,
    size_t len)
{
    ngx_evbus_vframe_t       *f;
    const ngx_evbus_snode_t  *n;

    if (v->skip) {
        if (tok == NGX_EVBUS_TOK_MAP || tok == NGX_EVBUS_TOK_ARRAY) {
            v->skip++;

        } else if (tok == NGX_EVBUS_TOK_END) {
            v->skip--;
        }

        return NGX_EVBUS_VALID_OK;
    }

    if (tok == NGX_EVBUS_TOK_KEY) {
        return ngx_evbus_vkey(v, s, len);
    }

    if (tok == NGX_EVBUS_TOK_END) {
        return ngx_evbus_vend(v);
    }

    if (v->nframes == 0) {
        if (v->root_seen) {
            return NGX_EVBUS_VALID_OK;
        }

        v->root_seen = 1;
        n = v->root;

    } else {
        f = &v->frames[v->nframes - 1];

        if (f->array) {
            f->count++;
            f->child = f->node->items;
        }

        n = f->child;
    }

    if (n == NULL) {
        if (tok == NGX_EVBUS_TOK_MAP || tok == NGX_EVBUS_TOK_ARRAY) {
            v->skip = 1;
        }

        return NGX_EVBUS_VALID_OK;
    }

    return ngx_evbus_vvalue(v, n, tok, s, len);
}


ngx_evbus_noinline static int
ngx_evbus_vkey(ngx_evbus_validator_t *v, const unsigned char *s, size_t len)
{
    size_t                    i, index;
    uint32_t                 *bits;
    ngx_evbus_vframe_t       *f;
    const ngx_evbus_sprop_t  *p;

    if (v->nframes == 0) {
        return NGX_EVBUS_VALID_OK;
    }

    f = &v->frames[v->nframes - 1];
    f->count++;

    /* members usually come in the order the schema declares them */

    index = f->next;
    p = NULL;

    if (index < f->node->nprops) {
        p = &f->node->props[index];

        if (p->len != len || !ngx_evbus_bytes_eq(p->name, s, len)) {
            p = NULL;
        }
    }

    if (p == NULL) {
        p = ngx_evbus_prop_lookup(f->node, s, len, &index);
    }

    if (p) {
        f->next = p->after;

        bits = &v->bits[f->bits + index / 32];

        if (*bits & (1u << (index % 32))) {
            return ngx_evbus_vfail(v, v->nframes - 1, s, len,
                                   "duplicate_key", "properties",
                                   "duplicate key");
        }

        *bits |= 1u << (index % 32);

        f->child = p->node;
        f->name = p->name;
        f->name_len = p->len;

        return NGX_EVBUS_VALID_OK;
    }

    f->child = NULL;
    f->name = NULL;
    f->name_len = 0;

    if (f->node->additional) {
        return NGX_EVBUS_VALID_OK;
    }

    if (v->nframes == 1) {
        for (i = 0; ngx_evbus_envelope[i]; i++) {
            if (strlen(ngx_evbus_envelope[i]) == len
                && memcmp(ngx_evbus_envelope[i], s, len) == 0)
            {
                return NGX_EVBUS_VALID_OK;
            }
        }
    }

    return ngx_evbus_vfail(v, v->nframes - 1, s, len, "schema",
                           "additionalProperties",
                           "expected no undeclared property, got one");
}


ngx_evbus_noinline static int
ngx_evbus_vend(ngx_evbus_validator_t *v)
{
    size_t                    i, index;
    ngx_evbus_vframe_t       *f;
    const ngx_evbus_snode_t  *n;
    const ngx_evbus_sprop_t  *p;

    if (v->nframes == 0) {
        return NGX_EVBUS_VALID_OK;
    }

    f = &v->frames[v->nframes - 1];
    n = f->node;

    if (f->array) {
        if (n->has_min_items && f->count < n->min_items) {
            return ngx_evbus_vfail(v, v->nframes - 1, NULL, 0, "schema",
                                   "minItems", "expected at least %zu items,"
                                   " got %zu", n->min_items, f->count);
        }

        if (n->has_max_items && f->count > n->max_items) {
            return ngx_evbus_vfail(v, v->nframes - 1, NULL, 0, "schema",
                                   "maxItems", "expected at most %zu items,"
                                   " got %zu", n->max_items, f->count);
        }

    } else {
        for (i = 0; i < n->nrequired; i++) {
            index = n->required[i];

            if (!(v->bits[f->bits + index / 32] & (1u << (index % 32)))) {
                p = &n->props[index];

                return ngx_evbus_vfail(v, v->nframes - 1, p->name, p->len,
                                       "schema", "required",
                                       "expected a required property,"
                                       " got none");
            }
        }

        v->nbits = f->bits;
    }

    v->nframes--;

    return NGX_EVBUS_VALID_OK;
}


static int
ngx_evbus_vvalue(ngx_evbus_validator_t *v, const ngx_evbus_snode_t *n,
    int tok, const unsigned char *s, size_t len)
{
    int       integral;
    char      want[96], got[64];
    size_t    i;
    double    num;
    unsigned  type;

    if (n->reject_all) {
        (void) ngx_evbus_got(got, sizeof(got), tok, s, len);
        return ngx_evbus_vfail(v, v->nframes, NULL, 0, "schema", "false",
                               "expected no value, got %s", got);
    }

    num = 0;
    integral = 0;

    switch (tok) {

    case NGX_EVBUS_TOK_MAP:
        type = NGX_EVBUS_T_OBJECT;
        break;

    case NGX_EVBUS_TOK_ARRAY:
        type = NGX_EVBUS_T_ARRAY;
        break;

    case NGX_EVBUS_TOK_STRING:
        type = NGX_EVBUS_T_STRING;
        break;

    case NGX_EVBUS_TOK_NUMBER:

        /* the value only when a keyword needs it: most numbers need none */

        integral = 1;

        for (i = 0; i < len; i++) {
            if (s[i] == '.' || s[i] == 'e' || s[i] == 'E') {
                integral = 0;
                break;
            }
        }

        if (n->need_value || (!integral && (n->types & NGX_EVBUS_T_INTEGER))) {
            if (ngx_evbus_number(v, s, len, &num, &integral) != 0) {
                return NGX_EVBUS_VALID_NOMEM;
            }
        }

        type = NGX_EVBUS_T_NUMBER | (integral ? NGX_EVBUS_T_INTEGER : 0);
        break;

    case NGX_EVBUS_TOK_NULL:
        type = NGX_EVBUS_T_NULL;
        break;

    default:
        type = NGX_EVBUS_T_BOOLEAN;
    }

    if (n->types && !(n->types & type)) {
        (void) ngx_evbus_types_text(want, sizeof(want), n->types);

        return ngx_evbus_vfail(v, v->nframes, NULL, 0, "schema", "type",
                               "expected %s, got %s", want,
                               ngx_evbus_tok_type(tok));
    }

    if ((n->nvalues || n->has_const)
        && ngx_evbus_venum(v, n, tok, s, len, num) != NGX_EVBUS_VALID_OK)
    {
        return NGX_EVBUS_VALID_FAILED;
    }

    switch (tok) {

    case NGX_EVBUS_TOK_MAP:
        return n->walk_object ? ngx_evbus_vpush(v, n, 0)
                              : (v->skip = 1, NGX_EVBUS_VALID_OK);

    case NGX_EVBUS_TOK_ARRAY:
        return n->walk_array ? ngx_evbus_vpush(v, n, 1)
                             : (v->skip = 1, NGX_EVBUS_VALID_OK);

    case NGX_EVBUS_TOK_STRING:
        return ngx_evbus_vstring(v, n, s, len);

    case NGX_EVBUS_TOK_NUMBER:
        return ngx_evbus_vlimits(v, n, s, len, num);

    default:
        return NGX_EVBUS_VALID_OK;
    }
}


static int
ngx_evbus_vlimits(ngx_evbus_validator_t *v, const ngx_evbus_snode_t *n,
    const unsigned char *s, size_t len, double num)
{
    char                       got[64];
    const char                *keyword, *op;
    const ngx_evbus_slimit_t  *l;

    if (n->has_min && !(num >= n->min.value)) {
        keyword = "minimum";
        op = ">=";
        l = &n->min;

    } else if (n->has_max && !(num <= n->max.value)) {
        keyword = "maximum";
        op = "<=";
        l = &n->max;

    } else if (n->has_xmin && !(num > n->xmin.value)) {
        keyword = "exclusiveMinimum";
        op = ">";
        l = &n->xmin;

    } else if (n->has_xmax && !(num < n->xmax.value)) {
        keyword = "exclusiveMaximum";
        op = "<";
        l = &n->xmax;

    } else {
        return NGX_EVBUS_VALID_OK;
    }

    (void) ngx_evbus_got(got, sizeof(got), NGX_EVBUS_TOK_NUMBER, s, len);

    return ngx_evbus_vfail(v, v->nframes, NULL, 0, "schema", keyword,
                           "expected %s %s, got %s", op, l->text, got);
}


static int
ngx_evbus_vpush(ngx_evbus_validator_t *v, const ngx_evbus_snode_t *n,
    int array)
{
    size_t               words, cap;
    uint32_t            *bits;
    ngx_evbus_vframe_t  *f;

    if (v->nframes == v->frames_cap) {
        cap = v->frames_cap ? 2 * v->frames_cap : 16;

        f = v->alloc(v->alloc_ctx, cap * sizeof(ngx_evbus_vframe_t));
        if (f == NULL) {
            return NGX_EVBUS_VALID_NOMEM;
        }

        if (v->frames) {
            memcpy(f, v->frames, v->nframes * sizeof(ngx_evbus_vframe_t));
        }

        v->frames = f;
        v->frames_cap = cap;
    }

    f = &v->frames[v->nframes++];
    memset(f, 0, sizeof(ngx_evbus_vframe_t));

    f->node = n;
    f->array = array;
    f->bits = v->nbits;

    if (array) {
        return NGX_EVBUS_VALID_OK;
    }

    f->next = n->first;

    words = (n->nprops + 31) / 32;

    if (v->nbits + words > v->bits_cap) {
        cap = v->bits_cap ? 2 * v->bits_cap : 64;

        while (cap < v->nbits + words) {
            cap *= 2;
        }

        bits = v->alloc(v->alloc_ctx, cap * sizeof(uint32_t));
        if (bits == NULL) {
            return NGX_EVBUS_VALID_NOMEM;
        }

        if (v->nbits) {
            memcpy(bits, v->bits, v->nbits * sizeof(uint32_t));
        }

        v->bits = bits;
        v->bits_cap = cap;
    }

    memset(v->bits + v->nbits, 0, words * sizeof(uint32_t));
    v->nbits += words;

    return NGX_EVBUS_VALID_OK;
}


static int
ngx_evbus_vstring(ngx_evbus_validator_t *v, const ngx_evbus_snode_t *n,
    const unsigned char *s, size_t len)
{
    int     rc;
    char    got[64];
    size_t  chars;

    if ((n->has_min_len && n->min_len > 0)
        || (n->has_max_len && len > n->max_len))
    {
        chars = ngx_evbus_chars(s, len);

        if (n->has_min_len && chars < n->min_len) {
            return ngx_evbus_vfail(v, v->nframes, NULL, 0, "schema",
                                   "minLength", "expected at least %zu"
                                   " characters, got %zu", n->min_len,
                                   chars);
        }

        if (n->has_max_len && chars > n->max_len) {
            return ngx_evbus_vfail(v, v->nframes, NULL, 0, "schema",
                                   "maxLength", "expected at most %zu"
                                   " characters, got %zu", n->max_len,
                                   chars);
        }
    }

    if (n->format && !ngx_evbus_format(n->format, s, len)) {
        (void) ngx_evbus_got(got, sizeof(got), NGX_EVBUS_TOK_STRING, s, len);

        return ngx_evbus_vfail(v, v->nframes, NULL, 0, "schema", "format",
                               "expected %s, got %s",
                               ngx_evbus_format_names[n->format], got);
    }

    if (n->regex) {
        if (n->simple) {
            rc = ngx_evbus_regex_simple_match(n->simple, s, len);

        } else {
            rc = v->set->env.regex_match(v->set->env.regex_ctx, n->regex, s,
                                         len);
        }

        if (rc != 1) {
            (void) ngx_evbus_got(got, sizeof(got), NGX_EVBUS_TOK_STRING, s,
                                 len);

            return ngx_evbus_vfail(v, v->nframes, NULL, 0, "schema",
                                   "pattern", "expected a match for \"%.60s\","
                                   " got %s", n->pattern, got);
        }
    }

    return NGX_EVBUS_VALID_OK;
}


static int
ngx_evbus_venum(ngx_evbus_validator_t *v, const ngx_evbus_snode_t *n,
    int tok, const unsigned char *s, size_t len, double num)
{
    char    want[256], got[64];
    size_t  i, w;

    if (n->has_const) {
        if (ngx_evbus_value_eq(&n->cnst, tok, s, len, num)) {
            return NGX_EVBUS_VALID_OK;
        }

        (void) ngx_evbus_show_value(want, sizeof(want), &n->cnst);
        (void) ngx_evbus_got(got, sizeof(got), tok, s, len);

        return ngx_evbus_vfail(v, v->nframes, NULL, 0, "schema", "const",
                               "expected %s, got %s", want, got);
    }

    for (i = 0; i < n->nvalues; i++) {
        if (ngx_evbus_value_eq(&n->values[i], tok, s, len, num)) {
            return NGX_EVBUS_VALID_OK;
        }
    }

    w = 0;

    for (i = 0; i < n->nvalues && i < NGX_EVBUS_ENUM_SHOWN; i++) {
        if (i) {
            w += snprintf(want + w, sizeof(want) - w, ", ");
        }

        w += ngx_evbus_show_value(want + w, sizeof(want) - w, &n->values[i]);

        if (w >= sizeof(want) - 8) {
            break;
        }
    }

    if (i < n->nvalues) {
        snprintf(want + w, sizeof(want) - w, ", ...");
    }

    (void) ngx_evbus_got(got, sizeof(got), tok, s, len);

    return ngx_evbus_vfail(v, v->nframes, NULL, 0, "schema", "enum",
                           "expected one of %s, got %s", want, got);
}


static int
ngx_evbus_value_eq(const ngx_evbus_svalue_t *sv, int tok,
    const unsigned char *s, size_t len, double num)
{
    if (sv->tok != tok) {
        return 0;
    }

    switch (tok) {

    case NGX_EVBUS_TOK_STRING:
        return sv->len == len && ngx_evbus_bytes_eq(sv->s, s, len);

    case NGX_EVBUS_TOK_NUMBER:
        return sv->num == num;

    default:
        return 1;
    }
}


/*
 * yajl hands numbers over as text; an integer is one without a fraction
 * or exponent, or whose value has none (1.0, 1e2), as JSON Schema says
 */

static int
ngx_evbus_number(ngx_evbus_validator_t *v, const unsigned char *s, size_t len,
    double *d, int *integral)
{
    char    *buf;
    double   a;

    if (ngx_evbus_number_fast(s, len, d)) {
        goto done;
    }

    buf = v->num;

    if (len >= sizeof(v->num)) {
        buf = v->alloc(v->alloc_ctx, len + 1);
        if (buf == NULL) {
            return -1;
        }
    }

    memcpy(buf, s, len);
    buf[len] = '\0';

    *d = strtod(buf, NULL);

done:

    /* *integral: the caller found neither a fraction nor an exponent */

    if (*integral) {
        return 0;
    }

    a = *d < 0 ? -*d : *d;

    *integral = (a == a)
                && (a >= 9007199254740992.0
                    ? a <= 1.7976931348623157e308
                    : *d == (double) (long long) *d);

    return 0;
}


/*
 * Up to 15 significant digits and a power of ten up to 22: both are exact
 * doubles, so one multiplication or division rounds correctly and gives
 * what strtod() gives (Clinger's fast path); others go to strtod().
 */

static int
ngx_evbus_number_fast(const unsigned char *s, size_t len, double *d)
{
    int           neg, digits, exp, e, eneg;
    size_t        i;
    int64_t       m;
    double        r;
    static const double  pow10[] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
    };

    i = 0;
    neg = (len && s[0] == '-');
    i += neg;

    m = 0;
    digits = 0;
    exp = 0;

    for ( /* void */ ; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        if (m || s[i] != '0') {
            if (++digits > 15) {
                return 0;
            }
        }

        m = m * 10 + (s[i] - '0');
    }

    if (i < len && s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            if (m || s[i] != '0') {
                if (++digits > 15) {
                    return 0;
                }
            }

            m = m * 10 + (s[i] - '0');
            exp--;
        }
    }

    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        eneg = (i < len && s[i] == '-');

        if (i < len && (s[i] == '-' || s[i] == '+')) {
            i++;
        }

        for (e = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            if (e > 1000) {
                return 0;
            }

            e = e * 10 + (s[i] - '0');
        }

        exp += eneg ? -e : e;
    }

    if (i != len || exp < -22 || exp > 22) {
        return 0;
    }

    r = (double) m;
    r = (exp < 0) ? r / pow10[-exp] : r * pow10[exp];

    *d = neg ? -r : r;

    return 1;
}


/*
 * The error: a pointer made of the first nseg frames' current members (or
 * items) and extra, and a message, in the validator's allocator
 */

static int
ngx_evbus_vfail(ngx_evbus_validator_t *v, size_t nseg,
    const unsigned char *extra, size_t extra_len, const char *kind,
    const char *keyword, const char *fmt, ...)
{
    char                 *ptr, *msg;
    size_t                i, k, n, len;
    va_list               args;
    ngx_evbus_vframe_t   *f;
    const unsigned char  *seg;
    char                  index[24];

    ptr = v->alloc(v->alloc_ctx, NGX_EVBUS_PTR_MAX + 8);
    msg = v->alloc(v->alloc_ctx, NGX_EVBUS_SCHEMA_ERR_LEN);

    if (ptr == NULL || msg == NULL) {
        return NGX_EVBUS_VALID_NOMEM;
    }

    n = 0;

    for (i = 0; i <= nseg; i++) {
        if (i < nseg) {
            f = &v->frames[i];

            if (f->array) {
                len = snprintf(index, sizeof(index), "%zu",
                               f->count ? f->count - 1 : 0);
                seg = (unsigned char *) index;

            } else {
                seg = f->name;
                len = f->name_len;
            }

        } else if (extra) {
            seg = extra;
            len = extra_len;

        } else {
            break;
        }

        if (n < NGX_EVBUS_PTR_MAX) {
            ptr[n++] = '/';
        }

        for (k = 0; k < len && n < NGX_EVBUS_PTR_MAX; k++) {
            if (seg[k] == '~' || seg[k] == '/') {
                ptr[n++] = '~';
                ptr[n++] = (seg[k] == '~') ? '0' : '1';

            } else {
                ptr[n++] = (char) (seg[k] ? seg[k] : '?');
            }
        }
    }

    if (n >= NGX_EVBUS_PTR_MAX) {
        /* cut at a character's start */

        while (n && ((unsigned char) ptr[n - 1] & 0xc0) == 0x80) {
            n--;
        }

        if (n && (unsigned char) ptr[n - 1] >= 0xc0) {
            n--;
        }

        memcpy(ptr + n, "...", 3);
        n += 3;
    }

    ptr[n] = '\0';

    va_start(args, fmt);
    (void) vsnprintf(msg, NGX_EVBUS_SCHEMA_ERR_LEN, fmt, args);
    va_end(args);

    v->state = NGX_EVBUS_V_FAILED;
    v->error.kind = kind;
    v->error.keyword = keyword;
    v->error.pointer = ptr;
    v->error.message = msg;

    return NGX_EVBUS_VALID_FAILED;
}


/* what was found, for a message: a type, or a short quoted value */

static size_t
ngx_evbus_got(char *buf, size_t size, int tok, const unsigned char *s,
    size_t len)
{
    size_t  n, i;

    if (tok == NGX_EVBUS_TOK_NUMBER || tok == NGX_EVBUS_TOK_STRING) {
        n = len > NGX_EVBUS_GOT_MAX ? NGX_EVBUS_GOT_MAX : len;

        if (n < len) {
            while (n && (s[n] & 0xc0) == 0x80) {
                n--;
            }
        }

        i = 0;

        if (tok == NGX_EVBUS_TOK_STRING) {
            buf[i++] = '"';
        }

        for ( /* void */ ; n && i < size - 6; n--, s++, len--) {
            buf[i++] = (char) ((*s < 0x20) ? '?' : *s);
        }

        if (len) {
            memcpy(buf + i, "...", 3);
            i += 3;
        }

        if (tok == NGX_EVBUS_TOK_STRING) {
            buf[i++] = '"';
        }

        buf[i] = '\0';

        return i;
    }

    return snprintf(buf, size, "%s", ngx_evbus_tok_type(tok));
}


static size_t
ngx_evbus_show_value(char *buf, size_t size, const ngx_evbus_svalue_t *sv)
{
    int  n;

    if (sv->tok == NGX_EVBUS_TOK_STRING) {
        n = snprintf(buf, size, "\"%.*s\"",
                     (int) (sv->len > 32 ? 32 : sv->len), sv->s);

    } else if (sv->tok == NGX_EVBUS_TOK_NUMBER) {
        n = snprintf(buf, size, "%.*s", (int) (sv->len > 32 ? 32 : sv->len),
                     sv->s);

    } else {
        n = snprintf(buf, size, "%s", ngx_evbus_tok_type(sv->tok));
    }

    if (n < 0) {
        return 0;
    }

    return (size_t) n < size ? (size_t) n : size - 1;
}


static const char *
ngx_evbus_tok_type(int tok)
{
    switch (tok) {

    case NGX_EVBUS_TOK_MAP:
        return "object";

    case NGX_EVBUS_TOK_ARRAY:
        return "array";

    case NGX_EVBUS_TOK_STRING:
        return "string";

    case NGX_EVBUS_TOK_NUMBER:
        return "number";

    case NGX_EVBUS_TOK_TRUE:
        return "true";

    case NGX_EVBUS_TOK_FALSE:
        return "false";

    default:
        return "null";
    }
}


static size_t
ngx_evbus_types_text(char *buf, size_t size, unsigned types)
{
    size_t  i, n;

    n = 0;
    buf[0] = '\0';

    for (i = 0; ngx_evbus_type_names[i]; i++) {
        if (!(types & (1u << i))) {
            continue;
        }

        n += snprintf(buf + n, size - n, "%s%s", n ? " or " : "",
                      ngx_evbus_type_names[i]);

        if (n >= size) {
            return size - 1;
        }
    }

    return n;
}


/* characters are code points: UTF-8 lead bytes */

static size_t
ngx_evbus_chars(const unsigned char *s, size_t len)
{
    size_t    i, n;
    uint64_t  w;

    n = 0;

    /* 8 bytes of ASCII at a time */

    for (i = 0; i + 8 <= len; i += 8) {
        memcpy(&w, s + i, 8);

        if (w & 0x8080808080808080ULL) {
            break;
        }

        n += 8;
    }

    for ( /* void */ ; i < len; i++) {
        n += ((s[i] & 0xc0) != 0x80);
    }

    return n;
}


static int
ngx_evbus_format(int format, const unsigned char *s, size_t len)
{
    switch (format) {

    case NGX_EVBUS_FMT_DATE_TIME:
        return len > 11 && (s[10] == 'T' || s[10] == 't')
               && ngx_evbus_fmt_date(s, 10)
               && ngx_evbus_fmt_time(s + 11, len - 11);

    case NGX_EVBUS_FMT_DATE:
        return ngx_evbus_fmt_date(s, len);

    case NGX_EVBUS_FMT_TIME:
        return ngx_evbus_fmt_time(s, len);

    case NGX_EVBUS_FMT_UUID:
        return ngx_evbus_fmt_uuid(s, len);

    case NGX_EVBUS_FMT_EMAIL:
        return ngx_evbus_fmt_email(s, len);

    case NGX_EVBUS_FMT_IPV4:
        return ngx_evbus_fmt_ipv4(s, len);

    case NGX_EVBUS_FMT_IPV6:
        return ngx_evbus_fmt_ipv6(s, len);

    case NGX_EVBUS_FMT_HOSTNAME:
        return ngx_evbus_fmt_hostname(s, len);
    }

    return 1;
}


static int
ngx_evbus_digits(const unsigned char *s, size_t n, int *value)
{
    size_t  i;

    *value = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }

        *value = *value * 10 + (s[i] - '0');
    }

    return 1;
}


/* RFC 3339 full-date: YYYY-MM-DD, a real day */

static int
ngx_evbus_fmt_date(const unsigned char *s, size_t len)
{
    int         y, m, d, leap;
    static int  days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

    if (len != 10 || s[4] != '-' || s[7] != '-'
        || !ngx_evbus_digits(s, 4, &y) || !ngx_evbus_digits(s + 5, 2, &m)
        || !ngx_evbus_digits(s + 8, 2, &d))
    {
        return 0;
    }

    if (m < 1 || m > 12 || d < 1) {
        return 0;
    }

    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return d <= days[m - 1] + (m == 2 && leap);
}


/* RFC 3339 full-time: HH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */

static int
ngx_evbus_fmt_time(const unsigned char *s, size_t len)
{
    int     h, m, sec, oh, om;
    size_t  i;

    if (len < 9 || s[2] != ':' || s[5] != ':'
        || !ngx_evbus_digits(s, 2, &h) || !ngx_evbus_digits(s + 3, 2, &m)
        || !ngx_evbus_digits(s + 6, 2, &sec)
        || h > 23 || m > 59 || sec > 60)
    {
        return 0;
    }

    i = 8;

    if (s[i] == '.') {
        i++;

        if (i >= len || s[i] < '0' || s[i] > '9') {
            return 0;
        }

        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
    }

    if (i == len - 1 && (s[i] == 'Z' || s[i] == 'z')) {
        return 1;
    }

    if (len - i != 6 || (s[i] != '+' && s[i] != '-') || s[i + 3] != ':'
        || !ngx_evbus_digits(s + i + 1, 2, &oh)
        || !ngx_evbus_digits(s + i + 4, 2, &om))
    {
        return 0;
    }

    return oh <= 23 && om <= 59;
}


static int
ngx_evbus_fmt_uuid(const unsigned char *s, size_t len)
{
    size_t         i;
    unsigned char  c;

    if (len != 36) {
        return 0;
    }

    for (i = 0; i < 36; i++) {
        c = s[i];

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return 0;
            }

            continue;
        }

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
              || (c >= 'A' && c <= 'F')))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * addr-spec with a dot-atom local part (RFC 5322) and a host name or an
 * IPv4 literal as the domain; quoted local parts are not accepted
 */

static int
ngx_evbus_fmt_email(const unsigned char *s, size_t len)
{
    size_t                i, at;
    unsigned char         c;
    const unsigned char  *d;

    at = len;

    for (i = len; i > 0; i--) {
        if (s[i - 1] == '@') {
            at = i - 1;
            break;
        }
    }

    if (at == len || at == 0 || at > 64 || s[0] == '.' || s[at - 1] == '.') {
        return 0;
    }

    for (i = 0; i < at; i++) {
        c = s[i];

        if (c == '.') {
            if (s[i + 1] == '.') {
                return 0;
            }

            continue;
        }

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL)
            || c == '\0')
        {
            return 0;
        }
    }

    d = s + at + 1;
    len -= at + 1;

    if (len > 2 && d[0] == '[' && d[len - 1] == ']') {
        return ngx_evbus_fmt_ipv4(d + 1, len - 2);
    }

    return ngx_evbus_fmt_hostname(d, len);
}


static int
ngx_evbus_fmt_ipv4(const unsigned char *s, size_t len)
{
    int     part, n;
    size_t  i, digits;

    part = 0;
    n = 0;
    digits = 0;

    for (i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (digits == 0 || n > 255) {
                return 0;
            }

            part++;
            n = 0;
            digits = 0;
            continue;
        }

        if (s[i] < '0' || s[i] > '9' || (digits == 1 && n == 0)) {
            return 0;
        }

        n = n * 10 + (s[i] - '0');
        digits++;

        if (digits > 3) {
            return 0;
        }
    }

    return part == 4;
}


static int
ngx_evbus_fmt_ipv6(const unsigned char *s, size_t len)
{
    char           buf[64];
    unsigned char  addr[16];

    if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL) {
        return 0;
    }

    memcpy(buf, s, len);
    buf[len] = '\0';

    return inet_pton(AF_INET6, buf, addr) == 1;
}


static int
ngx_evbus_fmt_hostname(const unsigned char *s, size_t len)
{
    size_t         i, label;
    unsigned char  c;

    if (len == 0 || len > 253) {
        return 0;
    }

    label = 0;

    for (i = 0; i <= len; i++) {
        c = (i < len) ? s[i] : '.';

        if (c == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-') {
                return 0;
            }

            label = 0;
            continue;
        }

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-')
            || (label == 0 && c == '-'))
        {
            return 0;
        }

        label++;
    }

    return 1;
}


/*
 * The built-in matcher of simple anchored patterns: "^", then literal
 * ASCII characters, "\d" and classes of ASCII characters, each once or
 * with ?, *, +, {n}, {n,} or {n,m}, then "$".  Anything else is left to
 * the regular expression engine.  A pattern is accepted only when a
 * greedy scan without backtracking decides exactly what PCRE decides:
 * the class of an atom with a variable count shares no character with
 * the atoms that may follow it up to the next mandatory one.  "$"
 * matches at the end or before a final "\n" (PCRE's default), and no
 * class holds "\n" or a byte above 0x7f: a subject that matches is ASCII,
 * hence valid UTF-8, so UTF mode changes nothing; one that is not valid
 * UTF-8 fails here as PCRE fails on it.
 */

#define NGX_EVBUS_RE_ATOMS        32
#define NGX_EVBUS_RE_COUNT_MAX    65535


static int
ngx_evbus_re_count(const unsigned char **pp, const unsigned char *end,
    size_t *count)
{
    size_t                n;
    const unsigned char  *p;

    p = *pp;

    if (p == end || *p < '0' || *p > '9') {
        return -1;
    }

    for (n = 0; p < end && *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');

        if (n > NGX_EVBUS_RE_COUNT_MAX) {
            return -1;
        }
    }

    *pp = p;
    *count = n;

    return 0;
}


static void
ngx_evbus_re_set(ngx_evbus_reatom_t *a, unsigned lo, unsigned hi)
{
    unsigned  c;

    for (c = lo; c <= hi; c++) {
        a->bits[c >> 6] |= (uint64_t) 1 << (c & 63);
    }
}


/* a literal character, plain or escaped punctuation; -1: none */

static int
ngx_evbus_re_char(const unsigned char **pp, const unsigned char *end,
    int in_class)
{
    unsigned              c;
    const unsigned char  *p;

    p = *pp;
    c = *p;

    if (c == '\\') {
        if (p + 1 == end) {
            return -1;
        }

        c = p[1];

        if (c < 0x21 || c > 0x7e
            || (c >= '0' && c <= '9')
            || (c >= 'A' && c <= 'Z')
            || (c >= 'a' && c <= 'z'))
        {
            return -1;
        }

        *pp = p + 2;
        return (int) c;
    }

    if (c < 0x20 || c > 0x7e) {
        return -1;
    }

    if (in_class) {
        if (c == '[' || c == ']') {
            return -1;
        }

    } else if (strchr("^$.[]|()?*+{}", (int) c) != NULL) {
        return -1;
    }

    *pp = p + 1;
    return (int) c;
}


static int
ngx_evbus_re_class(const unsigned char **pp, const unsigned char *end,
    ngx_evbus_reatom_t *a)
{
    int                   c, d;
    const unsigned char  *p;

    p = *pp + 1;

    if (p < end && (*p == '^' || *p == ']')) {
        return -1;
    }

    while (p < end && *p != ']') {

        if (end - p >= 2 && p[0] == '\\' && p[1] == 'd') {
            ngx_evbus_re_set(a, '0', '9');
            p += 2;

            if (p < end && *p == '-' && p + 1 < end && p[1] != ']') {
                return -1;
            }

            continue;
        }

        c = ngx_evbus_re_char(&p, end, 1);
        if (c < 0) {
            return -1;
        }

        if (p < end && *p == '-' && p + 1 < end && p[1] != ']') {
            p++;

            d = ngx_evbus_re_char(&p, end, 1);
            if (d < 0 || d < c) {
                return -1;
            }

            ngx_evbus_re_set(a, (unsigned) c, (unsigned) d);

            if (p < end && *p == '-' && p + 1 < end && p[1] != ']') {
                return -1;
            }

            continue;
        }

        ngx_evbus_re_set(a, (unsigned) c, (unsigned) c);
    }

    if (p == end) {
        return -1;
    }

    *pp = p + 1;

    return 0;
}


ngx_evbus_regex_simple_t *
ngx_evbus_regex_simple(const unsigned char *pattern, size_t len,
    ngx_evbus_alloc_pt alloc, void *alloc_ctx)
{
    int                        c;
    size_t                     i, j, n, min, max;
    uint64_t                   follow[2];
    const unsigned char       *p, *end;
    ngx_evbus_reatom_t        *a, atoms[NGX_EVBUS_RE_ATOMS];
    ngx_evbus_regex_simple_t  *re;

    p = pattern;
    end = pattern + len;

    if (len < 2 || p[0] != '^' || end[-1] != '$') {
        return NULL;
    }

    p++;
    end--;

    if (end > p && end[-1] == '\\') {
        return NULL;
    }

    n = 0;

    while (p < end) {
        if (n == NGX_EVBUS_RE_ATOMS) {
            return NULL;
        }

        a = &atoms[n++];
        memset(a, 0, sizeof(ngx_evbus_reatom_t));

        if (*p == '[') {
            if (ngx_evbus_re_class(&p, end, a) != 0) {
                return NULL;
            }

        } else if (end - p >= 2 && p[0] == '\\' && p[1] == 'd') {
            ngx_evbus_re_set(a, '0', '9');
            p += 2;

        } else {
            c = ngx_evbus_re_char(&p, end, 0);
            if (c < 0) {
                return NULL;
            }

            ngx_evbus_re_set(a, (unsigned) c, (unsigned) c);
        }

        min = 1;
        max = 1;

        if (p < end) {
            switch (*p) {

            case '?':
                min = 0;
                p++;
                break;

            case '*':
                min = 0;
                max = (size_t) -1;
                p++;
                break;

            case '+':
                max = (size_t) -1;
                p++;
                break;

            case '{':
                p++;

                if (ngx_evbus_re_count(&p, end, &min) != 0) {
                    return NULL;
                }

                max = min;

                if (p < end && *p == ',') {
                    p++;
                    max = (size_t) -1;

                    if (p < end && *p != '}'
                        && ngx_evbus_re_count(&p, end, &max) != 0)
                    {
                        return NULL;
                    }
                }

                if (p == end || *p != '}' || max < min) {
                    return NULL;
                }

                p++;
                break;
            }

            /* lazy, possessive, or a quantifier of a quantifier */

            if (p < end && (*p == '?' || *p == '+' || *p == '*' || *p == '{'))
            {
                return NULL;
            }
        }

        a->min = min;
        a->max = max;
    }

    /* a variable count must not steal from what may follow it */

    for (i = 0; i < n; i++) {
        if (atoms[i].min == atoms[i].max) {
            continue;
        }

        follow[0] = 0;
        follow[1] = 0;

        for (j = i + 1; j < n; j++) {
            follow[0] |= atoms[j].bits[0];
            follow[1] |= atoms[j].bits[1];

            if (atoms[j].min > 0) {
                break;
            }
        }

        if ((follow[0] & atoms[i].bits[0]) || (follow[1] & atoms[i].bits[1])) {
            return NULL;
        }
    }

    re = alloc(alloc_ctx, sizeof(ngx_evbus_regex_simple_t)
                          + n * sizeof(ngx_evbus_reatom_t));
    if (re == NULL) {
        return NULL;
    }

    re->natoms = n;
    re->atoms = (ngx_evbus_reatom_t *) (re + 1);

    if (n) {
        memcpy(re->atoms, atoms, n * sizeof(ngx_evbus_reatom_t));
    }

    return re;
}


int
ngx_evbus_regex_simple_match(const ngx_evbus_regex_simple_t *re,
    const unsigned char *s, size_t len)
{
    unsigned                   c;
    const unsigned char       *p, *start, *stop, *end;
    const ngx_evbus_reatom_t  *a, *last;

    p = s;
    end = s + len;
    last = re->atoms + re->natoms;

    for (a = re->atoms; a < last; a++) {
        start = p;
        stop = ((size_t) (end - p) > a->max) ? p + a->max : end;

        while (p < stop) {
            c = *p;

            if (!((a->bits[c >> 6] >> (c & 63)) & 1)) {
                break;
            }

            p++;
        }

        if ((size_t) (p - start) < a->min) {
            return 0;
        }
    }

    return p == end || (p + 1 == end && *p == '\n');
}

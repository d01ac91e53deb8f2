
/*
 * Copyright (C) ngx_evbus authors
 */


#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ngx_evbus_event.h"
#include "ngx_evbus_schema_int.h"


#define NGX_EVBUS_SCHEMA_FILE_MAX  (1024 * 1024)


static int ngx_evbus_schema_load_type(ngx_evbus_schemas_t *set,
    const char *dir, const char *type, char *err, size_t err_len);
static int ngx_evbus_schema_load_file(ngx_evbus_schemas_t *set,
    const char *file, const char *type, int64_t version, char *err,
    size_t err_len);
static int64_t ngx_evbus_schema_file_version(const char *name);
static ngx_evbus_stype_t *ngx_evbus_schema_type_lookup(
    const ngx_evbus_schemas_t *set, const unsigned char *s, size_t len);


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
            || !ngx_evbus_type_valid((const unsigned char *) de->d_name,
                                    strlen(de->d_name)))
        {
            snprintf(err, err_len, "%s: unexpected file, expected a"
                     " directory named after an event type", path);
            rc = -1;
            break;
        }

        rc = ngx_evbus_schema_load_type(set, path, de->d_name, err, err_len);
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
ngx_evbus_schema_load_type(ngx_evbus_schemas_t *set, const char *dir,
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

        version = ngx_evbus_schema_file_version(de->d_name);

        if (version <= 0 || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            snprintf(err, err_len, "%s: unexpected file, expected"
                     " <version>.json with an integer version", path);
            rc = -1;
            break;
        }

        rc = ngx_evbus_schema_load_file(set, path, type, version, err, err_len);
        if (rc != 0) {
            break;
        }
    }

    closedir(d);

    return rc;
}


static int
ngx_evbus_schema_load_file(ngx_evbus_schemas_t *set, const char *file,
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
        name = ngx_evbus_schema_strdup(set, file, strlen(file));

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
ngx_evbus_schema_file_version(const char *name)
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


int
ngx_evbus_schemas_add(ngx_evbus_schemas_t *set, const unsigned char *type,
    size_t type_len, int64_t version, const unsigned char *json, size_t len,
    const char *file, char *err, size_t err_len)
{
    size_t               i, cap;
    ngx_evbus_stype_t   *t;
    ngx_evbus_schema_t  *sc;
    ngx_evbus_snode_t   *root;

    if (!ngx_evbus_type_valid(type, type_len)) {
        snprintf(err, err_len, "%s: invalid event type \"%.*s\"", file,
                 (int) (type_len > NGX_EVBUS_EVENT_TYPE_MAX
                        ? NGX_EVBUS_EVENT_TYPE_MAX : type_len), type);
        return -1;
    }

    if (ngx_evbus_schema_compile(set, json, len, file, &root, err, err_len)
        != 0)
    {
        return -1;
    }

    t = ngx_evbus_schema_type_lookup(set, type, type_len);

    if (t == NULL) {
        if (set->ntypes == set->types_cap) {
            cap = set->types_cap ? 2 * set->types_cap : 16;

            t = ngx_evbus_schema_alloc(set, cap * sizeof(ngx_evbus_stype_t));
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

        t->name = (unsigned char *) ngx_evbus_schema_strdup(set,
                                                    (const char *) type,
                                                    type_len);
        if (t->name == NULL) {
            goto nomem;
        }

        t->len = type_len;
        t->hash = ngx_evbus_schema_hash(type, type_len);
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

        sc = ngx_evbus_schema_alloc(set, cap * sizeof(ngx_evbus_schema_t));
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

    slots = ngx_evbus_schema_alloc(set, n * sizeof(uint32_t));
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

    t = ngx_evbus_schema_type_lookup(set, type, type_len);

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


void *
ngx_evbus_schema_alloc(ngx_evbus_schemas_t *set, size_t size)
{
    return set->env.alloc(set->env.alloc_ctx, size ? size : 1);
}


char *
ngx_evbus_schema_strdup(ngx_evbus_schemas_t *set, const char *s, size_t len)
{
    char  *d;

    d = ngx_evbus_schema_alloc(set, len + 1);
    if (d == NULL) {
        return NULL;
    }

    memcpy(d, s, len);
    d[len] = '\0';

    return d;
}


static ngx_evbus_stype_t *
ngx_evbus_schema_type_lookup(const ngx_evbus_schemas_t *set,
    const unsigned char *s, size_t len)
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

    h = ngx_evbus_schema_hash(s, len);
    mask = set->nslots - 1;

    for (k = h & mask; set->slots[k]; k = (k + 1) & mask) {
        t = &set->types[set->slots[k] - 1];

        if (t->hash == h && t->len == len && memcmp(t->name, s, len) == 0) {
            return t;
        }
    }

    return NULL;
}

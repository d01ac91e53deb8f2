
/*
 * Copyright (C) ngx_evbus authors
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_evbus_schema_int.h"


#define NGX_EVBUS_V_IDLE           0
#define NGX_EVBUS_V_RECORD         1
#define NGX_EVBUS_V_LIVE           2
#define NGX_EVBUS_V_FAILED         3

#define NGX_EVBUS_PTR_MAX          200
#define NGX_EVBUS_GOT_MAX          40
#define NGX_EVBUS_ENUM_SHOWN       5


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


static int ngx_evbus_validate_record(ngx_evbus_validator_t *v, int tok,
    const unsigned char *s, size_t len);
static int ngx_evbus_validate_live(ngx_evbus_validator_t *v, int tok,
    const unsigned char *s, size_t len);
static int ngx_evbus_validate_key(ngx_evbus_validator_t *v,
    const unsigned char *s, size_t len);
static int ngx_evbus_validate_end(ngx_evbus_validator_t *v);
static int ngx_evbus_validate_value(ngx_evbus_validator_t *v,
    const ngx_evbus_snode_t *n, int tok, const unsigned char *s, size_t len);
static int ngx_evbus_validate_limits(ngx_evbus_validator_t *v,
    const ngx_evbus_snode_t *n, const unsigned char *s, size_t len,
    double num);
static int ngx_evbus_validate_push(ngx_evbus_validator_t *v,
    const ngx_evbus_snode_t *n, int array);
static int ngx_evbus_validate_string(ngx_evbus_validator_t *v,
    const ngx_evbus_snode_t *n, const unsigned char *s, size_t len);
static int ngx_evbus_validate_enum(ngx_evbus_validator_t *v,
    const ngx_evbus_snode_t *n, int tok, const unsigned char *s, size_t len,
    double num);
static int ngx_evbus_validate_equal(const ngx_evbus_svalue_t *sv, int tok,
    const unsigned char *s, size_t len, double num);
static int ngx_evbus_validate_number(ngx_evbus_validator_t *v,
    const unsigned char *s, size_t len, double *d, int *integral);
static int ngx_evbus_validate_number_fast(const unsigned char *s, size_t len,
    double *d);
static int ngx_evbus_validate_fail(ngx_evbus_validator_t *v, size_t nseg,
    const unsigned char *extra, size_t extra_len, const char *kind,
    const char *keyword, const char *fmt, ...);
static size_t ngx_evbus_validate_got(char *buf, size_t size, int tok,
    const unsigned char *s, size_t len);
static size_t ngx_evbus_validate_show(char *buf, size_t size,
    const ngx_evbus_svalue_t *sv);
static const char *ngx_evbus_validate_tok_type(int tok);
static size_t ngx_evbus_validate_types(char *buf, size_t size,
    unsigned types);
static size_t ngx_evbus_validate_chars(const unsigned char *s, size_t len);
static const ngx_evbus_sprop_t *ngx_evbus_validate_prop(
    const ngx_evbus_snode_t *n, const unsigned char *s, size_t len,
    size_t *index);
static int ngx_evbus_validate_bytes_eq(const unsigned char *a,
    const unsigned char *b, size_t len);


/* the envelope the core checks: always allowed at the top level */
static const char  *ngx_evbus_validate_envelope[] = {
    "event_type", "event_id", "event_version", "metadata", NULL
};


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
        return ngx_evbus_validate_live(v, tok, s, len);
    }

    if (v->state == NGX_EVBUS_V_RECORD) {
        return ngx_evbus_validate_record(v, tok, s, len);
    }

    return NGX_EVBUS_VALID_OK;
}


/*
 * The tape: a kind byte, the length as a base-128 varint, the decoded
 * bytes.  It is bounded: the core rejects events larger than
 * max_event_size, and no event's tape is larger than twice its text.
 */

ngx_evbus_noinline static int
ngx_evbus_validate_record(ngx_evbus_validator_t *v, int tok,
    const unsigned char *s, size_t len)
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

        rc = ngx_evbus_validate_live(v, tok, t, len);
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
ngx_evbus_validate_live(ngx_evbus_validator_t *v, int tok,
    const unsigned char *s, size_t len)
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
        return ngx_evbus_validate_key(v, s, len);
    }

    if (tok == NGX_EVBUS_TOK_END) {
        return ngx_evbus_validate_end(v);
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

    return ngx_evbus_validate_value(v, n, tok, s, len);
}


ngx_evbus_noinline static int
ngx_evbus_validate_key(ngx_evbus_validator_t *v, const unsigned char *s,
    size_t len)
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

        if (p->len != len || !ngx_evbus_validate_bytes_eq(p->name, s, len)) {
            p = NULL;
        }
    }

    if (p == NULL) {
        p = ngx_evbus_validate_prop(f->node, s, len, &index);
    }

    if (p) {
        f->next = p->after;

        bits = &v->bits[f->bits + index / 32];

        if (*bits & (1u << (index % 32))) {
            return ngx_evbus_validate_fail(v, v->nframes - 1, s, len,
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
        for (i = 0; ngx_evbus_validate_envelope[i]; i++) {
            if (strlen(ngx_evbus_validate_envelope[i]) == len
                && memcmp(ngx_evbus_validate_envelope[i], s, len) == 0)
            {
                return NGX_EVBUS_VALID_OK;
            }
        }
    }

    return ngx_evbus_validate_fail(v, v->nframes - 1, s, len, "schema",
                                   "additionalProperties",
                                   "expected no undeclared property, got one");
}


ngx_evbus_noinline static int
ngx_evbus_validate_end(ngx_evbus_validator_t *v)
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
        if (f->count < n->min_items) {
            return ngx_evbus_validate_fail(v, v->nframes - 1, NULL, 0,
                                           "schema", "minItems",
                                           "expected at least %zu items,"
                                           " got %zu", n->min_items,
                                           f->count);
        }

        if (f->count > n->max_items) {
            return ngx_evbus_validate_fail(v, v->nframes - 1, NULL, 0,
                                           "schema", "maxItems",
                                           "expected at most %zu items,"
                                           " got %zu", n->max_items,
                                           f->count);
        }

    } else {
        for (i = 0; i < n->nrequired; i++) {
            index = n->required[i];

            if (!(v->bits[f->bits + index / 32] & (1u << (index % 32)))) {
                p = &n->props[index];

                return ngx_evbus_validate_fail(v, v->nframes - 1, p->name,
                                               p->len, "schema", "required",
                                               "expected a required"
                                               " property, got none");
            }
        }

        v->nbits = f->bits;
    }

    v->nframes--;

    return NGX_EVBUS_VALID_OK;
}


static int
ngx_evbus_validate_value(ngx_evbus_validator_t *v,
    const ngx_evbus_snode_t *n, int tok, const unsigned char *s, size_t len)
{
    int       integral;
    char      want[96], got[64];
    size_t    i;
    double    num;
    unsigned  type;

    if (n->reject_all) {
        (void) ngx_evbus_validate_got(got, sizeof(got), tok, s, len);
        return ngx_evbus_validate_fail(v, v->nframes, NULL, 0, "schema",
                                       "false", "expected no value, got %s",
                                       got);
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
            if (ngx_evbus_validate_number(v, s, len, &num, &integral) != 0) {
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
        (void) ngx_evbus_validate_types(want, sizeof(want), n->types);

        return ngx_evbus_validate_fail(v, v->nframes, NULL, 0, "schema",
                                       "type", "expected %s, got %s", want,
                                       ngx_evbus_validate_tok_type(tok));
    }

    if ((n->nvalues || n->cnst.tok)
        && ngx_evbus_validate_enum(v, n, tok, s, len, num)
           != NGX_EVBUS_VALID_OK)
    {
        return NGX_EVBUS_VALID_FAILED;
    }

    switch (tok) {

    case NGX_EVBUS_TOK_MAP:
        return n->walk_object ? ngx_evbus_validate_push(v, n, 0)
                              : (v->skip = 1, NGX_EVBUS_VALID_OK);

    case NGX_EVBUS_TOK_ARRAY:
        return n->walk_array ? ngx_evbus_validate_push(v, n, 1)
                             : (v->skip = 1, NGX_EVBUS_VALID_OK);

    case NGX_EVBUS_TOK_STRING:
        return ngx_evbus_validate_string(v, n, s, len);

    case NGX_EVBUS_TOK_NUMBER:
        return ngx_evbus_validate_limits(v, n, s, len, num);

    default:
        return NGX_EVBUS_VALID_OK;
    }
}


static int
ngx_evbus_validate_limits(ngx_evbus_validator_t *v,
    const ngx_evbus_snode_t *n, const unsigned char *s, size_t len,
    double num)
{
    char                       got[64];
    const char                *keyword, *op;
    const ngx_evbus_slimit_t  *l;

    if (n->min.text && !(num >= n->min.value)) {
        keyword = "minimum";
        op = ">=";
        l = &n->min;

    } else if (n->max.text && !(num <= n->max.value)) {
        keyword = "maximum";
        op = "<=";
        l = &n->max;

    } else if (n->xmin.text && !(num > n->xmin.value)) {
        keyword = "exclusiveMinimum";
        op = ">";
        l = &n->xmin;

    } else if (n->xmax.text && !(num < n->xmax.value)) {
        keyword = "exclusiveMaximum";
        op = "<";
        l = &n->xmax;

    } else {
        return NGX_EVBUS_VALID_OK;
    }

    (void) ngx_evbus_validate_got(got, sizeof(got), NGX_EVBUS_TOK_NUMBER, s,
                                  len);

    return ngx_evbus_validate_fail(v, v->nframes, NULL, 0, "schema", keyword,
                                   "expected %s %s, got %s", op, l->text,
                                   got);
}


static int
ngx_evbus_validate_push(ngx_evbus_validator_t *v,
    const ngx_evbus_snode_t *n, int array)
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
ngx_evbus_validate_string(ngx_evbus_validator_t *v,
    const ngx_evbus_snode_t *n, const unsigned char *s, size_t len)
{
    int     rc;
    char    got[64];
    size_t  chars;

    /* there are no more characters than bytes: most strings need no count */

    if (n->min_len > 0 || len > n->max_len) {
        chars = ngx_evbus_validate_chars(s, len);

        if (chars < n->min_len) {
            return ngx_evbus_validate_fail(v, v->nframes, NULL, 0, "schema",
                                           "minLength", "expected at least"
                                           " %zu characters, got %zu",
                                           n->min_len, chars);
        }

        if (chars > n->max_len) {
            return ngx_evbus_validate_fail(v, v->nframes, NULL, 0, "schema",
                                           "maxLength", "expected at most"
                                           " %zu characters, got %zu",
                                           n->max_len, chars);
        }
    }

    if (n->format && !n->format->check(s, len)) {
        (void) ngx_evbus_validate_got(got, sizeof(got), NGX_EVBUS_TOK_STRING,
                                      s, len);

        return ngx_evbus_validate_fail(v, v->nframes, NULL, 0, "schema",
                                       "format", "expected %s, got %s",
                                       n->format->name, got);
    }

    if (n->regex) {
        if (n->simple) {
            rc = ngx_evbus_regex_simple_match(n->simple, s, len);

        } else {
            rc = v->set->env.regex_match(v->set->env.regex_ctx, n->regex, s,
                                         len);
        }

        if (rc < 0) {
            /* the engine gave up (match limit, JIT stack): not a mismatch */

            return ngx_evbus_validate_fail(v, v->nframes, NULL, 0, "schema",
                                           "pattern", "pattern \"%.60s\""
                                           " could not be evaluated",
                                           n->pattern);
        }

        if (rc != 1) {
            (void) ngx_evbus_validate_got(got, sizeof(got),
                                          NGX_EVBUS_TOK_STRING, s, len);

            return ngx_evbus_validate_fail(v, v->nframes, NULL, 0, "schema",
                                           "pattern", "expected a match for"
                                           " \"%.60s\", got %s", n->pattern,
                                           got);
        }
    }

    return NGX_EVBUS_VALID_OK;
}


static int
ngx_evbus_validate_enum(ngx_evbus_validator_t *v,
    const ngx_evbus_snode_t *n, int tok, const unsigned char *s, size_t len,
    double num)
{
    char    want[256], got[64];
    size_t  i, w;

    if (n->cnst.tok) {
        if (ngx_evbus_validate_equal(&n->cnst, tok, s, len, num)) {
            return NGX_EVBUS_VALID_OK;
        }

        (void) ngx_evbus_validate_show(want, sizeof(want), &n->cnst);
        (void) ngx_evbus_validate_got(got, sizeof(got), tok, s, len);

        return ngx_evbus_validate_fail(v, v->nframes, NULL, 0, "schema",
                                       "const", "expected %s, got %s", want,
                                       got);
    }

    for (i = 0; i < n->nvalues; i++) {
        if (ngx_evbus_validate_equal(&n->values[i], tok, s, len, num)) {
            return NGX_EVBUS_VALID_OK;
        }
    }

    w = 0;

    for (i = 0; i < n->nvalues && i < NGX_EVBUS_ENUM_SHOWN; i++) {
        if (i) {
            w += snprintf(want + w, sizeof(want) - w, ", ");
        }

        w += ngx_evbus_validate_show(want + w, sizeof(want) - w,
                                     &n->values[i]);

        if (w >= sizeof(want) - 8) {
            break;
        }
    }

    if (i < n->nvalues) {
        snprintf(want + w, sizeof(want) - w, ", ...");
    }

    (void) ngx_evbus_validate_got(got, sizeof(got), tok, s, len);

    return ngx_evbus_validate_fail(v, v->nframes, NULL, 0, "schema", "enum",
                                   "expected one of %s, got %s", want, got);
}


static int
ngx_evbus_validate_equal(const ngx_evbus_svalue_t *sv, int tok,
    const unsigned char *s, size_t len, double num)
{
    if (sv->tok != tok) {
        return 0;
    }

    switch (tok) {

    case NGX_EVBUS_TOK_STRING:
        return sv->len == len && ngx_evbus_validate_bytes_eq(sv->s, s, len);

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
ngx_evbus_validate_number(ngx_evbus_validator_t *v, const unsigned char *s,
    size_t len, double *d, int *integral)
{
    char    *buf;
    double   a;

    if (ngx_evbus_validate_number_fast(s, len, d)) {
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
ngx_evbus_validate_number_fast(const unsigned char *s, size_t len, double *d)
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
ngx_evbus_validate_fail(ngx_evbus_validator_t *v, size_t nseg,
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
ngx_evbus_validate_got(char *buf, size_t size, int tok, const unsigned char *s,
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

    return snprintf(buf, size, "%s", ngx_evbus_validate_tok_type(tok));
}


static size_t
ngx_evbus_validate_show(char *buf, size_t size, const ngx_evbus_svalue_t *sv)
{
    int  n;

    if (sv->tok == NGX_EVBUS_TOK_STRING) {
        n = snprintf(buf, size, "\"%.*s\"",
                     (int) (sv->len > 32 ? 32 : sv->len), sv->s);

    } else if (sv->tok == NGX_EVBUS_TOK_NUMBER) {
        n = snprintf(buf, size, "%.*s", (int) (sv->len > 32 ? 32 : sv->len),
                     sv->s);

    } else {
        n = snprintf(buf, size, "%s", ngx_evbus_validate_tok_type(sv->tok));
    }

    if (n < 0) {
        return 0;
    }

    return (size_t) n < size ? (size_t) n : size - 1;
}


static const char *
ngx_evbus_validate_tok_type(int tok)
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
ngx_evbus_validate_types(char *buf, size_t size, unsigned types)
{
    size_t  i, n;

    n = 0;
    buf[0] = '\0';

    for (i = 0; ngx_evbus_schema_type_names[i]; i++) {
        if (!(types & (1u << i))) {
            continue;
        }

        n += snprintf(buf + n, size - n, "%s%s", n ? " or " : "",
                      ngx_evbus_schema_type_names[i]);

        if (n >= size) {
            return size - 1;
        }
    }

    return n;
}


/* characters are code points: UTF-8 lead bytes */

static size_t
ngx_evbus_validate_chars(const unsigned char *s, size_t len)
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


ngx_evbus_noinline static const ngx_evbus_sprop_t *
ngx_evbus_validate_prop(const ngx_evbus_snode_t *n, const unsigned char *s,
    size_t len, size_t *index)
{
    size_t                    k, mask;
    uint32_t                  h;
    const ngx_evbus_sprop_t  *p;

    if (n->nslots == 0) {
        return NULL;
    }

    h = ngx_evbus_schema_hash(s, len);
    mask = n->nslots - 1;

    for (k = h & mask; n->slots[k]; k = (k + 1) & mask) {
        p = &n->props[n->slots[k] - 1];

        if (p->hash == h && p->len == len
            && ngx_evbus_validate_bytes_eq(p->name, s, len))
        {
            *index = n->slots[k] - 1;
            return p;
        }
    }

    return NULL;
}


/*
 * Equality of short byte strings (member names, constants) without a call
 * to memcmp(): 8 bytes at a time, the last ones overlapping.
 */

static int
ngx_evbus_validate_bytes_eq(const unsigned char *a, const unsigned char *b,
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

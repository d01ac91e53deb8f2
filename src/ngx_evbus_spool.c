
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif

#include <dirent.h>
#include <sys/file.h>

#include "ngx_evbus_spool.h"
#include "ngx_evbus_spool_record.h"


/*
 * A spool file is a sequence of records (ngx_evbus_spool_record.h).  A
 * record that ends past the end of the file is a torn tail (the process
 * died while writing it); a bad magic or checksum is corruption.  Both end
 * the replay of that file and are logged.
 */

#define NGX_EVBUS_SPOOL_HDR        NGX_EVBUS_SPOOL_RECORD_HDR
#define NGX_EVBUS_SPOOL_READ       (256 * 1024)
#define NGX_EVBUS_SPOOL_BUDGET     4096
#define NGX_EVBUS_SPOOL_SCAN       5000


typedef struct {
    u_char                     *data;
    size_t                      len;
    size_t                      size;
    ngx_uint_t                  nrecords;
    ngx_evbus_spool_waiter_t   *waiters;
    ngx_uint_t                  nwaiters;
    ngx_uint_t                  nalloc;
} ngx_evbus_spool_batch_t;


typedef struct {
    ngx_fd_t                    fd;
    ngx_evbus_spool_batch_t    *batch;
    ngx_uint_t                  fsync;
    ngx_err_t                   err;
    ngx_atomic_t                done;
} ngx_evbus_spool_io_t;


typedef struct ngx_evbus_spool_file_s  ngx_evbus_spool_file_t;

struct ngx_evbus_spool_file_s {
    ngx_evbus_spool_file_t     *next;
    ngx_fd_t                    fd;
    off_t                       offset;      /* replayed up to */
    off_t                       size;
    time_t                      mtime;
    u_char                      name[1];
};


typedef struct {
    ngx_evbus_spool_conf_t     *conf;
    ngx_evbus_spool_written_pt  written;
    ngx_log_t                  *log;

    ngx_evbus_spool_file_t     *active;
    ngx_evbus_spool_file_t     *replay;      /* oldest first */
    off_t                       total;
    ngx_uint_t                  seq;

    ngx_evbus_spool_batch_t     batches[2];
    ngx_evbus_spool_batch_t    *filling;
    ngx_evbus_spool_io_t        io;
    unsigned                    busy:1;
    unsigned                    exiting:1;
    unsigned                    dirty:1;

#if (NGX_THREADS)
    ngx_thread_task_t          *task;
#endif

    u_char                     *rbuf;
    size_t                      rsize;
    ngx_msec_t                  scanned;
    ngx_msec_t                  synced;
} ngx_evbus_spool_t;


static ngx_evbus_spool_file_t *ngx_evbus_spool_open(u_char *name,
    size_t len, ngx_uint_t create);
static void ngx_evbus_spool_close(ngx_evbus_spool_file_t *f,
    ngx_uint_t remove);
static ngx_int_t ngx_evbus_spool_append(ngx_evbus_spool_batch_t *b,
    ngx_evbus_msg_t *msg);
static ngx_int_t ngx_evbus_spool_activate(void);
static void ngx_evbus_spool_start(void);
static void ngx_evbus_spool_io(void *data, ngx_log_t *log);
static void ngx_evbus_spool_io_done(ngx_event_t *ev);
static void ngx_evbus_spool_finish(ngx_evbus_spool_batch_t *b,
    ngx_err_t err);
static void ngx_evbus_spool_scan(void);
static void ngx_evbus_spool_seal(void);
static ngx_int_t ngx_evbus_spool_read(ngx_evbus_spool_file_t *f,
    ngx_uint_t *budget, ngx_evbus_spool_read_pt handler);


static ngx_evbus_spool_t  ngx_evbus_spool;

#if (NGX_THREADS)
static ngx_str_t  ngx_evbus_spool_pool_name = ngx_string("default");
#endif


char *
ngx_evbus_spool_conf(ngx_conf_t *cf, ngx_evbus_spool_conf_t **spool)
{
    ngx_str_t               *value, s;
    ngx_uint_t               i;
    ngx_file_info_t          fi;
    ngx_evbus_spool_conf_t  *conf;

    if (*spool) {
        return "is duplicate";
    }

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_evbus_spool_conf_t));
    if (conf == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    conf->path = value[1];
    conf->max_size = 256 * 1024 * 1024;
    conf->fsync = NGX_EVBUS_FSYNC_BATCH;

    if (conf->path.len == 0) {
        return "has an empty path";
    }

    if (ngx_conf_full_name(cf->cycle, &conf->path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "max_size=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            conf->max_size = ngx_parse_offset(&s);
            if (conf->max_size == NGX_ERROR || conf->max_size == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid max_size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "fsync=off") == 0) {
            conf->fsync = NGX_EVBUS_FSYNC_OFF;
            continue;
        }

        if (ngx_strcmp(value[i].data, "fsync=batch") == 0) {
            conf->fsync = NGX_EVBUS_FSYNC_BATCH;
            continue;
        }

        if (ngx_strcmp(value[i].data, "fsync=always") == 0) {
            conf->fsync = NGX_EVBUS_FSYNC_ALWAYS;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (ngx_file_info(conf->path.data, &fi) != NGX_FILE_ERROR
        && !ngx_is_dir(&fi))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "spool path \"%V\" is not a directory",
                           &conf->path);
        return NGX_CONF_ERROR;
    }

#if (NGX_THREADS)
    conf->thread_pool = ngx_thread_pool_add(cf, &ngx_evbus_spool_pool_name);
    if (conf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }
#endif

    *spool = conf;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_evbus_spool_init_process(ngx_cycle_t *cycle, ngx_evbus_spool_conf_t *conf,
    ngx_evbus_spool_written_pt written)
{
    ngx_memzero(&ngx_evbus_spool, sizeof(ngx_evbus_spool_t));

    if (conf == NULL) {
        return NGX_OK;
    }

    ngx_evbus_spool.log = cycle->log;
    ngx_evbus_spool.written = written;
    ngx_evbus_spool.filling = &ngx_evbus_spool.batches[0];
    ngx_evbus_spool.io.fd = NGX_INVALID_FILE;

    if (ngx_create_dir(conf->path.data, 0700) == NGX_FILE_ERROR
        && ngx_errno != NGX_EEXIST)
    {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                      "evbus: " ngx_create_dir_n " \"%V\" failed, the spool"
                      " is disabled", &conf->path);
        return NGX_ERROR;
    }

#if (NGX_THREADS)
    conf->thread_pool = ngx_thread_pool_get(cycle, &ngx_evbus_spool_pool_name);

    ngx_evbus_spool.task = ngx_thread_task_alloc(cycle->pool, 0);
    if (ngx_evbus_spool.task == NULL) {
        return NGX_ERROR;
    }

    ngx_evbus_spool.task->ctx = &ngx_evbus_spool.io;
    ngx_evbus_spool.task->handler = ngx_evbus_spool_io;
    ngx_evbus_spool.task->event.handler = ngx_evbus_spool_io_done;
    ngx_evbus_spool.task->event.data = &ngx_evbus_spool;
    ngx_evbus_spool.task->event.log = cycle->log;
#endif

    ngx_evbus_spool.conf = conf;

    /* what earlier processes left is replayed first */

    ngx_evbus_spool_scan();

    return NGX_OK;
}


ngx_uint_t
ngx_evbus_spool_enabled(void)
{
    return ngx_evbus_spool.conf != NULL;
}


off_t
ngx_evbus_spool_bytes(void)
{
    return ngx_evbus_spool.total;
}


static ngx_evbus_spool_file_t *
ngx_evbus_spool_open(u_char *name, size_t len, ngx_uint_t create)
{
    ngx_fd_t                 fd;
    ngx_file_info_t          fi;
    ngx_evbus_spool_file_t  *f;

    f = ngx_alloc(sizeof(ngx_evbus_spool_file_t) + len, ngx_evbus_spool.log);
    if (f == NULL) {
        return NULL;
    }

    ngx_cpystrn(f->name, name, len + 1);

    fd = open((char *) f->name,
              O_RDWR|O_APPEND|O_CLOEXEC|(create ? O_CREAT|O_EXCL : 0),
              0600);

    if (fd == NGX_INVALID_FILE) {

        /* another worker may have replayed and removed it since readdir() */

        if (create || ngx_errno != NGX_ENOENT) {
            ngx_log_error(NGX_LOG_ALERT, ngx_evbus_spool.log, ngx_errno,
                          "evbus: open(\"%s\") failed", f->name);
        }

        ngx_free(f);
        return NULL;
    }

    /* a spool file belongs to the process that holds its lock */

    if (flock(fd, LOCK_EX|LOCK_NB) == -1) {
        if (ngx_errno != NGX_EAGAIN) {
            ngx_log_error(NGX_LOG_ALERT, ngx_evbus_spool.log, ngx_errno,
                          "evbus: flock(\"%s\") failed", f->name);
        }

        (void) close(fd);
        ngx_free(f);
        return NULL;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, ngx_evbus_spool.log, ngx_errno,
                      "evbus: fstat(\"%s\") failed", f->name);
        (void) close(fd);
        ngx_free(f);
        return NULL;
    }

    /* replayed and removed by its owner between our open() and flock() */

    if (fi.st_nlink == 0) {
        (void) close(fd);
        ngx_free(f);
        return NULL;
    }

    f->next = NULL;
    f->fd = fd;
    f->offset = 0;
    f->size = ngx_file_size(&fi);
    f->mtime = ngx_file_mtime(&fi);

    return f;
}


static void
ngx_evbus_spool_close(ngx_evbus_spool_file_t *f, ngx_uint_t remove)
{
    if (remove && ngx_delete_file(f->name) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, ngx_evbus_spool.log, ngx_errno,
                      "evbus: " ngx_delete_file_n " \"%s\" failed", f->name);
    }

    if (close(f->fd) == -1) {
        ngx_log_error(NGX_LOG_ALERT, ngx_evbus_spool.log, ngx_errno,
                      "evbus: close(\"%s\") failed", f->name);
    }

    ngx_free(f);
}


/*
 * Claims the oldest spool file that no live process holds.  One file at a
 * time per worker, so that the workers share the replay of what earlier
 * processes left; the next is claimed once this worker has replayed what
 * it holds.
 */

typedef struct {
    time_t                      mtime;
    u_char                      name[NGX_MAX_PATH];
} ngx_evbus_spool_candidate_t;


static int ngx_libc_cdecl
ngx_evbus_spool_cmp(const void *one, const void *two)
{
    const ngx_evbus_spool_candidate_t  *a = one, *b = two;

    return (a->mtime > b->mtime) - (a->mtime < b->mtime);
}


static void
ngx_evbus_spool_scan(void)
{
    DIR                          *dir;
    size_t                        len;
    ngx_uint_t                    i, n;
    struct dirent                *de;
    ngx_file_info_t               fi;
    ngx_evbus_spool_file_t       *f;
    ngx_evbus_spool_candidate_t  *c;

    static ngx_evbus_spool_candidate_t  cand[64];

    ngx_evbus_spool.scanned = ngx_current_msec;

    if (ngx_evbus_spool.replay) {
        return;
    }

    dir = opendir((char *) ngx_evbus_spool.conf->path.data);
    if (dir == NULL) {
        ngx_log_error(NGX_LOG_ALERT, ngx_evbus_spool.log, ngx_errno,
                      "evbus: opendir(\"%V\") failed",
                      &ngx_evbus_spool.conf->path);
        return;
    }

    n = 0;

    while (n < sizeof(cand) / sizeof(cand[0])
           && (de = readdir(dir)) != NULL)
    {
        len = ngx_strlen(de->d_name);

        if (len < 7 || ngx_strcmp(de->d_name + len - 6, ".spool") != 0) {
            continue;
        }

        c = &cand[n];

        len = ngx_snprintf(c->name, sizeof(c->name) - 1, "%V/%s",
                           &ngx_evbus_spool.conf->path, de->d_name)
              - c->name;
        c->name[len] = '\0';

        if (ngx_evbus_spool.active
            && ngx_strcmp(ngx_evbus_spool.active->name, c->name) == 0)
        {
            continue;
        }

        if (ngx_file_info(c->name, &fi) == NGX_FILE_ERROR) {
            continue;
        }

        c->mtime = ngx_file_mtime(&fi);
        n++;
    }

    (void) closedir(dir);

    ngx_qsort(cand, n, sizeof(ngx_evbus_spool_candidate_t),
              ngx_evbus_spool_cmp);

    for (i = 0; i < n; i++) {
        f = ngx_evbus_spool_open(cand[i].name, ngx_strlen(cand[i].name), 0);
        if (f == NULL) {
            continue;
        }

        if (f->size == 0) {
            ngx_evbus_spool_close(f, 1);
            continue;
        }

        ngx_log_error(NGX_LOG_NOTICE, ngx_evbus_spool.log, 0,
                      "evbus: replaying \"%s\" (%O bytes) left by an earlier"
                      " process", f->name, f->size);

        ngx_evbus_spool.total += f->size;
        ngx_evbus_spool.replay = f;

        return;
    }
}


ngx_int_t
ngx_evbus_spool_write(ngx_evbus_msg_t *msg, void *data, ngx_uint_t index)
{
    size_t                     len;
    ssize_t                    n;
    ngx_evbus_spool_batch_t   *b, tmp;
    ngx_evbus_spool_waiter_t  *w;

    if (ngx_evbus_spool.conf == NULL) {
        return NGX_ERROR;
    }

    len = NGX_EVBUS_SPOOL_HDR + NGX_EVBUS_SPOOL_RECORD_FIXED + msg->topic.len
          + msg->key.len + msg->value.len + msg->event_type.len
          + msg->event_version.len + msg->source_service.len
          + msg->ingest_timestamp.len + msg->error_kind.len;

    if (ngx_evbus_spool.total + (off_t) ngx_evbus_spool.batches[0].len
        + (off_t) ngx_evbus_spool.batches[1].len + (off_t) len
        > ngx_evbus_spool.conf->max_size)
    {
        return NGX_BUSY;
    }

    if (ngx_evbus_spool.exiting) {

        /* the event loop is gone and nobody waits: write at once */

        if (ngx_evbus_spool_activate() != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_memzero(&tmp, sizeof(ngx_evbus_spool_batch_t));

        if (ngx_evbus_spool_append(&tmp, msg) != NGX_OK) {
            return NGX_ERROR;
        }

        n = ngx_write_fd(ngx_evbus_spool.active->fd, tmp.data, tmp.len);
        ngx_free(tmp.data);

        if (n != (ssize_t) tmp.len) {
            ngx_log_error(NGX_LOG_ALERT, ngx_evbus_spool.log, ngx_errno,
                          "evbus: write to \"%s\" failed",
                          ngx_evbus_spool.active->name);
            return NGX_ERROR;
        }

        ngx_evbus_spool.active->size += n;
        ngx_evbus_spool.total += n;
        ngx_evbus_spool.dirty = 1;

        ngx_evbus_spool.written(1, NULL, 0, 0);

        return NGX_OK;
    }

    b = ngx_evbus_spool.filling;

    if (ngx_evbus_spool_append(b, msg) != NGX_OK) {
        return NGX_ERROR;
    }

    if (data) {
        if (b->nwaiters == b->nalloc) {
            b->nalloc = b->nalloc ? b->nalloc * 2 : 64;

            w = ngx_alloc(b->nalloc * sizeof(ngx_evbus_spool_waiter_t),
                          ngx_evbus_spool.log);
            if (w == NULL) {
                b->len -= len;
                b->nrecords--;
                return NGX_ERROR;
            }

            if (b->waiters) {
                ngx_memcpy(w, b->waiters,
                           b->nwaiters * sizeof(ngx_evbus_spool_waiter_t));
                ngx_free(b->waiters);
            }

            b->waiters = w;
        }

        b->waiters[b->nwaiters].data = data;
        b->waiters[b->nwaiters].index = index;
        b->nwaiters++;
    }

    if (!ngx_evbus_spool.busy) {
        ngx_evbus_spool_start();
    }

    return NGX_OK;
}


static ngx_int_t
ngx_evbus_spool_append(ngx_evbus_spool_batch_t *b, ngx_evbus_msg_t *msg)
{
    u_char                    *p;
    size_t                     len, size;
    ngx_evbus_spool_record_t   rec;

    rec.timestamp = msg->timestamp;

#define ngx_evbus_spool_field(n, s)                                           \
    rec.field[n].data = (s).data;                                             \
    rec.field[n].len = (s).len

    ngx_evbus_spool_field(NGX_EVBUS_SPOOL_TOPIC, msg->topic);
    ngx_evbus_spool_field(NGX_EVBUS_SPOOL_KEY, msg->key);
    ngx_evbus_spool_field(NGX_EVBUS_SPOOL_VALUE, msg->value);
    ngx_evbus_spool_field(NGX_EVBUS_SPOOL_EVENT_TYPE, msg->event_type);
    ngx_evbus_spool_field(NGX_EVBUS_SPOOL_EVENT_VERSION, msg->event_version);
    ngx_evbus_spool_field(NGX_EVBUS_SPOOL_SOURCE_SERVICE,
                          msg->source_service);
    ngx_evbus_spool_field(NGX_EVBUS_SPOOL_INGEST_TIMESTAMP,
                          msg->ingest_timestamp);
    ngx_evbus_spool_field(NGX_EVBUS_SPOOL_ERROR_KIND, msg->error_kind);

#undef ngx_evbus_spool_field

    len = ngx_evbus_spool_record_size(&rec);
    if (len == 0) {
        return NGX_ERROR;
    }

    if (b->len + len > b->size) {
        size = ngx_max(b->size * 2, b->len + len);
        size = ngx_max(size, 64 * 1024);

        p = ngx_alloc(size, ngx_evbus_spool.log);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (b->data) {
            ngx_memcpy(p, b->data, b->len);
            ngx_free(b->data);
        }

        b->data = p;
        b->size = size;
    }

    ngx_evbus_spool_record_encode(b->data + b->len, &rec);

    b->len += len;
    b->nrecords++;

    return NGX_OK;
}


static ngx_int_t
ngx_evbus_spool_activate(void)
{
    u_char                   name[NGX_MAX_PATH];
    size_t                   len;
    ngx_evbus_spool_file_t  *f;

    if (ngx_evbus_spool.active) {
        return NGX_OK;
    }

    len = ngx_snprintf(name, sizeof(name) - 1, "%V/evbus-%P-%T-%ui.spool",
                       &ngx_evbus_spool.conf->path, ngx_pid, ngx_time(),
                       ngx_evbus_spool.seq++)
          - name;
    name[len] = '\0';

    f = ngx_evbus_spool_open(name, len, 1);
    if (f == NULL) {
        return NGX_ERROR;
    }

    ngx_evbus_spool.active = f;

    return NGX_OK;
}


/* writes the filling batch in a thread, or at once without threads */

static void
ngx_evbus_spool_start(void)
{
    ngx_evbus_spool_batch_t  *b;

    b = ngx_evbus_spool.filling;

    if (b->len == 0) {
        return;
    }

    if (ngx_evbus_spool_activate() != NGX_OK) {
        ngx_evbus_spool_finish(b, EIO);
        return;
    }

    ngx_evbus_spool.filling = (b == &ngx_evbus_spool.batches[0])
                              ? &ngx_evbus_spool.batches[1]
                              : &ngx_evbus_spool.batches[0];

    ngx_evbus_spool.io.fd = ngx_evbus_spool.active->fd;
    ngx_evbus_spool.io.batch = b;
    ngx_evbus_spool.io.err = 0;
    ngx_evbus_spool.io.done = 0;

    switch (ngx_evbus_spool.conf->fsync) {

    case NGX_EVBUS_FSYNC_ALWAYS:
        ngx_evbus_spool.io.fsync = 1;
        break;

    case NGX_EVBUS_FSYNC_BATCH:
        ngx_evbus_spool.io.fsync = (ngx_current_msec - ngx_evbus_spool.synced
                                    >= 1000);
        break;

    default:
        ngx_evbus_spool.io.fsync = 0;
    }

    ngx_evbus_spool.busy = 1;

#if (NGX_THREADS)
    if (ngx_evbus_spool.conf->thread_pool
        && ngx_thread_task_post(ngx_evbus_spool.conf->thread_pool,
                                ngx_evbus_spool.task)
           == NGX_OK)
    {
        return;
    }
#endif

    ngx_evbus_spool_io(&ngx_evbus_spool.io, ngx_evbus_spool.log);
    ngx_evbus_spool_io_done(NULL);
}


/* runs in a thread of the pool: touches nothing but its io context */

static void
ngx_evbus_spool_io(void *data, ngx_log_t *log)
{
    ngx_evbus_spool_io_t *io = data;

    u_char   *p;
    size_t    left;
    ssize_t   n;

    p = io->batch->data;
    left = io->batch->len;

    while (left) {
        n = write(io->fd, p, left);

        if (n == -1) {
            if (ngx_errno == NGX_EINTR) {
                continue;
            }

            io->err = ngx_errno;
            break;
        }

        p += n;
        left -= n;
    }

    if (io->err == 0 && io->fsync && fdatasync(io->fd) == -1) {
        io->err = ngx_errno;
    }

    ngx_memory_barrier();
    io->done = 1;
}


static void
ngx_evbus_spool_io_done(ngx_event_t *ev)
{
    ngx_evbus_spool_io_t     *io;
    ngx_evbus_spool_batch_t  *b;

    io = &ngx_evbus_spool.io;
    b = io->batch;

    ngx_evbus_spool.busy = 0;
    io->batch = NULL;

    if (b == NULL) {
        return;
    }

    if (io->err) {
        ngx_log_error(NGX_LOG_ALERT, ngx_evbus_spool.log, io->err,
                      "evbus: write to \"%s\" failed",
                      ngx_evbus_spool.active->name);

    } else {
        ngx_evbus_spool.active->size += b->len;
        ngx_evbus_spool.total += b->len;

        if (io->fsync) {
            ngx_evbus_spool.synced = ngx_current_msec;
            ngx_evbus_spool.dirty = 0;

        } else {
            ngx_evbus_spool.dirty = 1;
        }
    }

    ngx_evbus_spool_finish(b, io->err);

    if (!ngx_evbus_spool.exiting) {
        ngx_evbus_spool_start();
    }
}


static void
ngx_evbus_spool_finish(ngx_evbus_spool_batch_t *b, ngx_err_t err)
{
    ngx_uint_t  n, nwaiters;

    n = err ? 0 : b->nrecords;
    nwaiters = b->nwaiters;

    b->nwaiters = 0;
    b->nrecords = 0;
    b->len = 0;

    ngx_evbus_spool.written(n, b->waiters, nwaiters, err);
}


/*
 * Once Kafka takes messages again the active file is closed for writing
 * and joins the files to replay; new spooled events go to a new file.
 */

static void
ngx_evbus_spool_seal(void)
{
    ngx_evbus_spool_file_t  *f, **last;

    f = ngx_evbus_spool.active;

    if (f == NULL || f->size == 0 || ngx_evbus_spool.busy
        || ngx_evbus_spool.filling->len)
    {
        return;
    }

    ngx_evbus_spool.active = NULL;

    for (last = &ngx_evbus_spool.replay; *last; last = &(*last)->next) {
        /* void */
    }

    *last = f;
}


void
ngx_evbus_spool_rescan(void)
{
    if (ngx_evbus_spool.conf == NULL || ngx_evbus_spool.exiting) {
        return;
    }

    if (ngx_current_msec - ngx_evbus_spool.scanned >= NGX_EVBUS_SPOOL_SCAN
        || (ngx_evbus_spool.replay == NULL
            && ngx_current_msec - ngx_evbus_spool.scanned >= 100))
    {
        ngx_evbus_spool_scan();
    }
}


ngx_uint_t
ngx_evbus_spool_replay(ngx_evbus_spool_read_pt handler)
{
    ngx_uint_t               budget;
    ngx_evbus_spool_file_t  *f;

    if (ngx_evbus_spool.conf == NULL || ngx_evbus_spool.exiting) {
        return 0;
    }

    ngx_evbus_spool_seal();

    budget = NGX_EVBUS_SPOOL_BUDGET;

    while (ngx_evbus_spool.replay && budget) {
        f = ngx_evbus_spool.replay;

        if (ngx_evbus_spool_read(f, &budget, handler) != NGX_OK) {
            return 1;
        }

        if (f->offset < f->size) {
            return 1;
        }

        ngx_evbus_spool.replay = f->next;
        ngx_evbus_spool.total -= f->size;
        ngx_evbus_spool_close(f, 1);
    }

    return ngx_evbus_spool.replay != NULL;
}


/*
 * NGX_OK: went on as far as the budget and the file allowed;
 * NGX_AGAIN: the handler took no more, try later.
 */

static ngx_int_t
ngx_evbus_spool_read(ngx_evbus_spool_file_t *f, ngx_uint_t *budget,
    ngx_evbus_spool_read_pt handler)
{
    u_char                    *p, *last;
    size_t                     size, len;
    ssize_t                    n;
    ngx_int_t                  rc;
    ngx_evbus_msg_t            msg;
    ngx_evbus_spool_record_t   rec;

    len = 0;

    if (ngx_evbus_spool.rbuf == NULL) {
        ngx_evbus_spool.rbuf = ngx_alloc(NGX_EVBUS_SPOOL_READ,
                                         ngx_evbus_spool.log);
        if (ngx_evbus_spool.rbuf == NULL) {
            return NGX_AGAIN;
        }

        ngx_evbus_spool.rsize = NGX_EVBUS_SPOOL_READ;
    }

    while (*budget && f->offset < f->size) {

        size = (size_t) ngx_min((off_t) ngx_evbus_spool.rsize,
                                f->size - f->offset);

        n = pread(f->fd, ngx_evbus_spool.rbuf, size, f->offset);
        if (n <= 0) {
            ngx_log_error(NGX_LOG_ALERT, ngx_evbus_spool.log, ngx_errno,
                          "evbus: pread(\"%s\") failed", f->name);
            f->offset = f->size;
            return NGX_OK;
        }

        p = ngx_evbus_spool.rbuf;
        last = p + n;

        while (*budget) {
            rc = ngx_evbus_spool_record_decode(p, last - p, &rec, &len);

            if (rc == NGX_EVBUS_SPOOL_RECORD_CORRUPT) {
                goto corrupt;
            }

            if (rc == NGX_EVBUS_SPOOL_RECORD_SHORT) {
                break;
            }

#define ngx_evbus_spool_field(s, n)                                           \
    (s).data = (u_char *) rec.field[n].data;                                  \
    (s).len = rec.field[n].len

            ngx_evbus_spool_field(msg.topic, NGX_EVBUS_SPOOL_TOPIC);
            ngx_evbus_spool_field(msg.key, NGX_EVBUS_SPOOL_KEY);
            ngx_evbus_spool_field(msg.value, NGX_EVBUS_SPOOL_VALUE);
            ngx_evbus_spool_field(msg.event_type, NGX_EVBUS_SPOOL_EVENT_TYPE);
            ngx_evbus_spool_field(msg.event_version,
                                  NGX_EVBUS_SPOOL_EVENT_VERSION);
            ngx_evbus_spool_field(msg.source_service,
                                  NGX_EVBUS_SPOOL_SOURCE_SERVICE);
            ngx_evbus_spool_field(msg.ingest_timestamp,
                                  NGX_EVBUS_SPOOL_INGEST_TIMESTAMP);
            ngx_evbus_spool_field(msg.error_kind, NGX_EVBUS_SPOOL_ERROR_KIND);

#undef ngx_evbus_spool_field

            /* the spool record has no trace headers */
            ngx_str_null(&msg.traceparent);
            ngx_str_null(&msg.tracestate);

            msg.timestamp = rec.timestamp;

            if (handler(&msg) == NGX_AGAIN) {
                return NGX_AGAIN;
            }

            p += len;
            f->offset += len;
            (*budget)--;
        }

        if (p != ngx_evbus_spool.rbuf || *budget == 0) {
            continue;
        }

        /* no whole record in the buffer: cut short, or larger than it */

        if (len == 0 || f->offset + (off_t) len > f->size) {
            ngx_log_error(NGX_LOG_WARN, ngx_evbus_spool.log, 0,
                          "evbus: torn record at offset %O of \"%s\""
                          " (a process died while writing it), skipped",
                          f->offset, f->name);
            f->offset = f->size;
            return NGX_OK;
        }

        p = ngx_alloc(len, ngx_evbus_spool.log);
        if (p == NULL) {
            return NGX_AGAIN;
        }

        ngx_free(ngx_evbus_spool.rbuf);
        ngx_evbus_spool.rbuf = p;
        ngx_evbus_spool.rsize = len;
    }

    return NGX_OK;

corrupt:

    ngx_log_error(NGX_LOG_ERR, ngx_evbus_spool.log, 0,
                  "evbus: corrupt record at offset %O of \"%s\", the rest"
                  " of the file is skipped", f->offset, f->name);

    f->offset = f->size;

    return NGX_OK;
}


/* from now on writes are synchronous: the event loop has stopped */

void
ngx_evbus_spool_exit_begin(ngx_cycle_t *cycle)
{
    ngx_evbus_spool_io_t     *io;
    ngx_evbus_spool_batch_t  *b;

    if (ngx_evbus_spool.conf == NULL) {
        return;
    }

    ngx_evbus_spool.exiting = 1;

    io = &ngx_evbus_spool.io;

    /* the thread pool has been destroyed: a posted write has completed */

    if (ngx_evbus_spool.busy && io->done) {
        ngx_evbus_spool_io_done(NULL);
    }

    b = ngx_evbus_spool.filling;

    if (b->len && !ngx_evbus_spool.busy) {
        io->batch = b;

        if (ngx_evbus_spool_activate() == NGX_OK) {
            io->fd = ngx_evbus_spool.active->fd;
            io->fsync = 0;
            io->err = 0;
            ngx_evbus_spool_io(io, cycle->log);
            ngx_evbus_spool.busy = 1;
            ngx_evbus_spool_io_done(NULL);
        }
    }
}


void
ngx_evbus_spool_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t               i;
    ngx_evbus_spool_file_t  *f;

    if (ngx_evbus_spool.conf == NULL) {
        return;
    }

    f = ngx_evbus_spool.active;

    if (f) {
        if (ngx_evbus_spool.conf->fsync != NGX_EVBUS_FSYNC_OFF
            && ngx_evbus_spool.dirty
            && fdatasync(f->fd) == -1)
        {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                          "evbus: fdatasync(\"%s\") failed", f->name);
        }

        if (f->size) {
            ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                          "evbus: %O bytes left in the spool \"%s\" for the"
                          " next process", f->size, f->name);
        }

        ngx_evbus_spool_close(f, f->size == 0);
        ngx_evbus_spool.active = NULL;
    }

    while (ngx_evbus_spool.replay) {
        f = ngx_evbus_spool.replay;
        ngx_evbus_spool.replay = f->next;

        /* partly replayed files are replayed again whole: duplicates */
        ngx_evbus_spool_close(f, 0);
    }

    for (i = 0; i < 2; i++) {
        if (ngx_evbus_spool.batches[i].data) {
            ngx_free(ngx_evbus_spool.batches[i].data);
        }

        if (ngx_evbus_spool.batches[i].waiters) {
            ngx_free(ngx_evbus_spool.batches[i].waiters);
        }
    }

    if (ngx_evbus_spool.rbuf) {
        ngx_free(ngx_evbus_spool.rbuf);
    }

    ngx_evbus_spool.conf = NULL;
}

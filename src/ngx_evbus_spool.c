
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
#include <pwd.h>
#include <grp.h>
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
#define NGX_EVBUS_SPOOL_GROUPS     64
#define NGX_EVBUS_SPOOL_DLQ_MAX    64        /* distinct dead-letter topics */
#define NGX_EVBUS_SPOOL_TOPIC_MAX  249       /* Kafka's limit */

#ifndef NGX_USER
#define NGX_USER                   "nobody"
#endif

#ifndef NGX_GROUP
#define NGX_GROUP                  "nogroup"
#endif


typedef struct {
    u_char                     *data;
    size_t                      len;
    size_t                      size;
    ngx_uint_t                  nrecords;
    ngx_evbus_spool_waiter_t   *waiters;
    ngx_uint_t                  nwaiters;
    ngx_uint_t                  nalloc;
} ngx_evbus_spool_batch_t;


/* a batch to append (or none: a sync only), done by a thread */

typedef struct {
    ngx_fd_t                    fd;
    ngx_evbus_spool_batch_t    *batch;
    off_t                       size;        /* the file's, before */
    ngx_uint_t                  fsync;
    ngx_err_t                   err;
    ngx_uint_t                  gone;        /* the file was removed */
    ngx_atomic_t                done;
} ngx_evbus_spool_io_t;


typedef struct ngx_evbus_spool_file_s  ngx_evbus_spool_file_t;

struct ngx_evbus_spool_file_s {
    ngx_evbus_spool_file_t     *next;
    ngx_fd_t                    fd;
    off_t                       offset;      /* replayed up to */
    off_t                       size;
    time_t                      mtime;
    ngx_uint_t                  pending;     /* handed out, no outcome */
    unsigned                    draining:1;  /* all handed out */
    unsigned                    failed:1;    /* an outcome was a failure */
    u_char                      name[1];
};


typedef struct {
    ngx_evbus_spool_conf_t     *conf;
    ngx_evbus_spool_written_pt  written;
    ngx_log_t                  *log;

    ngx_evbus_spool_file_t     *active;
    ngx_evbus_spool_file_t     *replay;      /* oldest first */
    ngx_evbus_spool_file_t     *draining;    /* waiting for outcomes */
    off_t                       total;
    ngx_uid_t                   uid;
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
    ngx_event_t                 done;        /* a write done in the loop */
    ngx_event_t                 sync;        /* fsync=batch: the tail */

    u_char                     *rbuf;
    size_t                      rsize;
    ngx_pool_t                 *pool;        /* the cycle's */
    ngx_str_t                   dlq[NGX_EVBUS_SPOOL_DLQ_MAX];
    ngx_uint_t                  ndlq;
    unsigned                    dlq_logged:1;
    ngx_msec_t                  scanned;
    ngx_msec_t                  synced;

    time_t                      err_logged;
    ngx_uint_t                  err_suppressed;
    time_t                      skip_logged;
} ngx_evbus_spool_t;


static ngx_uint_t ngx_evbus_spool_searchable(ngx_file_info_t *fi,
    ngx_uid_t uid, gid_t *groups, int ngroups);
static void ngx_evbus_spool_error(ngx_err_t err, const char *op,
    u_char *name);
static ngx_uint_t ngx_evbus_spool_name_valid(u_char *name);
static ngx_evbus_spool_file_t *ngx_evbus_spool_open(u_char *name,
    size_t len, ngx_uint_t create);
static void ngx_evbus_spool_close(ngx_evbus_spool_file_t *f,
    ngx_uint_t remove);
static ngx_int_t ngx_evbus_spool_append(ngx_evbus_spool_batch_t *b,
    ngx_evbus_msg_t *msg);
static ngx_int_t ngx_evbus_spool_activate(void);
static ngx_int_t ngx_evbus_spool_dead_letter(ngx_str_t *name);
static void ngx_evbus_spool_start(void);
static void ngx_evbus_spool_post(ngx_evbus_spool_batch_t *b);
static void ngx_evbus_spool_io(void *data, ngx_log_t *log);
static void ngx_evbus_spool_io_done(ngx_event_t *ev);
static void ngx_evbus_spool_finish(ngx_evbus_spool_batch_t *b,
    ngx_err_t err);
static void ngx_evbus_spool_retire(void);
static void ngx_evbus_spool_sync_handler(ngx_event_t *ev);
static void ngx_evbus_spool_drained(ngx_evbus_spool_file_t *f);
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


/*
 * The workers write the spool as the user of the "user" directive (when
 * the master runs as root; else as the master's user).  A missing
 * directory is created for that user, mode 0700, as nginx does for its
 * temporary paths; an existing one is never changed, only checked: owned
 * by that user, rwx for it, writable by nobody else, and reachable (every
 * parent searchable by it).  A "user" directive after the http block is
 * not known yet here: the default user is checked then.
 */

char *
ngx_evbus_spool_conf_check(ngx_conf_t *cf, ngx_evbus_spool_conf_t *conf)
{
    int               ngroups;
    char             *user;
    gid_t             groups[NGX_EVBUS_SPOOL_GROUPS];
    u_char           *name, *parent, *p;
    ngx_uid_t         uid;
    ngx_gid_t         gid;
    ngx_err_t         err;
    struct group     *grp;
    struct passwd    *pwd;
    ngx_file_info_t   fi;
    ngx_core_conf_t  *ccf;

    /* "nginx -s quit" must work whatever became of the directory */

    if (ngx_process == NGX_PROCESS_SIGNALLER) {
        return NGX_CONF_OK;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);
    name = conf->path.data;

    if (geteuid() != 0) {
        uid = geteuid();
        gid = getegid();
        pwd = getpwuid(uid);
        user = pwd ? pwd->pw_name : (char *) "(the current user)";

    } else if (ccf->user != (ngx_uid_t) NGX_CONF_UNSET_UINT) {
        uid = ccf->user;
        gid = ccf->group;
        user = ccf->username;

    } else {

        /* what the core module will choose; it reports a failure itself */

        pwd = getpwnam(NGX_USER);
        grp = getgrnam(NGX_GROUP);

        if (pwd == NULL || grp == NULL) {
            return NGX_CONF_OK;
        }

        uid = pwd->pw_uid;
        gid = grp->gr_gid;
        user = NGX_USER;
    }

    if (ngx_file_info(name, &fi) == NGX_FILE_ERROR) {
        err = ngx_errno;

        if (err != NGX_ENOENT) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, err,
                          "evbus_spool: the directory \"%s\" cannot be used"
                          " for the worker user \"%s\": " ngx_file_info_n
                          " failed", name, user);
            return NGX_CONF_ERROR;
        }

        /* missing parents as nginx creates them for temporary files */

        parent = ngx_pnalloc(cf->temp_pool, conf->path.len + 1);
        if (parent == NULL) {
            return NGX_CONF_ERROR;
        }

        (void) ngx_cpystrn(parent, name, conf->path.len + 1);
        err = ngx_create_full_path(parent, 0755);

        if (err || ngx_create_dir(name, 0700) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, err ? err : ngx_errno,
                          "evbus_spool: the directory \"%s\" cannot be"
                          " created for the worker user \"%s\"", name, user);
            return NGX_CONF_ERROR;
        }

        if (geteuid() == 0 && chown((char *) name, uid, gid) == -1) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, ngx_errno,
                          "evbus_spool: chown(\"%s\", \"%s\") failed",
                          name, user);
            return NGX_CONF_ERROR;
        }

        if (ngx_file_info(name, &fi) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, ngx_errno,
                          "evbus_spool: " ngx_file_info_n " \"%s\" failed",
                          name);
            return NGX_CONF_ERROR;
        }
    }

    if (!ngx_is_dir(&fi)) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "evbus_spool: \"%s\" is not a directory", name);
        return NGX_CONF_ERROR;
    }

    if (fi.st_uid != uid) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "evbus_spool: the directory \"%s\" is owned by uid %d,"
                      " not by the worker user \"%s\" (uid %d)",
                      name, (int) fi.st_uid, user, (int) uid);
        return NGX_CONF_ERROR;
    }

    if (fi.st_mode & (S_IWGRP|S_IWOTH)) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "evbus_spool: the directory \"%s\" is writable by"
                      " others than the worker user \"%s\" (mode 0%d%d%d)",
                      name, user, (int) (fi.st_mode >> 6 & 7),
                      (int) (fi.st_mode >> 3 & 7), (int) (fi.st_mode & 7));
        return NGX_CONF_ERROR;
    }

    if ((fi.st_mode & S_IRWXU) != S_IRWXU) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "evbus_spool: the worker user \"%s\" cannot read, write"
                      " and search the directory \"%s\" (mode 0%d%d%d)",
                      user, name, (int) (fi.st_mode >> 6 & 7),
                      (int) (fi.st_mode >> 3 & 7), (int) (fi.st_mode & 7));
        return NGX_CONF_ERROR;
    }

    if (uid == 0) {
        return NGX_CONF_OK;
    }

    ngroups = NGX_EVBUS_SPOOL_GROUPS;

    if (getgrouplist(user, gid, groups, &ngroups) == -1) {
        groups[0] = gid;
        ngroups = 1;
    }

    /* every parent, as the worker user would walk it */

    parent = ngx_pnalloc(cf->temp_pool, conf->path.len + 1);
    if (parent == NULL) {
        return NGX_CONF_ERROR;
    }

    for (p = name + 1; *p; p++) {
        if (*p != '/') {
            continue;
        }

        (void) ngx_cpystrn(parent, name, p - name + 1);

        if (ngx_file_info(parent, &fi) != NGX_FILE_ERROR
            && !ngx_evbus_spool_searchable(&fi, uid, groups, ngroups))
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "evbus_spool: the worker user \"%s\" cannot reach"
                          " the directory \"%s\": \"%s\" is not searchable"
                          " for it", user, name, parent);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static ngx_uint_t
ngx_evbus_spool_searchable(ngx_file_info_t *fi, ngx_uid_t uid, gid_t *groups,
    int ngroups)
{
    int  i;

    if (fi->st_uid == uid) {
        return (fi->st_mode & S_IXUSR) != 0;
    }

    for (i = 0; i < ngroups; i++) {
        if (fi->st_gid == groups[i]) {
            return (fi->st_mode & S_IXGRP) != 0;
        }
    }

    return (fi->st_mode & S_IXOTH) != 0;
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
    ngx_evbus_spool.pool = cycle->pool;
    ngx_evbus_spool.written = written;
    ngx_evbus_spool.filling = &ngx_evbus_spool.batches[0];
    ngx_evbus_spool.io.fd = NGX_INVALID_FILE;
    ngx_evbus_spool.uid = geteuid();

    /*
     * The directory was created and checked by the master (nginx -t); if
     * it has gone since, spool writes fail (503) until it is back.
     */

    ngx_evbus_spool.done.handler = ngx_evbus_spool_io_done;
    ngx_evbus_spool.done.data = &ngx_evbus_spool;
    ngx_evbus_spool.done.log = cycle->log;

    ngx_evbus_spool.sync.handler = ngx_evbus_spool_sync_handler;
    ngx_evbus_spool.sync.data = &ngx_evbus_spool;
    ngx_evbus_spool.sync.log = cycle->log;
    ngx_evbus_spool.sync.cancelable = 1;

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

    /* never through a symlink, never blocking on a planted fifo */

    fd = open((char *) f->name,
              O_RDWR|O_APPEND|O_CLOEXEC|O_NOFOLLOW|O_NONBLOCK
              |(create ? O_CREAT|O_EXCL : 0),
              0600);

    if (fd == NGX_INVALID_FILE) {

        /* another worker may have replayed and removed it since readdir() */

        if (create || ngx_errno != NGX_ENOENT) {
            ngx_evbus_spool_error(ngx_errno, "open", f->name);
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

    /*
     * Replayed and removed by its owner between our open() and flock();
     * or not a file of ours (swapped in since the scan looked at it).
     */

    if (fi.st_nlink == 0 || !ngx_is_file(&fi)
        || fi.st_uid != ngx_evbus_spool.uid)
    {
        (void) close(fd);
        ngx_free(f);
        return NULL;
    }

    f->next = NULL;
    f->fd = fd;
    f->offset = 0;
    f->size = ngx_file_size(&fi);
    f->mtime = ngx_file_mtime(&fi);
    f->pending = 0;
    f->draining = 0;
    f->failed = 0;

    return f;
}


static void
ngx_evbus_spool_close(ngx_evbus_spool_file_t *f, ngx_uint_t remove)
{
    /* ENOENT: the directory was removed under us */

    if (remove && ngx_delete_file(f->name) == NGX_FILE_ERROR
        && ngx_errno != NGX_ENOENT)
    {
        ngx_evbus_spool_error(ngx_errno, "unlink", f->name);
    }

    if (close(f->fd) == -1) {
        ngx_log_error(NGX_LOG_ALERT, ngx_evbus_spool.log, ngx_errno,
                      "evbus: close(\"%s\") failed", f->name);
    }

    ngx_free(f);
}


/*
 * Run-time trouble with the spool's files (a full disk, no fds left, the
 * directory removed) comes with every event while it lasts: one line a
 * second.
 */

static void
ngx_evbus_spool_error(ngx_err_t err, const char *op, u_char *name)
{
    if (ngx_evbus_spool.err_logged == ngx_time()) {
        ngx_evbus_spool.err_suppressed++;
        return;
    }

    ngx_log_error(NGX_LOG_CRIT, ngx_evbus_spool.log, err,
                  "evbus: spool: %s(\"%s\") failed (%ui more spool errors"
                  " not logged)", op, name, ngx_evbus_spool.err_suppressed);

    ngx_evbus_spool.err_logged = ngx_time();
    ngx_evbus_spool.err_suppressed = 0;
}


/* evbus-<pid>-<time>-<seq>.spool, as ngx_evbus_spool_activate() names */

static ngx_uint_t
ngx_evbus_spool_name_valid(u_char *name)
{
    ngx_uint_t  i, digits;

    if (ngx_strncmp(name, "evbus-", 6) != 0) {
        return 0;
    }

    name += 6;

    for (i = 0; i < 3; i++) {
        for (digits = 0; *name >= '0' && *name <= '9'; name++) {
            digits++;
        }

        if (digits == 0 || digits > 20) {
            return 0;
        }

        if (*name != (u_char) (i < 2 ? '-' : '.')) {
            return 0;
        }

        name++;
    }

    return ngx_strcmp(name, "spool") == 0;
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
        ngx_evbus_spool_error(ngx_errno, "opendir",
                              ngx_evbus_spool.conf->path.data);
        return;
    }

    n = 0;

    while (n < sizeof(cand) / sizeof(cand[0])
           && (de = readdir(dir)) != NULL)
    {
        if (!ngx_evbus_spool_name_valid((u_char *) de->d_name)) {
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

        if (ngx_link_info(c->name, &fi) == NGX_FILE_ERROR) {
            continue;
        }

        /* only what a worker of ours wrote: no symlink, no other owner */

        if (!ngx_is_file(&fi) || fi.st_uid != ngx_evbus_spool.uid) {
            if (ngx_evbus_spool.skip_logged + 60 <= ngx_time()) {
                ngx_log_error(NGX_LOG_WARN, ngx_evbus_spool.log, 0,
                              "evbus: \"%s\" is not a regular file of the"
                              " worker user, not replayed", c->name);
                ngx_evbus_spool.skip_logged = ngx_time();
            }

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
          + msg->ingest_timestamp.len + msg->error_kind.len
          + msg->traceparent.len + msg->tracestate.len + msg->dead_letter.len;

    if (ngx_evbus_spool.total + (off_t) ngx_evbus_spool.batches[0].len
        + (off_t) ngx_evbus_spool.batches[1].len + (off_t) len
        > ngx_evbus_spool.conf->max_size)
    {
        return NGX_BUSY;
    }

    if (ngx_evbus_spool.exiting) {

        /*
         * The event loop is gone and nobody waits.  A record replayed from
         * a file stays in that file, which is kept: it is not copied here.
         */

        if (data) {
            return NGX_DECLINED;
        }

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
            ngx_evbus_spool_error(ngx_errno, "write",
                                  ngx_evbus_spool.active->name);

            if (n > 0) {
                (void) ftruncate(ngx_evbus_spool.active->fd,
                                 ngx_evbus_spool.active->size);
            }

            return NGX_ERROR;
        }

        ngx_evbus_spool.active->size += n;
        ngx_evbus_spool.total += n;
        ngx_evbus_spool.dirty = 1;

        ngx_evbus_spool.written(1, NULL, 0, 0);

        return NGX_OK;
    }

    /*
     * A write that cannot even start fails here, and keeps nothing of
     * "data": outcomes are only ever reported from the event loop, after
     * the caller has returned (it owns "data" until then).
     */

    if (ngx_evbus_spool_activate() != NGX_OK) {
        return NGX_ERROR;
    }

    b = ngx_evbus_spool.filling;

    if (data && b->nwaiters == b->nalloc) {
        n = b->nalloc ? b->nalloc * 2 : 64;

        w = ngx_alloc(n * sizeof(ngx_evbus_spool_waiter_t),
                      ngx_evbus_spool.log);
        if (w == NULL) {
            return NGX_ERROR;
        }

        if (b->waiters) {
            ngx_memcpy(w, b->waiters,
                       b->nwaiters * sizeof(ngx_evbus_spool_waiter_t));
            ngx_free(b->waiters);
        }

        b->waiters = w;
        b->nalloc = n;
    }

    if (ngx_evbus_spool_append(b, msg) != NGX_OK) {
        return NGX_ERROR;
    }

    if (data) {
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
    ngx_evbus_spool_field(NGX_EVBUS_SPOOL_TRACEPARENT, msg->traceparent);
    ngx_evbus_spool_field(NGX_EVBUS_SPOOL_TRACESTATE, msg->tracestate);
    ngx_evbus_spool_field(NGX_EVBUS_SPOOL_DEAD_LETTER, msg->dead_letter);

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
    ngx_evbus_spool.dirty = 0;

    return NGX_OK;
}


/*
 * Writes the filling batch in a thread, or at once without threads; its
 * outcome comes through ngx_evbus_spool_io_done() from the event loop.
 */

static void
ngx_evbus_spool_start(void)
{
    ngx_evbus_spool_io_t     *io;
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

    io = &ngx_evbus_spool.io;

    switch (ngx_evbus_spool.conf->fsync) {

    case NGX_EVBUS_FSYNC_ALWAYS:
        io->fsync = 1;
        break;

    case NGX_EVBUS_FSYNC_BATCH:
        io->fsync = (ngx_current_msec - ngx_evbus_spool.synced >= 1000);
        break;

    default:
        io->fsync = 0;
    }

    ngx_evbus_spool_post(b);
}


static void
ngx_evbus_spool_post(ngx_evbus_spool_batch_t *b)
{
    ngx_evbus_spool_io_t  *io;

    io = &ngx_evbus_spool.io;

    io->fd = ngx_evbus_spool.active->fd;
    io->batch = b;
    io->size = ngx_evbus_spool.active->size;
    io->err = 0;
    io->gone = 0;
    io->done = 0;

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

    ngx_evbus_spool_io(io, ngx_evbus_spool.log);
    ngx_post_event(&ngx_evbus_spool.done, &ngx_posted_events);
}


/* runs in a thread of the pool: touches nothing but its io context */

static void
ngx_evbus_spool_io(void *data, ngx_log_t *log)
{
    ngx_evbus_spool_io_t *io = data;

    u_char           *p;
    size_t            left;
    ssize_t           n;
    ngx_file_info_t   fi;

    p = io->batch ? io->batch->data : NULL;
    left = io->batch ? io->batch->len : 0;

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

    /* a write to a file removed with its directory reaches nobody */

    if (io->err == 0 && io->batch && ngx_fd_info(io->fd, &fi) != -1
        && fi.st_nlink == 0)
    {
        io->err = NGX_ENOENT;
        io->gone = 1;
    }

    /* no torn record before the next batch: cut back what was written */

    if (io->err && io->batch) {
        (void) ftruncate(io->fd, io->size);
    }

    ngx_memory_barrier();
    io->done = 1;
}


static void
ngx_evbus_spool_io_done(ngx_event_t *ev)
{
    ngx_msec_t                delay;
    ngx_evbus_spool_io_t     *io;
    ngx_evbus_spool_batch_t  *b;

    io = &ngx_evbus_spool.io;

    if (!ngx_evbus_spool.busy) {
        return;
    }

    b = io->batch;

    ngx_evbus_spool.busy = 0;
    io->batch = NULL;

    if (io->err) {
        ngx_evbus_spool_error(io->err, b ? "write" : "fdatasync",
                              ngx_evbus_spool.active->name);

        if (io->gone) {
            ngx_evbus_spool_retire();
        }

    } else {
        if (b) {
            ngx_evbus_spool.active->size += b->len;
            ngx_evbus_spool.total += b->len;
        }

        if (io->fsync) {
            ngx_evbus_spool.synced = ngx_current_msec;
            ngx_evbus_spool.dirty = 0;

        } else if (b) {
            ngx_evbus_spool.dirty = 1;
        }
    }

    /* fsync=batch: the tail of a burst is synced within a second too */

    if (ngx_evbus_spool.dirty
        && ngx_evbus_spool.conf->fsync == NGX_EVBUS_FSYNC_BATCH
        && !ngx_evbus_spool.sync.timer_set
        && !ngx_evbus_spool.exiting)
    {
        delay = ngx_current_msec - ngx_evbus_spool.synced;
        delay = (delay < 1000) ? 1000 - delay : 1;
        ngx_add_timer(&ngx_evbus_spool.sync, delay);
    }

    if (b) {
        ngx_evbus_spool_finish(b, io->err);
    }

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
 * The active file was removed (with its directory): what it held before
 * is replayed by this worker through the descriptor, if it lives long
 * enough; new records need a new file.
 */

static void
ngx_evbus_spool_retire(void)
{
    ngx_evbus_spool_file_t  *f, **last;

    f = ngx_evbus_spool.active;
    ngx_evbus_spool.active = NULL;
    ngx_evbus_spool.dirty = 0;

    if (f->size == 0) {
        ngx_evbus_spool_close(f, 0);
        return;
    }

    for (last = &ngx_evbus_spool.replay; *last; last = &(*last)->next) {
        /* void */
    }

    *last = f;
}


static void
ngx_evbus_spool_sync_handler(ngx_event_t *ev)
{
    if (ngx_exiting || ngx_terminate || ngx_evbus_spool.exiting
        || !ngx_evbus_spool.dirty || ngx_evbus_spool.active == NULL)
    {
        return;
    }

    /* a write in flight: its completion arms the timer again */

    if (ngx_evbus_spool.busy) {
        return;
    }

    ngx_evbus_spool.io.fsync = 1;
    ngx_evbus_spool_post(NULL);
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

    /* with fsync, only what is on the disk leaves the active file */

    if (f == NULL || f->size == 0 || ngx_evbus_spool.busy
        || ngx_evbus_spool.filling->len
        || (ngx_evbus_spool.dirty
            && ngx_evbus_spool.conf->fsync != NGX_EVBUS_FSYNC_OFF))
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

        /*
         * Every record is in librdkafka's queue, none need be in Kafka:
         * the file stays until each has had its outcome.
         */

        ngx_evbus_spool.replay = f->next;

        f->draining = 1;
        f->next = ngx_evbus_spool.draining;
        ngx_evbus_spool.draining = f;

        ngx_evbus_spool_drained(f);
    }

    return ngx_evbus_spool.replay != NULL;
}


void
ngx_evbus_spool_replayed(void *file, ngx_uint_t ok)
{
    ngx_evbus_spool_file_t  *f = file;

    /* the files are closed once the producer has stopped */

    if (ngx_evbus_spool.conf == NULL) {
        return;
    }

    f->pending--;

    if (!ok) {
        f->failed = 1;
    }

    if (f->draining) {
        ngx_evbus_spool_drained(f);
    }
}


static void
ngx_evbus_spool_drained(ngx_evbus_spool_file_t *f)
{
    ngx_evbus_spool_file_t  **fp, **last;

    if (f->pending) {
        return;
    }

    for (fp = &ngx_evbus_spool.draining; *fp != f; fp = &(*fp)->next) {
        /* void */
    }

    *fp = f->next;
    f->next = NULL;
    f->draining = 0;

    if (!f->failed) {
        ngx_evbus_spool.total -= f->size;
        ngx_evbus_spool_close(f, 1);
        return;
    }

    /* duplicates of the records that did arrive, but nothing lost */

    ngx_log_error(NGX_LOG_WARN, ngx_evbus_spool.log, 0,
                  "evbus: some records of \"%s\" were neither delivered nor"
                  " spooled again, the file is replayed again", f->name);

    f->failed = 0;
    f->offset = 0;

    for (last = &ngx_evbus_spool.replay; *last; last = &(*last)->next) {
        /* void */
    }

    *last = f;
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
            ngx_log_error(NGX_LOG_CRIT, ngx_evbus_spool.log, ngx_errno,
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
            ngx_evbus_spool_field(msg.traceparent,
                                  NGX_EVBUS_SPOOL_TRACEPARENT);
            ngx_evbus_spool_field(msg.tracestate, NGX_EVBUS_SPOOL_TRACESTATE);
            ngx_evbus_spool_field(msg.dead_letter,
                                  NGX_EVBUS_SPOOL_DEAD_LETTER);

#undef ngx_evbus_spool_field

            if (ngx_evbus_spool_dead_letter(&msg.dead_letter) != NGX_OK) {
                return NGX_AGAIN;
            }

            msg.timestamp = rec.timestamp;

            /* the outcome may not come before the handler has returned */

            f->pending++;
            rc = handler(&msg, f);

            if (rc != NGX_OK) {
                f->pending--;
            }

            if (rc == NGX_AGAIN) {
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


/*
 * The producer keeps a message's dead-letter topic until its delivery
 * report, long after the read buffer has moved on: a replayed record gets
 * a copy kept as long as the configuration's names.  There are few of them
 * (the locations' topics); records naming more than NGX_EVBUS_SPOOL_DLQ_MAX
 * are replayed without one.
 */

static ngx_int_t
ngx_evbus_spool_dead_letter(ngx_str_t *name)
{
    u_char      *p;
    ngx_uint_t   i;

    if (name->len == 0) {
        return NGX_OK;
    }

    for (i = 0; i < ngx_evbus_spool.ndlq; i++) {
        if (ngx_evbus_spool.dlq[i].len == name->len
            && ngx_memcmp(ngx_evbus_spool.dlq[i].data, name->data, name->len)
               == 0)
        {
            *name = ngx_evbus_spool.dlq[i];
            return NGX_OK;
        }
    }

    if (ngx_evbus_spool.ndlq == NGX_EVBUS_SPOOL_DLQ_MAX
        || name->len > NGX_EVBUS_SPOOL_TOPIC_MAX)
    {
        if (!ngx_evbus_spool.dlq_logged) {
            ngx_log_error(NGX_LOG_WARN, ngx_evbus_spool.log, 0,
                          "evbus: spooled events to the dead-letter topic"
                          " \"%V\" are replayed without one (more than %d"
                          " such topics, or too long a name)",
                          name, NGX_EVBUS_SPOOL_DLQ_MAX);
            ngx_evbus_spool.dlq_logged = 1;
        }

        ngx_str_null(name);
        return NGX_OK;
    }

    p = ngx_pnalloc(ngx_evbus_spool.pool, name->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, name->data, name->len);

    name->data = p;
    ngx_evbus_spool.dlq[ngx_evbus_spool.ndlq++] = *name;

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

    if (ngx_evbus_spool.done.posted) {
        ngx_delete_posted_event(&ngx_evbus_spool.done);
    }

    if (ngx_evbus_spool.sync.timer_set) {
        ngx_del_timer(&ngx_evbus_spool.sync);
    }

    /* the thread pool has been destroyed: a posted write has completed */

    if (ngx_evbus_spool.busy && io->done) {
        ngx_evbus_spool_io_done(NULL);
    }

    b = ngx_evbus_spool.filling;

    if (b->len && !ngx_evbus_spool.busy) {

        if (ngx_evbus_spool_activate() == NGX_OK) {
            io->fd = ngx_evbus_spool.active->fd;
            io->batch = b;
            io->size = ngx_evbus_spool.active->size;
            io->fsync = 0;
            io->err = 0;
            io->gone = 0;
            ngx_evbus_spool_io(io, cycle->log);
            ngx_evbus_spool.busy = 1;
            ngx_evbus_spool_io_done(NULL);

        } else {
            ngx_evbus_spool_finish(b, EIO);
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

    while (ngx_evbus_spool.draining) {
        f = ngx_evbus_spool.draining;
        ngx_evbus_spool.draining = f->next;

        /* some outcomes never came: replayed again whole */
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

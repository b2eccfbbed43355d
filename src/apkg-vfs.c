/* apkg-vfs.c - an SQLite VFS that tells whom it may concern where a file is
 * written, and writes it in large pieces.
 *
 * While SQLite makes the collection's indexes, the rows it committed before
 * are already in the file, and a second CPU can deflate them for the zip
 * (pdeflate_ahead).  Whether a part of the file it deflated was written
 * again afterwards is not something to assume from SQLite's page
 * allocation: this VFS reports every write and every truncation of a file
 * whose connection asked for it, and the deflate redoes what they touched.
 *
 * SQLite writes a page (4 KiB) at a time, and on ext4 a pwrite() of 4 KiB
 * costs three times what it costs per byte in 64 KiB writes (a test
 * program writing 127 MB: 84-96 ms against 23-31 ms of CPU).  The
 * collection is written in order as its rows are appended, so a main
 * database file opened through this VFS gathers consecutive writes in a
 * buffer of WBUF bytes and writes the buffer when a write does not follow
 * on, and before anything that must see the file as SQLite wrote it: a
 * read of the buffered bytes, the file's size, a truncation, a sync, an
 * unlock, a mapping, a file control, the close, and pkg_vfs_flush().
 *
 * Everything else goes to the default VFS unchanged; the wrapped file sits
 * right after our own header in the space SQLite allocates for a file
 * (szOsFile). */
#include "mdeck/apkg.h"
#include "apkg-int.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* 64 KiB: the unix VFS writes at most 128 KiB - 1 bytes in one call (its
 * seekAndWriteFd() masks the length with 0x1ffff) and says SQLITE_FULL for
 * the rest */
#define WBUF ((size_t)64 << 10)

struct wfile {
    sqlite3_file base;
    struct pkg_vfs_watch w; /* hook NULL: nobody asked */
    sqlite3_file *real;     /* the default VFS's file, right after this header */
    unsigned char *buf;     /* WBUF bytes gathered (main databases only), or NULL */
    sqlite3_int64 boff;     /* where the gathered bytes go */
    size_t blen;            /* how many there are */
};

static sqlite3_vfs *real_vfs;

static sqlite3_file *real_of(sqlite3_file *f) { return ((struct wfile *)f)->real; }

/* Writes the gathered bytes: SQLITE_OK, or the default VFS's error (the
 * bytes are then dropped: SQLite treats the file as broken anyway). */
static int flush(struct wfile *w)
{
    if (!w->blen) return SQLITE_OK;
    size_t n = w->blen;
    w->blen = 0;
    return w->real->pMethods->xWrite(w->real, w->buf, (int)n, w->boff);
}

static int w_close(sqlite3_file *f)
{
    struct wfile *w = (struct wfile *)f;
    int rc = flush(w);
    int rc2 = w->real->pMethods->xClose(w->real);
    free(w->buf);
    w->buf = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

static int w_read(sqlite3_file *f, void *p, int amt, sqlite3_int64 off)
{
    struct wfile *w = (struct wfile *)f;
    if (w->blen && off < w->boff + (sqlite3_int64)w->blen && w->boff < off + amt) {
        int rc = flush(w);
        if (rc != SQLITE_OK) return rc;
    }
    return w->real->pMethods->xRead(w->real, p, amt, off);
}

static int w_write(sqlite3_file *f, const void *p, int amt, sqlite3_int64 off)
{
    struct wfile *w = (struct wfile *)f;
    /* told before the write: a reader that looks after the write is done
     * knows, whatever it read meanwhile */
    if (w->w.hook && amt > 0) w->w.hook(w->w.ctx, (uint64_t)off, (uint64_t)amt);
    if (!w->buf || amt <= 0) return w->real->pMethods->xWrite(w->real, p, amt, off);
    if (w->blen && off == w->boff + (sqlite3_int64)w->blen && (size_t)amt <= WBUF - w->blen) {
        memcpy(w->buf + w->blen, p, (size_t)amt);
        w->blen += (size_t)amt;
        return SQLITE_OK;
    }
    int rc = flush(w); /* in order: a later write may cover part of it */
    if (rc != SQLITE_OK) return rc;
    if ((size_t)amt > WBUF / 2) return w->real->pMethods->xWrite(w->real, p, amt, off);
    memcpy(w->buf, p, (size_t)amt);
    w->boff = off;
    w->blen = (size_t)amt;
    return SQLITE_OK;
}

static int w_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    struct wfile *w = (struct wfile *)f;
    if (w->w.hook) w->w.hook(w->w.ctx, (uint64_t)size, UINT64_MAX - (uint64_t)size);
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xTruncate(w->real, size);
}

static int w_sync(sqlite3_file *f, int flags)
{
    struct wfile *w = (struct wfile *)f;
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xSync(w->real, flags);
}

static int w_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    struct wfile *w = (struct wfile *)f;
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xFileSize(w->real, size);
}

static int w_lock(sqlite3_file *f, int level)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xLock(r, level);
}

static int w_unlock(sqlite3_file *f, int level)
{
    struct wfile *w = (struct wfile *)f;
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xUnlock(w->real, level);
}

static int w_check_reserved(sqlite3_file *f, int *out)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xCheckReservedLock(r, out);
}

static int w_file_control(sqlite3_file *f, int op, void *arg)
{
    struct wfile *w = (struct wfile *)f;
    if (op == PKG_VFS_FCNTL_WATCH) {
        w->w = *(const struct pkg_vfs_watch *)arg;
        return SQLITE_OK;
    }
    int rc = flush(w);
    if (op == PKG_VFS_FCNTL_FLUSH || rc != SQLITE_OK) return rc;
    return w->real->pMethods->xFileControl(w->real, op, arg);
}

static int w_sector_size(sqlite3_file *f)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xSectorSize(r);
}

static int w_device_characteristics(sqlite3_file *f)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xDeviceCharacteristics(r);
}

/* Shared memory (WAL only, which the collection never uses) and memory
 * mapping: handed on when the wrapped file has them. */
static int w_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **pp)
{
    sqlite3_file *r = real_of(f);
    if (r->pMethods->iVersion < 2) return SQLITE_IOERR;
    return r->pMethods->xShmMap(r, region, size, extend, pp);
}

static int w_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    sqlite3_file *r = real_of(f);
    if (r->pMethods->iVersion < 2) return SQLITE_IOERR;
    return r->pMethods->xShmLock(r, offset, n, flags);
}

static void w_shm_barrier(sqlite3_file *f)
{
    sqlite3_file *r = real_of(f);
    if (r->pMethods->iVersion >= 2) r->pMethods->xShmBarrier(r);
}

static int w_shm_unmap(sqlite3_file *f, int del)
{
    sqlite3_file *r = real_of(f);
    if (r->pMethods->iVersion < 2) return SQLITE_OK;
    return r->pMethods->xShmUnmap(r, del);
}

static int w_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
    struct wfile *w = (struct wfile *)f;
    *pp = NULL; /* no mapping: SQLite reads instead */
    int rc = flush(w); /* a mapping shows the file, not the buffer */
    if (rc != SQLITE_OK || w->real->pMethods->iVersion < 3) return rc;
    return w->real->pMethods->xFetch(w->real, off, amt, pp);
}

static int w_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    sqlite3_file *r = real_of(f);
    if (r->pMethods->iVersion < 3) return SQLITE_OK;
    return r->pMethods->xUnfetch(r, off, p);
}

static const sqlite3_io_methods w_methods = {
    .iVersion = 3,
    .xClose = w_close,
    .xRead = w_read,
    .xWrite = w_write,
    .xTruncate = w_truncate,
    .xSync = w_sync,
    .xFileSize = w_file_size,
    .xLock = w_lock,
    .xUnlock = w_unlock,
    .xCheckReservedLock = w_check_reserved,
    .xFileControl = w_file_control,
    .xSectorSize = w_sector_size,
    .xDeviceCharacteristics = w_device_characteristics,
    .xShmMap = w_shm_map,
    .xShmLock = w_shm_lock,
    .xShmBarrier = w_shm_barrier,
    .xShmUnmap = w_shm_unmap,
    .xFetch = w_fetch,
    .xUnfetch = w_unfetch,
};

/* The file header is padded so that the wrapped file after it is aligned
 * as SQLite aligns the whole. */
#define HEAD ((sizeof(struct wfile) + 15) & ~(size_t)15)

static int w_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    (void)vfs;
    struct wfile *w = (struct wfile *)f;
    memset(w, 0, sizeof *w);
    w->real = (sqlite3_file *)((char *)f + HEAD);
    int rc = real_vfs->xOpen(real_vfs, name, w->real, flags, out);
    /* pMethods stays NULL when the open failed: SQLite then never calls
     * xClose */
    if (rc == SQLITE_OK && w->real->pMethods) {
        w->base.pMethods = &w_methods;
        if (flags & SQLITE_OPEN_MAIN_DB) w->buf = malloc(WBUF); /* NULL: writes as they come */
    }
    return rc;
}

/* The rest of the VFS is the default one's, called with its own handle. */
static int v_delete(sqlite3_vfs *v, const char *name, int sync)
{
    (void)v;
    return real_vfs->xDelete(real_vfs, name, sync);
}

static int v_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int v_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return real_vfs->xDlOpen(real_vfs, name);
}

static void v_dlerror(sqlite3_vfs *v, int n, char *msg)
{
    (void)v;
    real_vfs->xDlError(real_vfs, n, msg);
}

static void (*v_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    (void)v;
    return real_vfs->xDlSym(real_vfs, h, sym);
}

static void v_dlclose(sqlite3_vfs *v, void *h)
{
    (void)v;
    real_vfs->xDlClose(real_vfs, h);
}

static int v_randomness(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return real_vfs->xRandomness(real_vfs, n, out);
}

static int v_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return real_vfs->xSleep(real_vfs, us);
}

static int v_current_time(sqlite3_vfs *v, double *t)
{
    (void)v;
    return real_vfs->xCurrentTime(real_vfs, t);
}

static int v_last_error(sqlite3_vfs *v, int n, char *msg)
{
    (void)v;
    return real_vfs->xGetLastError ? real_vfs->xGetLastError(real_vfs, n, msg) : 0;
}

static int v_current_time64(sqlite3_vfs *v, sqlite3_int64 *t)
{
    (void)v;
    if (real_vfs->iVersion >= 2 && real_vfs->xCurrentTimeInt64)
        return real_vfs->xCurrentTimeInt64(real_vfs, t);
    double d;
    int rc = real_vfs->xCurrentTime(real_vfs, &d);
    *t = (sqlite3_int64)(d * 86400000.0);
    return rc;
}

static sqlite3_vfs w_vfs = {
    .iVersion = 2,
    .mxPathname = 0, /* set from the default VFS */
    .zName = PKG_VFS,
    .xOpen = w_open,
    .xDelete = v_delete,
    .xAccess = v_access,
    .xFullPathname = v_full_pathname,
    .xDlOpen = v_dlopen,
    .xDlError = v_dlerror,
    .xDlSym = v_dlsym,
    .xDlClose = v_dlclose,
    .xRandomness = v_randomness,
    .xSleep = v_sleep,
    .xCurrentTime = v_current_time,
    .xGetLastError = v_last_error,
    .xCurrentTimeInt64 = v_current_time64,
};

int pkg_vfs_register(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    if (!real_vfs) return -1;
    w_vfs.szOsFile = (int)(HEAD + (size_t)real_vfs->szOsFile);
    w_vfs.mxPathname = real_vfs->mxPathname;
    return sqlite3_vfs_register(&w_vfs, 0) == SQLITE_OK ? 0 : -1;
}

int pkg_vfs_flush(sqlite3 *db)
{
    return sqlite3_file_control(db, "main", PKG_VFS_FCNTL_FLUSH, NULL) == SQLITE_OK ? 0 : -1;
}

int pkg_vfs_watch(sqlite3 *db, void (*hook)(void *ctx, uint64_t off, uint64_t len), void *ctx)
{
    struct pkg_vfs_watch w = {hook, ctx};
    return sqlite3_file_control(db, "main", PKG_VFS_FCNTL_WATCH, &w) == SQLITE_OK ? 0 : -1;
}

/* pdeflate.c - a file deflated on every core, as a libzip source. */
#include "mdeck/pdeflate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "mdeck/par.h"
#include "mdeck/util.h"

#define WINDOW 32768     /* deflate's window: the dictionary of a piece */
#define WAVE 8           /* pieces deflated together, then read by libzip */

struct piece {
    unsigned char *out;
    size_t len;
    uLong crc;   /* CRC-32 of the piece's input */
    size_t in;   /* input bytes */
    int err;     /* errno-style failure, 0 when fine */
};

struct pdeflate {
    int fd;
    uint64_t size;
    int level;
    size_t workers;
    uint64_t next;     /* input offset of the next wave's first piece */
    struct piece wave[WAVE];
    size_t npieces;    /* pieces of the current wave */
    size_t cur, pos;   /* piece being read and the position in it */
    uLong crc;         /* of every piece made so far */
    int done;          /* the last piece is made: crc is the file's */
    zip_error_t error;
};

static int read_at(int fd, unsigned char *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t got = pread(fd, p, n, (off_t)off);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return got < 0 ? errno : EIO; /* the file shrank */
        p += got;
        n -= (size_t)got;
        off += (uint64_t)got;
    }
    return 0;
}

/* Deflates pieces [begin, end) of the current wave. */
static void deflate_pieces(void *arg, size_t w, size_t begin, size_t end)
{
    (void)w;
    struct pdeflate *z = arg;
    for (size_t i = begin; i < end; i++) {
        struct piece *pc = &z->wave[i];
        uint64_t off = z->next + (uint64_t)i * PDEFLATE_PIECE;
        size_t dict = off < WINDOW ? (size_t)off : WINDOW;
        unsigned char *in = xmalloc(dict + pc->in + 1);
        pc->err = read_at(z->fd, in, dict + pc->in, off - dict);
        int last = off + pc->in == z->size;
        z_stream s;
        memset(&s, 0, sizeof s);
        if (!pc->err && deflateInit2(&s, z->level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            pc->err = ENOMEM;
        else if (!pc->err) {
            if (dict) deflateSetDictionary(&s, in, (uInt)dict);
            /* The bound covers the final block; a sync flush adds at most
             * an empty stored block (5 bytes) and the alignment. */
            size_t cap = deflateBound(&s, (uLong)pc->in) + 16;
            pc->out = xmalloc(cap);
            s.next_in = in + dict;
            s.avail_in = (uInt)pc->in;
            s.next_out = pc->out;
            s.avail_out = (uInt)cap;
            int rc = deflate(&s, last ? Z_FINISH : Z_SYNC_FLUSH);
            if (last ? rc != Z_STREAM_END : (rc != Z_OK || s.avail_in != 0)) pc->err = EIO;
            pc->len = cap - s.avail_out;
            deflateEnd(&s);
            pc->crc = crc32(0L, in + dict, (uInt)pc->in);
        }
        free(in);
    }
}

static void free_wave(struct pdeflate *z)
{
    for (size_t i = 0; i < z->npieces; i++) free(z->wave[i].out);
    memset(z->wave, 0, sizeof z->wave);
    z->npieces = z->cur = z->pos = 0;
}

/* Makes the next wave of pieces: 0, or -1 with z->error set. */
static int next_wave(struct pdeflate *z)
{
    free_wave(z);
    uint64_t off = z->next;
    do {
        uint64_t left = z->size - off;
        z->wave[z->npieces].in = left < PDEFLATE_PIECE ? (size_t)left : PDEFLATE_PIECE;
        off += z->wave[z->npieces].in;
        z->npieces++;
    } while (z->npieces < WAVE && off < z->size);
    par_run(z->npieces, 1, z->workers < z->npieces ? z->workers : z->npieces, deflate_pieces,
            z);
    for (size_t i = 0; i < z->npieces; i++) {
        if (z->wave[i].err) {
            zip_error_set(&z->error, ZIP_ER_READ, z->wave[i].err);
            return -1;
        }
        z->crc = crc32_combine(z->crc, z->wave[i].crc, (z_off_t)z->wave[i].in);
    }
    z->next = off;
    z->done = off == z->size;
    return 0;
}

static zip_int64_t callback(void *state, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
    struct pdeflate *z = state;
    switch (cmd) {
    case ZIP_SOURCE_OPEN:
        free_wave(z);
        z->next = 0;
        z->done = 0;
        z->crc = crc32(0L, Z_NULL, 0);
        return next_wave(z);
    case ZIP_SOURCE_READ: {
        zip_uint64_t n = 0;
        unsigned char *out = data;
        while (n < len) {
            if (z->cur == z->npieces) {
                if (z->done) break;
                if (next_wave(z) < 0) return -1;
            }
            struct piece *pc = &z->wave[z->cur];
            size_t take = pc->len - z->pos;
            if (take > len - n) take = (size_t)(len - n);
            memcpy(out + n, pc->out + z->pos, take);
            n += take;
            z->pos += take;
            if (z->pos == pc->len) {
                z->cur++;
                z->pos = 0;
            }
        }
        return (zip_int64_t)n;
    }
    case ZIP_SOURCE_CLOSE:
        free_wave(z);
        return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = ZIP_SOURCE_GET_ARGS(zip_stat_t, data, len, &z->error);
        if (!st) return -1;
        zip_stat_init(st);
        st->valid = ZIP_STAT_SIZE | ZIP_STAT_COMP_METHOD;
        st->size = z->size;
        st->comp_method = ZIP_CM_DEFLATE;
        if (z->done && z->cur == z->npieces) {
            st->valid |= ZIP_STAT_CRC;
            st->crc = (zip_uint32_t)z->crc;
        }
        return sizeof *st;
    }
    case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&z->error, data, len);
    case ZIP_SOURCE_FREE:
        free_wave(z);
        close(z->fd);
        zip_error_fini(&z->error);
        free(z);
        return 0;
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
                                              ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE,
                                              -1);
    default:
        zip_error_set(&z->error, ZIP_ER_OPNOTSUPP, 0);
        return -1;
    }
}

zip_source_t *pdeflate_source(zip_t *za, const char *path, int level)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) return NULL;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    struct pdeflate *z = xcalloc(1, sizeof *z);
    z->fd = fd;
    z->size = (uint64_t)st.st_size;
    z->level = level;
    z->workers = par_workers(WAVE, 1);
    zip_error_init(&z->error);
    zip_source_t *src = zip_source_function(za, callback, z);
    if (!src) {
        close(fd);
        zip_error_fini(&z->error);
        free(z);
    }
    return src;
}

/* util.h - growable byte buffers, checked allocation and small helpers.
 *
 * Every piece of string building in mdeck goes through struct buf; nobody
 * hand-rolls realloc loops.  A buf is always NUL-terminated, so buf.s can be
 * passed to C string functions when the content holds no NUL bytes. */
#ifndef MDECK_UTIL_H
#define MDECK_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define MDECK_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MDECK_PRINTF(f, a)
#endif

/* Allocation that never returns NULL: on exhaustion it reports and aborts.
 * mdeck treats out-of-memory as unrecoverable, like git does. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
/* Like xcalloc(), but zeroed by writing every byte: for hash tables, which
 * read their slots before writing them.  A large calloc() is fresh mmapped
 * memory whose pages, read first, map the shared zero page; each first
 * write then copies it and flushes the TLB of every CPU running another of
 * our threads (at 100k notes that was ~9% of a two-thread build's CPU). */
void *xzeroed(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) MDECK_PRINTF(1, 2);

/* Grow a dynamic array: ensures *cap >= need, reallocating *arr. */
#define GROW(arr, need, cap)                                                   \
    do {                                                                       \
        if ((need) > (cap)) {                                                  \
            size_t grow_new_ = (cap) ? (cap) * 2 : 8;                          \
            while (grow_new_ < (need)) grow_new_ *= 2;                         \
            (arr) = xrealloc((arr), grow_new_ * sizeof(*(arr)));               \
            (cap) = grow_new_;                                                 \
        }                                                                      \
    } while (0)

/* Gives back the part of arr beyond its n items, which doubling (GROW)
 * leaves up to half of; arr may move. */
#define SHRINK(arr, n, cap)                                                    \
    do {                                                                       \
        if ((n) && (n) < (cap)) {                                              \
            (arr) = xrealloc((arr), (n) * sizeof(*(arr)));                     \
            (cap) = (n);                                                       \
        }                                                                      \
    } while (0)

struct buf {
    char *s;    /* always NUL-terminated; points at a static "" when empty */
    size_t len;
    size_t cap;
};

#define BUF_INIT {buf_empty_, 0, 0}
extern char buf_empty_[1];

void buf_init(struct buf *b);
void buf_grow(struct buf *b, size_t extra);
/* Appends n bytes.  Inline, as buf_adds(): the renderer and the writers
 * append short runs and tags all the time, and the length of a literal is
 * then known when compiling. */
static inline void buf_add(struct buf *b, const void *data, size_t n)
{
    if (!n) return;
    if (n >= b->cap - b->len) buf_grow(b, n); /* most calls fit: no call */
    memcpy(b->s + b->len, data, n);
    b->len += n;
    b->s[b->len] = '\0';
}
static inline void buf_adds(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }
/* One byte.  Inline: the writers call it once per character of every field,
 * and a call through buf_add() cost ~10% of a build. */
static inline void buf_addc(struct buf *b, char c)
{
    if (b->len + 1 >= b->cap) buf_grow(b, 1);
    b->s[b->len++] = c;
    b->s[b->len] = '\0';
}
void buf_addf(struct buf *b, const char *fmt, ...) MDECK_PRINTF(2, 3);
void buf_vaddf(struct buf *b, const char *fmt, va_list ap);
void buf_reset(struct buf *b);
void buf_setlen(struct buf *b, size_t len);
/* Takes the string out of the buffer (caller frees); the buffer is reset. */
char *buf_detach(struct buf *b);
void buf_release(struct buf *b);
/* Trims ASCII and Unicode (U+3000, U+00A0) white space at both ends. */
void buf_trim(struct buf *b);

/* Reads a whole file.  Returns 0, or -1 with errno set (EINVAL: not a
 * regular file; FIFOs and devices are refused, never waited on). */
int read_file(const char *path, struct buf *out);
/* The same, with room for pad more bytes after the text (no reallocation
 * when the caller adds them). */
int read_file_pad(const char *path, struct buf *out, size_t pad);
/* What a read_file() failure with errno e means, for messages. */
const char *read_file_error(int e);
/* 0 when path exists and, symbolic links resolved, lies outside dir (also
 * resolved): a deck's own files must not lead out of it.  1 otherwise. */
int path_stays_in(const char *path, const char *dir);

/* Where a writer's bytes go: b collects them; when flush is set, the
 * writer calls sink_step() between records and flush takes b's bytes away
 * (to a file) once there are SINK_CHUNK of them, so that a large output is
 * never held whole.  With flush NULL everything stays in b. */
struct sink {
    struct buf b;
    void (*flush)(struct sink *k);
    void *arg;
    /* Bytes flush has taken away so far, so that flushed + b.len is the
     * offset of the current position in the output.  Kept by the writers
     * that report offsets (textout.h), not by flush. */
    size_t flushed;
};
#define SINK_CHUNK ((size_t)1 << 20)
static inline void sink_step(struct sink *k)
{
    if (k->flush && k->b.len >= SINK_CHUNK) k->flush(k);
}

/* HTML escaping of text (&, <, >, ") appended to b. */
void buf_add_html_escaped(struct buf *b, const char *s, size_t n);
/* The same, with '"' escaped only when quotes is set (element text needs
 * only &, < and >). */
void buf_add_escaped(struct buf *b, const char *s, size_t n, int quotes);

/* Sixteen bytes as one value (GCC's vector extension: SSE2 on x86-64,
 * plain code where there is no such unit), for the scans that see every
 * byte of every answer and output. */
typedef unsigned char v16 __attribute__((vector_size(16)));

/* 1 when any lane of m (each 0 or all ones) is set. */
static inline int v16_any(v16 m)
{
    uint64_t h[2];
    memcpy(h, &m, sizeof h);
    return (h[0] | h[1]) != 0;
}

/* The first lane of m (each lane 0 or all ones) that is set; 16 when none. */
static inline size_t v16_first(v16 m)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t h[2];
    memcpy(h, &m, sizeof h);
    if (h[0]) return (size_t)__builtin_ctzll(h[0]) >> 3;
    if (h[1]) return 8 + ((size_t)__builtin_ctzll(h[1]) >> 3);
    return 16;
#else
    for (size_t k = 0; k < 16; k++)
        if (m[k]) return k;
    return 16;
#endif
}

/* The sixteen bytes at s. */
static inline v16 v16_load(const char *s)
{
    v16 v;
    memcpy(&v, s, sizeof v);
    return v;
}

/* The r (< 16) bytes at s followed by zeros: a scan's last few bytes take
 * one vector step, not a byte loop.  A scan that flags zero bytes flags
 * lane r first among the padding, which is the answer "not found" (n). */
static inline v16 v16_load_tail(const char *s, size_t r)
{
    v16 v = {0};
    memcpy(&v, s, r);
    return v;
}

/* The offset of the first byte of s[0..n) that is one of the nset (1 to 4)
 * bytes of set, or n: sixteen bytes at a time, for the writers' scans. */
size_t mem_find_any(const char *s, size_t n, const char *set, size_t nset);

/* Sorts the n elements of size bytes at v by the int64_t at byte offset
 * key in each, ascending (negative keys first) and stable: a radix sort, 11
 * bits a pass, the passes whose digit every key shares skipped.  For the
 * package's rows (ids of ~40 bits: four passes), where qsort's comparisons
 * took 60 ms of the package's critical path at 100k. */
void sort_by_i64(void *v, size_t n, size_t size, size_t key);

/* Current wall clock, seconds and milliseconds. Honours MDECK_NOW (seconds)
 * so that tests can move time forward deterministically. */
int64_t now_seconds(void);
int64_t now_millis(void);

/* Stage timings for profiling a build: when MDECK_PROFILE is set in the
 * environment, prints "mdeck: profile: STAGE N ms" to stderr, N being the
 * time since the previous mark on the same thread (or since the first mark
 * of the process).  Otherwise a call costs a flag test. */
void prof_mark(const char *stage);

/* A new, empty file of mdeck's in $TMPDIR (default /tmp): its descriptor
 * (open for reading and writing) and *name, which the caller frees; -1
 * with errno set when it cannot be made. */
int tmpdir_file(char **name);
/* A file in $TMPDIR with no name (O_TMPFILE; else made and unlinked at
 * once): it goes away with its last descriptor, whatever happens to the
 * process.  -1 with errno set when it cannot be made. */
int tmpdir_anon_file(void);

/* Writes all len bytes (write(2) again after a short write or EINTR): 0,
 * or -1 with errno set. */
int write_all(int fd, const void *data, size_t len);
/* The same at offset off (pwrite(2); the file position does not move), or
 * at the file position when off < 0. */
int write_all_at(int fd, const void *data, size_t len, long long off);
/* Copies n bytes of in from offset off (n < 0: to its end) to out's
 * position, through a buffer: 0, or -1 with errno set (EIO when in ends
 * before n bytes). */
int copy_range(int in, long long off, long long n, int out);
/* The same for a file a long-running process keeps (a watcher's kept
 * collection).  Both names carry the pid, so that tmpdir_clean_stale()
 * removes them once that process is gone (killed, crashed). */
int tmpdir_keep_file(char **name);
void tmpdir_clean_stale(void);

int str_starts_with(const char *s, const char *prefix);
int str_ends_with(const char *s, const char *suffix);

/* A string -> size_t hash map (open addressing); keys are borrowed, not
 * copied: they must outlive the map.  Each slot keeps (32 bits of) its
 * key's hash, so a probe compares strings only when the hashes agree, and
 * growing never hashes a key again.  Values are kept in 32 bits too, which
 * makes a slot 16 bytes instead of 24 (a 100,000-key map: 4 MB, not 6):
 * they are indexes, below 2^32 - 1, or (size_t)-1. */
struct strmap_entry {
    const char *key; /* NULL: free */
    uint32_t val;    /* UINT32_MAX: (size_t)-1 */
    uint32_t hash;
};
struct strmap {
    struct strmap_entry *v;
    size_t n, cap;
};
void strmap_init(struct strmap *m);
void strmap_free(struct strmap *m);
/* Returns 1 and *val when key is present. */
int strmap_get(const struct strmap *m, const char *key, size_t *val);
/* Sets key to val (replacing). */
void strmap_put(struct strmap *m, const char *key, size_t val);
/* Makes room for n keys in all, so that a map whose size is known is made
 * once instead of doubled into (and copied) several times. */
void strmap_reserve(struct strmap *m, size_t n);

#endif

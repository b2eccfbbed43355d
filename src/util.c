/* util.c - checked allocation, struct buf, file reading. */
#include "mdeck/util.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char buf_empty_[1];

static void oom(size_t n)
{
    fprintf(stderr, "mdeck: out of memory (allocating %zu bytes)\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *xzeroed(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) oom(SIZE_MAX);
    size_t len = (n ? n : 1) * (size ? size : 1);
    void *p = xmalloc(len);
    memset(p, 0, len);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    if (n) memcpy(p, s, n); /* s may be NULL when n is 0 */
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&b, fmt, ap);
    va_end(ap);
    return buf_detach(&b);
}

void buf_init(struct buf *b)
{
    b->s = buf_empty_;
    b->len = b->cap = 0;
}

void buf_grow(struct buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *s = b->cap ? b->s : NULL;
    s = xrealloc(s, cap);
    if (!b->cap) s[0] = '\0';
    b->s = s;
    b->cap = cap;
}

void buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, cp);
    va_end(cp);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        buf_add(b, small, (size_t)n);
        return;
    }
    buf_grow(b, (size_t)n);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void buf_addf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(b, fmt, ap);
    va_end(ap);
}

void buf_reset(struct buf *b) { buf_setlen(b, 0); }

void buf_setlen(struct buf *b, size_t len)
{
    if (!b->cap) return;
    if (len > b->len) len = b->len;
    b->len = len;
    b->s[len] = '\0';
}

char *buf_detach(struct buf *b)
{
    char *s = b->cap ? b->s : xstrdup("");
    buf_init(b);
    return s;
}

void buf_release(struct buf *b)
{
    if (b->cap) free(b->s);
    buf_init(b);
}

/* Length of white space (ASCII, U+00A0, U+3000) ending at s[len]. */
static size_t trailing_space(const char *s, size_t len)
{
    size_t n = 0;
    for (;;) {
        size_t l = len - n;
        if (l >= 1 && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\n' ||
                       s[l - 1] == '\r'))
            n += 1;
        else if (l >= 3 && !memcmp(s + l - 3, "\xe3\x80\x80", 3))
            n += 3;
        else if (l >= 2 && !memcmp(s + l - 2, "\xc2\xa0", 2))
            n += 2;
        else
            return n;
    }
}

void buf_trim(struct buf *b)
{
    if (!b->len) return;
    b->len -= trailing_space(b->s, b->len);
    b->s[b->len] = '\0';
    size_t i = 0;
    for (;;) {
        if (i < b->len && strchr(" \t\r\n", b->s[i]) && b->s[i])
            i += 1;
        else if (i + 3 <= b->len && !memcmp(b->s + i, "\xe3\x80\x80", 3))
            i += 3;
        else if (i + 2 <= b->len && !memcmp(b->s + i, "\xc2\xa0", 2))
            i += 2;
        else
            break;
    }
    memmove(b->s, b->s + i, b->len - i + 1);
    b->len -= i;
}

int read_file(const char *path, struct buf *out) { return read_file_pad(path, out, 0); }

int read_file_pad(const char *path, struct buf *out, size_t pad)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) < 0) goto fail;
    if (!S_ISREG(st.st_mode)) {
        /* FIFOs and devices would block or never end: not sources. */
        errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        goto fail;
    }
    /* Room for exactly the size stat gives (a doubling buffer made every
     * answer file cost up to three times its size for the whole read
     * stage); it grows only if the file grows while it is read. */
    if (st.st_size > 0 && out->len + (size_t)st.st_size + 1 + pad > out->cap) {
        size_t cap = out->len + (size_t)st.st_size + 1 + pad;
        char *s = xrealloc(out->cap ? out->s : NULL, cap);
        if (!out->cap) s[0] = '\0';
        out->s = s;
        out->cap = cap;
    }
    for (;;) {
        /* When the buffer is full, a small read tells EOF from growth
         * without making the buffer bigger for nothing. */
        char probe[512];
        int full = out->cap == 0 || out->cap - out->len - 1 == 0;
        ssize_t n = full ? read(fd, probe, sizeof probe)
                         : read(fd, out->s + out->len, out->cap - out->len - 1);
        if (n < 0) {
            if (errno == EINTR) continue;
            goto fail;
        }
        if (n == 0) break;
        if (full) {
            buf_add(out, probe, (size_t)n);
            buf_grow(out, 65536);
        } else {
            out->len += (size_t)n;
        }
    }
    if (out->cap) out->s[out->len] = '\0'; /* else it is the shared "" */
    close(fd);
    return 0;
fail:;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

int path_stays_in(const char *path, const char *dir)
{
    char *p = realpath(path, NULL);
    if (!p) return 1; /* nothing there (or a loop): reading it fails anyway */
    char *root = realpath(dir, NULL);
    size_t n = root ? strlen(root) : 0;
    int in = root && !strncmp(p, root, n) && (p[n] == '/' || !p[n] || (n == 1 && root[0] == '/'));
    free(p);
    free(root);
    return in;
}

const char *read_file_error(int e)
{
    return e == EINVAL ? "not a regular file (a FIFO, device or socket)" : strerror(e);
}

size_t mem_find_any(const char *s, size_t n, const char *set, size_t nset)
{
    if (nset > 4) nset = 4;
    /* the set padded to four with its first byte: the same matches */
    const v16 zero = {0};
    v16 p[4];
    for (size_t k = 0; k < 4; k++) p[k] = zero + (unsigned char)set[k < nset ? k : 0];
    for (size_t i = 0; i < n; i += 16) {
        v16 v = n - i >= 16 ? v16_load(s + i) : v16_load_tail(s + i, n - i);
        v16 m = (v16)(v == p[0]) | (v16)(v == p[1]) | (v16)(v == p[2]) | (v16)(v == p[3]);
        if (v16_any(m)) return i + v16_first(m); /* a padded lane is flagged only at n */
    }
    return n;
}

void buf_add_escaped(struct buf *b, const char *s, size_t n, int quotes)
{
    const char *set = quotes ? "&<>\"" : "&<>";
    size_t start = 0;
    for (;;) {
        size_t i = start + mem_find_any(s + start, n - start, set, quotes ? 4 : 3);
        buf_add(b, s + start, i - start);
        if (i == n) return;
        buf_adds(b, s[i] == '&' ? "&amp;" : s[i] == '<' ? "&lt;" : s[i] == '>' ? "&gt;" : "&quot;");
        start = i + 1;
    }
}

void buf_add_html_escaped(struct buf *b, const char *s, size_t n) { buf_add_escaped(b, s, n, 1); }

#define RADIX_BITS 11
#define RADIX (1u << RADIX_BITS)
#define RADIX_PASSES ((64 + RADIX_BITS - 1) / RADIX_BITS)

/* The int64_t at e + key, its sign bit flipped: unsigned order is then
 * signed order. */
static uint64_t key_at(const char *e, size_t key)
{
    int64_t k;
    memcpy(&k, e + key, sizeof k);
    return (uint64_t)k ^ (uint64_t)1 << 63;
}

void sort_by_i64(void *v, size_t n, size_t size, size_t key)
{
    if (n < 2) return;
    size_t (*count)[RADIX] = xcalloc(RADIX_PASSES, sizeof *count);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = key_at((const char *)v + i * size, key);
        for (int p = 0; p < RADIX_PASSES; p++) count[p][(k >> (p * RADIX_BITS)) & (RADIX - 1)]++;
    }
    char *from = v, *to = xmalloc(n * size);
    for (int p = 0; p < RADIX_PASSES; p++) {
        size_t *c = count[p], at = 0;
        uint64_t first = key_at(from, key) >> (p * RADIX_BITS) & (RADIX - 1);
        if (c[first] == n) continue; /* one digit for all: the order stands */
        for (size_t d = 0; d < RADIX; d++) {
            size_t k = c[d];
            c[d] = at;
            at += k;
        }
        for (size_t i = 0; i < n; i++) {
            const char *e = from + i * size;
            memcpy(to + c[key_at(e, key) >> (p * RADIX_BITS) & (RADIX - 1)]++ * size, e, size);
        }
        char *t = from;
        from = to;
        to = t;
    }
    if (from != v) {
        memcpy(v, from, n * size);
        to = from;
    }
    free(to);
    free(count);
}

int64_t now_seconds(void)
{
    const char *e = getenv("MDECK_NOW");
    if (e && *e) return strtoll(e, NULL, 10);
    return (int64_t)time(NULL);
}

int64_t now_millis(void)
{
    const char *e = getenv("MDECK_NOW");
    if (e && *e) return strtoll(e, NULL, 10) * 1000;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int prof_on;
static struct timespec prof_first;

static void prof_init(void)
{
    /* 2: the heap in use too, which locks and walks every malloc arena
     * (~10 ms a mark at 100k notes, and the other threads wait) */
    const char *e = getenv("MDECK_PROFILE");
    prof_on = !e ? 0 : !strcmp(e, "2") ? 2 : 1;
    clock_gettime(CLOCK_MONOTONIC, &prof_first);
}

void prof_mark(const char *stage)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    static _Thread_local struct timespec last;
    pthread_once(&once, prof_init);
    if (!prof_on) return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!last.tv_sec && !last.tv_nsec) last = prof_first;
    double ms = (double)(now.tv_sec - last.tv_sec) * 1e3 + (double)(now.tv_nsec - last.tv_nsec) / 1e6;
    double at = (double)(now.tv_sec - prof_first.tv_sec) * 1e3 +
                (double)(now.tv_nsec - prof_first.tv_nsec) / 1e6;
    /* memory: resident now and the peak so far (the process's, not the
     * thread's) */
    long size_pages, rss_pages = 0, file_pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld %ld", &size_pages, &rss_pages, &file_pages) != 3)
            rss_pages = file_pages = 0;
        fclose(f);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long page_kb = sysconf(_SC_PAGESIZE) / 1024;
    char heap[96] = "";
    if (prof_on == 2) {
        /* of the resident set: pages of files (the libraries, the spill's
         * mapping) and the heap malloc() has handed out */
        struct mallinfo2 mi = mallinfo2();
        snprintf(heap, sizeof heap, "  (files %ld MB, heap in use %zu MB)",
                 file_pages * page_kb / 1024, (mi.uordblks + mi.hblkhd) >> 20);
    }
    fprintf(stderr, "mdeck: profile: %-22s %8.1f ms  (at %.1f ms)  rss %ld MB, peak %ld MB%s\n",
            stage, ms, at, rss_pages * page_kb / 1024, ru.ru_maxrss / 1024, heap);
    /* the next stage's time starts here, without this mark's own cost */
    clock_gettime(CLOCK_MONOTONIC, &now);
    last = now;
}

int write_all_at(int fd, const void *data, size_t len, long long off)
{
    const char *p = data;
    while (len) {
        ssize_t n = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
        if (off >= 0) off += n;
    }
    return 0;
}

int write_all(int fd, const void *data, size_t len) { return write_all_at(fd, data, len, -1); }

int copy_range(int in, long long off, long long n, int out)
{
    enum { CHUNK = 1 << 20 };
    char *x = xmalloc(CHUNK);
    int rc = 0;
    for (long long done = 0; (n < 0 || done < n) && rc == 0;) {
        size_t want = n < 0 || n - done >= CHUNK ? (size_t)CHUNK : (size_t)(n - done);
        ssize_t got = pread(in, x, want, (off_t)(off + done));
        if (got < 0 && errno == EINTR) continue;
        if (got == 0 && n < 0) break;
        if (got <= 0) {
            if (got == 0) errno = EIO; /* the file shrank under us */
            rc = -1;
        } else {
            rc = write_all(out, x, (size_t)got);
            done += got;
        }
    }
    free(x);
    return rc;
}

/* $TMPDIR/<prefix>-<pid>-XXXXXX, made. */
static int tmpdir_make(const char *prefix, char **name)
{
    const char *dir = getenv("TMPDIR");
    *name = xasprintf("%s/%s-%ld-XXXXXX", dir && *dir ? dir : "/tmp", prefix, (long)getpid());
    int fd = mkstemp(*name);
    if (fd < 0) {
        int e = errno;
        free(*name);
        *name = NULL;
        errno = e;
    }
    return fd;
}

int tmpdir_file(char **name)
{
    return tmpdir_make("mdeck-apkg", name);
}

int tmpdir_anon_file(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) return fd;
    char *name;
    fd = tmpdir_make("mdeck-apkg", &name); /* the file system has no O_TMPFILE */
    if (fd < 0) return -1;
    unlink(name);
    free(name);
    return fd;
}

int tmpdir_keep_file(char **name)
{
    return tmpdir_make("mdeck-keep", name);
}

/* The pid in "<prefix>-<pid>-XXXXXX" when name is one of ours, else 0. */
static long tmpdir_pid(const char *name)
{
    static const char *const prefixes[] = {"mdeck-apkg-", "mdeck-keep-"};
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(name, prefixes[i], n)) continue;
        char *end;
        long pid = strtol(name + n, &end, 10);
        return end > name + n && *end == '-' && pid > 0 ? pid : 0;
    }
    return 0;
}

void tmpdir_clean_stale(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *e;
    while ((e = readdir(dp))) {
        long pid = tmpdir_pid(e->d_name);
        if (!pid || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno == EPERM)
            continue;
        char *p = xasprintf("%s/%s", dir, e->d_name);
        unlink(p);
        free(p);
    }
    closedir(dp);
}

int str_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int str_ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return h;
}

void strmap_init(struct strmap *m) { memset(m, 0, sizeof *m); }

void strmap_free(struct strmap *m)
{
    free(m->v);
    strmap_init(m);
}

/* The slot holding key (hash h), or the free slot where it would go. */
static size_t strmap_slot(const struct strmap *m, const char *key, uint32_t h)
{
    size_t i = h & (m->cap - 1);
    while (m->v[i].key && (m->v[i].hash != h || strcmp(m->v[i].key, key)))
        i = (i + 1) & (m->cap - 1);
    return i;
}

int strmap_get(const struct strmap *m, const char *key, size_t *val)
{
    if (!m->cap) return 0;
    size_t i = strmap_slot(m, key, (uint32_t)fnv1a(key));
    if (!m->v[i].key) return 0;
    if (val) *val = m->v[i].val == UINT32_MAX ? (size_t)-1 : m->v[i].val;
    return 1;
}

/* Moves the entries into a table of cap slots (a power of two). */
static void strmap_rehash(struct strmap *m, size_t cap)
{
    struct strmap old = *m;
    m->cap = cap;
    m->v = xzeroed(m->cap, sizeof *m->v); /* probed before written */
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.v[i].key) continue;
        size_t j = old.v[i].hash & (m->cap - 1); /* keys are distinct */
        while (m->v[j].key) j = (j + 1) & (m->cap - 1);
        m->v[j] = old.v[i];
    }
    free(old.v);
}

void strmap_reserve(struct strmap *m, size_t n)
{
    size_t cap = m->cap ? m->cap : 64;
    while (n * 2 > cap) cap *= 2;
    if (cap != m->cap) strmap_rehash(m, cap);
}

void strmap_put(struct strmap *m, const char *key, size_t val)
{
    if (val >= UINT32_MAX && val != (size_t)-1) {
        fprintf(stderr, "mdeck: internal error: map value %zu out of range\n", val);
        abort();
    }
    if ((m->n + 1) * 2 > m->cap) strmap_rehash(m, m->cap ? m->cap * 2 : 64);
    uint32_t h = (uint32_t)fnv1a(key);
    size_t i = strmap_slot(m, key, h);
    if (!m->v[i].key) {
        m->v[i] = (struct strmap_entry){key, 0, h};
        m->n++;
    }
    m->v[i].val = val == (size_t)-1 ? UINT32_MAX : (uint32_t)val;
}

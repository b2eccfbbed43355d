/* test_deck.c - the deck model's plumbing: arena alignment, media
 * registration and its merge from workers, par_run's chunks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>
#include <sys/wait.h>

#include "mdeck/arena.h"
#include "mdeck/deck.h"
#include "mdeck/par.h"
#include "mdeck/text.h"
#include "mdeck/util.h"
#include "scratch.h"

static int aligned(const void *p)
{
    size_t a = _Alignof(max_align_t) > 16 ? _Alignof(max_align_t) : 16;
    return (uintptr_t)p % a == 0;
}

/* Strings are packed byte after byte; every arena_alloc() block after them
 * must still start aligned for any type (pointers, sizes, structs are kept
 * in them), also in a chunk of its own and after arena_adopt(). */
static void test_arena_blocks_stay_aligned_after_packed_strings(void **state)
{
    struct arena a, b;
    arena_init(&a);
    arena_init(&b);
    char *s[600];
    for (size_t i = 0; i < ARRAY_LEN(s); i++) {
        char text[32];
        snprintf(text, sizeof text, "s%zu", i * 7919); /* odd lengths */
        s[i] = arena_strdup(i % 3 ? &a : &b, text);
        /* now and then a block past half a chunk: a chunk of its own */
        size_t n = i % 50 == 49 ? (2u << 20) / sizeof(long double) + 1 : i % 41;
        long double *v = arena_alloc(&a, n * sizeof *v);
        assert_true(aligned(v));
        for (size_t k = 0; k < n; k++) assert_true(v[k] == 0); /* zeroed */
        if (n) v[n - 1] = (long double)i;
        if (i == 300) arena_adopt(&a, &b);
    }
    for (size_t i = 0; i < ARRAY_LEN(s); i++) {
        char text[32];
        snprintf(text, sizeof text, "s%zu", i * 7919);
        assert_string_equal(s[i], text); /* no later block overwrote a string */
    }
    /* packed: consecutive strings are adjacent */
    struct arena c;
    arena_init(&c);
    char *x = arena_strdup(&c, "abc"), *y = arena_strdup(&c, "de");
    assert_ptr_equal(y, x + 4);
    assert_true(aligned(arena_alloc(&c, 1)));
    assert_null(arena_strdup(&c, NULL));
    arena_free(&a);
    arena_free(&b);
    arena_free(&c);
}

static char *write_file(const char *name, const char *content)
{
    char *path = xasprintf("%s/%s", scratch_dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    return path;
}

/* Identical content is one entry, listed at its first use with its first
 * path; the name is the content hash plus the lower-cased extension; a path
 * is read once, however often it is shown. */
static void test_media_are_listed_once_in_first_use_order(void **state)
{
    char *a = write_file("a.png", "AAAA"), *b = write_file("b.jpg", "BBBB");
    char *a2 = write_file("A2.PNG", "AAAA"), *e = write_file("empty.png", "");
    struct deck d;
    deck_init(&d, scratch_dir);
    const char *na = deck_add_media(&d, a);
    assert_non_null(na);
    assert_int_equal(strlen(na), strlen("mdeck-") + 20 + strlen(".png"));
    assert_true(str_starts_with(na, "mdeck-") && str_ends_with(na, ".png"));
    const char *nb = deck_add_media(&d, b);
    assert_ptr_equal(deck_add_media(&d, a2), na); /* same content and extension */
    assert_ptr_equal(deck_add_media(&d, a), na);
    free(write_file("a.png", "ZZZZ")); /* a file is read once a build */
    assert_ptr_equal(deck_add_media(&d, a), na);
    assert_null(deck_add_media(&d, e));
    assert_int_equal(d.nmedia, 2);
    assert_string_equal(d.media[0].path, a);
    assert_int_equal(d.media[0].size, 4);
    assert_ptr_equal(d.media[1].name, nb);

    /* A worker's shadow lists what its notes use; merged in order, what the
     * deck already has is skipped and the rest keeps its order. */
    char *c = write_file("c.gif", "CCCC");
    struct deck w;
    deck_init(&w, scratch_dir);
    const char *wc = deck_add_media(&w, c);
    deck_add_media(&w, a2);
    deck_add_media(&w, b);
    for (size_t i = 0; i < w.nmedia; i++) deck_merge_media(&d, &w.media[i]);
    assert_int_equal(d.nmedia, 3);
    assert_ptr_equal(d.media[0].name, na);
    assert_string_equal(d.media[0].path, a); /* not a2: the first path stays */
    assert_ptr_equal(d.media[2].name, wc);
    assert_ptr_equal(deck_add_media(&d, c), wc);
    arena_adopt(&d.arena, &w.arena);
    deck_free(&w);
    deck_free(&d);
    free(a);
    free(b);
    free(a2);
    free(e);
    free(c);
}

/* Many images: one map lookup each (this was a scan of every image already
 * registered: 100,000 images took a minute). */
static void test_many_media(void **state)
{
    struct deck d;
    deck_init(&d, scratch_dir);
    char *path[3000];
    for (size_t i = 0; i < ARRAY_LEN(path); i++) {
        char name[32], content[32];
        snprintf(name, sizeof name, "%zu.png", i);
        snprintf(content, sizeof content, "image %zu", i % 2000);
        path[i] = write_file(name, content);
    }
    for (size_t i = 0; i < ARRAY_LEN(path); i++) assert_non_null(deck_add_media(&d, path[i]));
    assert_int_equal(d.nmedia, 2000);
    for (size_t i = 0; i < 2000; i++) assert_string_equal(d.media[i].path, path[i]);
    for (size_t i = 0; i < ARRAY_LEN(path); i++) free(path[i]);
    deck_free(&d);
}

struct visits {
    unsigned char seen[1000];
    size_t last[PAR_MAX_WORKERS];    /* the last chunk each worker began, + 1 */
    int in_order[PAR_MAX_WORKERS];
    struct arena arena[PAR_MAX_WORKERS];
    int misaligned;
};

static void visit(void *arg, size_t w, size_t begin, size_t end)
{
    struct visits *v = arg;
    if (begin + 1 <= v->last[w]) v->in_order[w] = 0;
    v->last[w] = begin + 1;
    for (size_t i = begin; i < end; i++) {
        v->seen[i]++;
        arena_strdup(&v->arena[w], "x"); /* packs a byte and a NUL */
        if (!aligned(arena_alloc(&v->arena[w], sizeof(size_t)))) v->misaligned = 1;
    }
}

/* Every item is visited once whatever the chunk and worker count; each
 * worker takes its chunks in increasing order. */
static void test_par_run_visits_every_item_once(void **state)
{
    static const size_t chunks[] = {1, 7, 64, 999, 1000, 5000, 0};
    for (size_t workers = 1; workers <= PAR_MAX_WORKERS + 1; workers += 3)
        for (size_t k = 0; k < ARRAY_LEN(chunks); k++) {
            struct visits v;
            memset(&v, 0, sizeof v);
            for (size_t w = 0; w < PAR_MAX_WORKERS; w++) {
                v.in_order[w] = 1;
                arena_init(&v.arena[w]);
            }
            par_run(ARRAY_LEN(v.seen), chunks[k], workers, visit, &v);
            for (size_t i = 0; i < ARRAY_LEN(v.seen); i++) assert_int_equal(v.seen[i], 1);
            for (size_t w = 0; w < PAR_MAX_WORKERS; w++) {
                assert_true(v.in_order[w]);
                arena_free(&v.arena[w]);
            }
            assert_false(v.misaligned);
        }
    par_run(0, 8, 2, visit, NULL); /* nothing to do: fn is never called */
}

/* read_file gives every byte of files of any size, in a buffer no bigger
 * than the file (+ NUL), and also reads files whose stat size is 0 but
 * that have content (/proc). */
static void test_read_file_sizes(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 511, 512, 513, 65536, 100001};
    for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
        char *path = xasprintf("%s/f%zu", scratch_dir, i);
        char *data = xmalloc(sizes[i] + 1);
        for (size_t k = 0; k < sizes[i]; k++) data[k] = (char)('a' + k % 23);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, sizes[i], f), sizes[i]);
        fclose(f);
        struct buf b = BUF_INIT;
        assert_int_equal(read_file(path, &b), 0);
        assert_int_equal(b.len, sizes[i]);
        if (sizes[i]) assert_memory_equal(b.s, data, sizes[i]);
        assert_int_equal(b.s[b.len], '\0');
        if (sizes[i]) assert_int_equal(b.cap, sizes[i] + 1);
        buf_release(&b);
        free(data);
        free(path);
    }
    struct buf p = BUF_INIT;
    assert_int_equal(read_file("/proc/self/status", &p), 0);
    assert_true(p.len > 0);
    assert_non_null(strstr(p.s, "Pid:"));
    assert_int_equal(strlen(p.s), p.len);
    buf_release(&p);
}

/* The word-at-a-time scan for the bytes the writers drop gives what a byte
 * loop gives: every byte value, at every offset of strings of 0 to 24
 * bytes, with and without DEL, among neighbours that are high bytes (UTF-8),
 * tabs and line feeds. */
static void test_clean_span(void **state)
{
    static const unsigned char fill[] = {'a', 0x80, 0xff, '\t', '\n', 0x7e, 0x20};
    char s[32];
    for (size_t n = 0; n <= 24; n++)
        for (size_t at = 0; at < n || (n == 0 && at == 0); at++)
            for (int c = 0; c < 256; c++)
                for (int del = 0; del < 2; del++) {
                    for (size_t k = 0; k < n; k++) s[k] = (char)fill[(k + (size_t)c) % sizeof fill];
                    if (n) s[at] = (char)c;
                    size_t want = n;
                    for (size_t k = 0; k < n && want == n; k++) {
                        unsigned char b = (unsigned char)s[k];
                        if ((b < 0x20 && b != '\t' && b != '\n') || (del && b == 0x7f)) want = k;
                    }
                    assert_int_equal(text_clean_span(s, n, del), want);
                }
    struct buf b = BUF_INIT;
    text_add_clean(&b, "\x01" "a\tb\x7f" "c\r\nd\x1f", 10, 1);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.s, "a\tbc\nd", 6);
    buf_reset(&b);
    text_add_clean(&b, "x\x7fy", 3, 0);
    assert_memory_equal(b.s, "x\x7fy", 3);
    buf_release(&b);
}

/* The hash map through many growths: every key found with its last value,
 * absent keys (also prefixes and extensions of present ones) not found. */
static void test_strmap(void **state)
{
    enum { N = 20000 };
    static char keys[N][16];
    struct strmap m;
    strmap_init(&m);
    size_t v = 0;
    assert_int_equal(strmap_get(&m, "k1", &v), 0);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        strmap_put(&m, keys[i], (size_t)i);
    }
    for (int i = 0; i < N; i += 3) strmap_put(&m, keys[i], (size_t)i + N); /* replaced */
    assert_int_equal(m.n, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(strmap_get(&m, keys[i], &v), 1);
        assert_int_equal(v, (size_t)(i % 3 ? i : i + N));
        char other[24];
        snprintf(other, sizeof other, "k%dx", i);
        assert_int_equal(strmap_get(&m, other, NULL), 0);
    }
    assert_int_equal(strmap_get(&m, "k", NULL), 0);
    assert_int_equal(strmap_get(&m, "", NULL), 0);
    /* values are kept in 32 bits: (size_t)-1 and the largest index come
     * back as they went in */
    strmap_put(&m, keys[1], (size_t)-1);
    strmap_put(&m, keys[2], (size_t)UINT32_MAX - 1);
    assert_int_equal(strmap_get(&m, keys[1], &v), 1);
    assert_true(v == (size_t)-1);
    assert_int_equal(strmap_get(&m, keys[2], &v), 1);
    assert_true(v == (size_t)UINT32_MAX - 1);
    strmap_free(&m);
    assert_int_equal(strmap_get(&m, "k1", NULL), 0);
    /* a map made at its size: no growth while it is filled, the same
     * contents; reserving less than it holds changes nothing */
    strmap_reserve(&m, N);
    size_t cap = m.cap;
    assert_true(cap >= 2 * N);
    for (int i = 0; i < N; i++) strmap_put(&m, keys[i], (size_t)i);
    assert_int_equal(m.cap, cap);
    strmap_reserve(&m, 10);
    assert_int_equal(m.cap, cap);
    for (int i = 0; i < N; i++) {
        assert_int_equal(strmap_get(&m, keys[i], &v), 1);
        assert_int_equal(v, (size_t)i);
    }
    /* growing a full map keeps every entry */
    strmap_reserve(&m, 4 * N);
    assert_true(m.cap > cap);
    for (int i = 0; i < N; i++) {
        assert_int_equal(strmap_get(&m, keys[i], &v), 1);
        assert_int_equal(v, (size_t)i);
    }
    assert_int_equal(m.n, N);
    strmap_free(&m);
}

/* mem_find_any() and utf8_count() against byte loops: every byte value at
 * every offset of strings of 0 to 24 bytes among neighbours that are
 * ASCII, UTF-8 lead and continuation bytes, for sets of one to four bytes
 * (the writers' sets among them); and buf_add_escaped() on each. */
static void test_word_scans(void **state)
{
    static const unsigned char fill[] = {'a', 0xc3, 0xa9, '&', 0xe4, 0x80, '@', 0};
    static const char *const sets[] = {"&", "\t@", "&<>", "&<>\"", "\0a", "\x80\xff"};
    static const size_t nsets[] = {1, 2, 3, 4, 2, 2};
    char s[32];
    struct buf b = BUF_INIT;
    for (size_t n = 0; n <= 24; n++)
        for (size_t at = 0; at < n || (n == 0 && at == 0); at++)
            for (int c = 0; c < 256; c++) {
                for (size_t k = 0; k < n; k++) s[k] = (char)fill[(k * 3 + (size_t)c) % sizeof fill];
                if (n) s[at] = (char)c;
                for (size_t t = 0; t < ARRAY_LEN(sets); t++) {
                    size_t want = n;
                    for (size_t k = 0; k < n && want == n; k++)
                        if (memchr(sets[t], s[k], nsets[t])) want = k;
                    assert_int_equal(mem_find_any(s, n, sets[t], nsets[t]), want);
                }
                size_t chars = 0;
                for (size_t k = 0; k < n; k++) chars += ((unsigned char)s[k] & 0xC0) != 0x80;
                assert_int_equal(utf8_count(s, n), chars);
            }
    buf_add_escaped(&b, "a<b>&\"c\"", 9, 0);
    assert_string_equal(b.s, "a&lt;b&gt;&amp;\"c\"");
    buf_reset(&b);
    buf_add_html_escaped(&b, "a<b>&\"c\"", 9);
    assert_string_equal(b.s, "a&lt;b&gt;&amp;&quot;c&quot;");
    buf_reset(&b);
    buf_add_escaped(&b, "&&&&&&&&&&", 10, 1);
    assert_string_equal(b.s, "&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;");
    buf_release(&b);
}

/* An independent judge of UTF-8: the C library's decoder (C.UTF-8 locale),
 * which refuses overlong forms and surrogates; glibc still decodes values
 * past U+10FFFF (and 5-byte forms), which are refused here, as are NUL
 * bytes, as utf8_check() refuses them. */
static int utf8_check_libc(const unsigned char *s, size_t len, size_t *bad)
{
    mbstate_t st;
    memset(&st, 0, sizeof st);
    for (size_t i = 0; i < len;) {
        wchar_t wc;
        size_t r = s[i] ? mbrtowc(&wc, (const char *)s + i, len - i, &st) : (size_t)-1;
        if (r == (size_t)-1 || r == (size_t)-2 || r == 0 || (unsigned long)wc > 0x10FFFF) {
            *bad = i;
            return -1;
        }
        i += r;
    }
    return 0;
}

/* The same verdict and the same offset of the first bad byte: every byte
 * value at every offset of strings of 0 to 24 bytes among ASCII and
 * multi-byte neighbours, and random mixes of valid and invalid sequences. */
static void test_utf8_check_fast_path(void **state)
{
    assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
    static const char *const fill[] = {"a", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "\n"};
    unsigned char s[64];
    for (size_t n = 0; n <= 24; n++)
        for (size_t at = 0; at < n || (n == 0 && at == 0); at++)
            for (int c = 0; c < 256; c++)
                for (size_t f = 0; f < ARRAY_LEN(fill); f++) {
                    size_t len = 0;
                    while (len < n) {
                        const char *p = fill[(len + f) % ARRAY_LEN(fill)];
                        size_t k = strlen(p);
                        if (len + k > n) p = "b", k = 1;
                        memcpy(s + len, p, k);
                        len += k;
                    }
                    if (n) s[at] = (unsigned char)c;
                    size_t want_bad = 0, got_bad = 0;
                    int want = utf8_check_libc(s, n, &want_bad);
                    int got = utf8_check((const char *)s, n, &got_bad);
                    assert_int_equal(got, want);
                    if (want < 0) assert_int_equal(got_bad, want_bad);
                }
    srand(11);
    for (int t = 0; t < 20000; t++) {
        size_t n = (size_t)(rand() % 64);
        for (size_t k = 0; k < n; k++)
            s[k] = (unsigned char)(rand() % 8 ? 0x20 + rand() % 0x5f : rand() % 256);
        size_t want_bad = 0, got_bad = 0;
        int want = utf8_check_libc(s, n, &want_bad);
        int got = utf8_check((const char *)s, n, &got_bad);
        assert_int_equal(got, want);
        if (want < 0) assert_int_equal(got_bad, want_bad);
    }
}

/* text_key() as it was before its ASCII shortcut: code point by code point. */
static void key_by_code_points(const char *s, struct buf *out)
{
    while (*s) {
        uint32_t cp;
        s += utf8_decode(s, &cp);
        if (cp >= 0xFF01 && cp <= 0xFF5E) cp -= 0xFEE0;
        if (is_punct_or_space(cp)) continue;
        if (cp >= 'A' && cp <= 'Z') cp += 32;
        utf8_encode(out, cp);
    }
}

/* The shortcut changes no key: every ASCII byte and every code point up to
 * U+FFFF (and some beyond) alone and between neighbours of each kind, and
 * strings of random valid UTF-8. */
static void test_key_ascii_shortcut(void **state)
{
    static const char *const around[] = {"", "A", " ", "\xc3\xa9", "\xef\xbc\xa1", "-"};
    struct buf a = BUF_INIT, b = BUF_INIT, s = BUF_INIT;
    for (uint32_t cp = 1; cp < 0x11000; cp += cp < 0x10000 ? 1 : 97) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        for (size_t k = 0; k < ARRAY_LEN(around); k++) {
            buf_reset(&s);
            buf_adds(&s, around[k]);
            utf8_encode(&s, cp);
            buf_adds(&s, around[ARRAY_LEN(around) - 1 - k]);
            buf_reset(&a);
            buf_reset(&b);
            text_key(s.s, &a);
            key_by_code_points(s.s, &b);
            assert_int_equal(a.len, b.len);
            assert_memory_equal(a.s, b.s, a.len);
        }
    }
    srand(7);
    for (int t = 0; t < 2000; t++) {
        buf_reset(&s);
        for (int i = rand() % 40; i > 0; i--) {
            uint32_t cp = rand() % 4 ? (uint32_t)(1 + rand() % 127) : (uint32_t)(0x80 + rand() % 0xFF00);
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
            utf8_encode(&s, cp);
        }
        buf_reset(&a);
        buf_reset(&b);
        text_key(s.s ? s.s : "", &a);
        key_by_code_points(s.s ? s.s : "", &b);
        assert_int_equal(a.len, b.len);
        if (a.len) assert_memory_equal(a.s, b.s, a.len);
    }
    buf_release(&a);
    buf_release(&b);
    buf_release(&s);
}

/* What killed runs leave in $TMPDIR is removed, what live ones own is not. */
static void test_tmpdir_clean_stale(void **state)
{
    const char *old = getenv("TMPDIR");
    char *saved = old ? xstrdup(old) : NULL;
    setenv("TMPDIR", scratch_dir, 1);
    pid_t child = fork();
    if (child == 0) _exit(0);
    assert_true(child > 0);
    assert_int_equal(waitpid(child, NULL, 0), child); /* a pid no one has */
    char *dead_apkg = xasprintf("%s/mdeck-apkg-%ld-aaaaaa", scratch_dir, (long)child);
    char *dead_keep = xasprintf("%s/mdeck-keep-%ld-bbbbbb", scratch_dir, (long)child);
    char *live = xasprintf("%s/mdeck-keep-1-cccccc", scratch_dir);
    char *mine = NULL, *other = xasprintf("%s/mdeck-apkg-notapid", scratch_dir);
    int fd = tmpdir_keep_file(&mine);
    assert_true(fd >= 0);
    close(fd);
    const char *files[] = {dead_apkg, dead_keep, live, other};
    for (size_t i = 0; i < 4; i++) {
        FILE *f = fopen(files[i], "w");
        assert_non_null(f);
        fclose(f);
    }
    tmpdir_clean_stale();
    assert_int_equal(access(dead_apkg, F_OK), -1);
    assert_int_equal(access(dead_keep, F_OK), -1);
    assert_int_equal(access(live, F_OK), 0);  /* pid 1 lives */
    assert_int_equal(access(mine, F_OK), 0);  /* ours */
    assert_int_equal(access(other, F_OK), 0); /* not a name of ours */
    if (saved) setenv("TMPDIR", saved, 1);
    else unsetenv("TMPDIR");
    free(saved);
    free(dead_apkg);
    free(dead_keep);
    free(live);
    free(mine);
    free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_blocks_stay_aligned_after_packed_strings),
        cmocka_unit_test_setup_teardown(test_media_are_listed_once_in_first_use_order,
                                        scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_many_media, scratch_setup, scratch_teardown),
        cmocka_unit_test(test_par_run_visits_every_item_once),
        cmocka_unit_test(test_clean_span),
        cmocka_unit_test(test_key_ascii_shortcut),
        cmocka_unit_test(test_utf8_check_fast_path),
        cmocka_unit_test(test_word_scans),
        cmocka_unit_test(test_strmap),
        cmocka_unit_test_setup_teardown(test_tmpdir_clean_stale, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_read_file_sizes, scratch_setup, scratch_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

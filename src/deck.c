/* deck.c - the deck model's small mutators. */
#include "mdeck/deck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mdeck/hash.h"
#include "mdeck/spill.h"
#include "mdeck/text.h"
#include "mdeck/util.h"

void deck_init(struct deck *d, const char *dir)
{
    memset(d, 0, sizeof *d);
    arena_init(&d->arena);
    d->dir = arena_strdup(&d->arena, dir);
    /* The slug is the folder's own name: "decks/aigc-100/" -> "aigc-100". */
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    size_t start = len;
    while (start > 0 && dir[start - 1] != '/') start--;
    d->slug = arena_strndup(&d->arena, dir + start, len - start);
    if (!*d->slug || !strcmp(d->slug, ".") || !strcmp(d->slug, ".."))
        d->slug = "deck";
    /* The slug names the deck when the index does not: it must be text
     * (JSON in the package), whatever bytes the folder's name holds. */
    if (utf8_check(d->slug, strlen(d->slug), NULL) < 0) {
        struct buf b = BUF_INIT;
        utf8_repair(d->slug, strlen(d->slug), &b);
        d->slug = arena_strndup(&d->arena, b.s, b.len);
        buf_release(&b);
    }
}

void deck_free(struct deck *d)
{
    free(d->notes);
    free(d->decks);
    strmap_free(&d->deck_at);
    free(d->media);
    free(d->uses);
    strmap_free(&d->media_at);
    strmap_free(&d->media_of_path);
    arena_free(&d->arena);
    spill_close(d->spill);
    memset(d, 0, sizeof *d);
}

struct note *deck_add_note(struct deck *d)
{
    GROW(d->notes, d->nnotes + 1, d->capnotes);
    struct note *n = &d->notes[d->nnotes++];
    memset(n, 0, sizeof *n);
    return n;
}

static void add_one_deck(struct deck *d, const char *name, size_t len)
{
    /* A map, not a scan: 30,000 subdecks took seconds. */
    struct buf key = BUF_INIT;
    buf_add(&key, name, len);
    int found = strmap_get(&d->deck_at, key.s, NULL);
    buf_release(&key);
    if (found) return;
    GROW(d->decks, d->ndecks + 1, d->capdecks);
    d->decks[d->ndecks] = arena_strndup(&d->arena, name, len);
    strmap_put(&d->deck_at, d->decks[d->ndecks], d->ndecks);
    d->ndecks++;
}

void deck_add_deck_name(struct deck *d, const char *name)
{
    for (const char *p = strstr(name, "::"); p; p = strstr(p + 2, "::"))
        add_one_deck(d, name, (size_t)(p - name));
    add_one_deck(d, name, strlen(name));
}

/* A note's arrays live in the arena and grow by doubling: a new array only
 * when the count reaches a power of two (the capacity is the next power of
 * two), so n additions copy O(n) elements in all.  One question on 100,000
 * lines used to copy its line list at every merge: 20 GB. */
static void *arena_grow(struct arena *a, void *v, size_t n, size_t size)
{
    if (n & (n - 1)) return v; /* n is not a power of two: there is room */
    void *w = arena_alloc(a, (n ? 2 * n : 1) * size);
    if (n) memcpy(w, v, n * size);
    return w;
}

/* Tags and sources of one note are looked through on every addition:
 * past these many, more are dropped (a hostile index could otherwise make
 * that quadratic); no real question comes near. */
#define NOTE_MAX_TAGS 256
#define NOTE_MAX_SOURCES 256

void note_add_tag(struct deck *d, struct note *n, const char *tag)
{
    if (n->ntags >= NOTE_MAX_TAGS) return;
    struct buf b = BUF_INIT;
    buf_adds(&b, tag);
    buf_trim(&b);
    /* Anki splits tags on white space and strips quotes. */
    struct buf c = BUF_INIT;
    for (size_t i = 0; i < b.len; i++) {
        char ch = b.s[i];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r')
            ch = '_';
        else if (ch == '"')
            continue;
        if (ch == '_' && c.len && c.s[c.len - 1] == '_') continue;
        buf_addc(&c, ch);
    }
    buf_release(&b);
    if (!c.len) return;
    size_t at = 0;
    while (at < n->ntags) {
        int cmp = strcmp(n->tags[at], c.s);
        if (cmp == 0) {
            buf_release(&c);
            return;
        }
        if (cmp > 0) break;
        at++;
    }
    const char **tags = arena_grow(&d->arena, (void *)n->tags, n->ntags, sizeof *tags);
    if (n->ntags > at) memmove(tags + at + 1, n->tags + at, (n->ntags - at) * sizeof *tags);
    tags[at] = arena_strndup(&d->arena, c.s, c.len);
    n->tags = tags;
    n->ntags++;
    buf_release(&c);
}

void note_add_source(struct deck *d, struct note *n, const char *url)
{
    if (n->nsources >= NOTE_MAX_SOURCES) return;
    for (size_t i = 0; i < n->nsources; i++)
        if (!strcmp(n->sources[i], url)) return;
    const char **v = arena_grow(&d->arena, (void *)n->sources, n->nsources, sizeof *v);
    v[n->nsources++] = arena_strdup(&d->arena, url);
    n->sources = v;
}

void note_add_line(struct deck *d, struct note *n, int line)
{
    int *v = arena_grow(&d->arena, n->lines, n->nlines, sizeof *v);
    v[n->nlines++] = line;
    n->lines = v;
}

/* Media names are the first 80 bits of the content's SHA-256 plus the
 * lower-cased extension: identical content is stored once, changed content
 * gets a new name, and names hold only [a-z0-9.-] (safe for every importer). */
static const char *media_used(struct deck *d, size_t at)
{
    if (d->log_uses) {
        GROW(d->uses, d->nuses + 1, d->capuses);
        d->uses[d->nuses++] = at;
    }
    return d->media[at].name;
}

void deck_media_name(const char *path, const void *data, size_t len, char out[DECK_MEDIA_NAME])
{
    uint8_t h[32];
    sha256(data, len, h);
    char hx[65];
    hex(h, 10, hx);
    char ext[12] = "";
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (dot && strlen(dot) < sizeof ext) {
        size_t k = 0;
        for (const char *p = dot; *p; p++) {
            char c = *p;
            if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.'))
                break;
            ext[k++] = c;
        }
        ext[k] = '\0';
        if (k < 2) ext[0] = '\0';
    }
    snprintf(out, DECK_MEDIA_NAME, "mdeck-%.20s%s", hx, ext); /* 80 bits: 20 digits */
}

const char *deck_add_media(struct deck *d, const char *path)
{
    size_t at;
    if (strmap_get(&d->media_of_path, path, &at)) return media_used(d, at);
    struct buf data = BUF_INIT;
    struct stat st;
    if (stat(path, &st) < 0) memset(&st, 0, sizeof st);
    if (read_file(path, &data) < 0 || data.len == 0) {
        buf_release(&data);
        return NULL;
    }
    char name[DECK_MEDIA_NAME];
    deck_media_name(path, data.s, data.len, name);
    uint64_t size = data.len;
    buf_release(&data);
    struct media m = {NULL, arena_strdup(&d->arena, path), size, st};
    if (strmap_get(&d->media_at, name, &at)) { /* the same content under another path */
        strmap_put(&d->media_of_path, m.path, at);
        return media_used(d, at);
    }
    m.name = arena_strdup(&d->arena, name);
    deck_merge_media(d, &m);
    strmap_put(&d->media_of_path, m.path, d->nmedia - 1);
    return media_used(d, d->nmedia - 1);
}

void deck_merge_media(struct deck *d, const struct media *m)
{
    if (strmap_get(&d->media_at, m->name, NULL)) return;
    GROW(d->media, d->nmedia + 1, d->capmedia);
    d->media[d->nmedia] = *m;
    /* the name lives in an arena that d has or will take over: it outlives the map */
    strmap_put(&d->media_at, d->media[d->nmedia].name, d->nmedia);
    d->nmedia++;
}

void note_guid(const struct deck *d, const struct note *n, char out[12])
{
    struct buf b = BUF_INIT;
    buf_adds(&b, d->opt.id ? d->opt.id : d->slug);
    buf_addc(&b, 0x1F);
    buf_adds(&b, n->id);
    base91(hash64(b.s, b.len), out);
    buf_release(&b);
}

/* 1 when a source URL may be a link in the Source field: read as a
 * browser does (spaces and control characters dropped, case folded), it
 * has no scheme or one of http, https, ftp, mailto, tel, and holds no
 * "javascript:" or "vbscript:" anywhere: the rule the sanitizer applies to
 * answers (this field does not pass through it). */
int source_url_safe(const char *url)
{
    struct buf b = BUF_INIT;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p > 0x20 && *p != 0x7F) buf_addc(&b, (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p));
    size_t scheme = strcspn(b.s, ":/?#");
    int ok = !strstr(b.s, "javascript:") && !strstr(b.s, "vbscript:");
    if (ok && b.s[scheme] == ':') {
        static const char *allowed[] = {"http", "https", "ftp", "mailto", "tel"};
        ok = 0;
        for (size_t i = 0; i < ARRAY_LEN(allowed); i++)
            if (strlen(allowed[i]) == scheme && !strncmp(b.s, allowed[i], scheme)) ok = 1;
    }
    buf_release(&b);
    return ok;
}

void note_source_html(const struct note *n, struct buf *out)
{
    for (size_t i = 0; i < n->nsources; i++) {
        size_t len = strlen(n->sources[i]);
        if (i) buf_adds(out, "<br>");
        if (!source_url_safe(n->sources[i])) { /* javascript: and the like: text only */
            buf_add_html_escaped(out, n->sources[i], len);
            continue;
        }
        buf_adds(out, "<a href=\"");
        buf_add_html_escaped(out, n->sources[i], len);
        buf_adds(out, "\">");
        buf_add_html_escaped(out, n->sources[i], len);
        buf_adds(out, "</a>");
    }
}

/* images.c - image references of answers, shared by the markdown renderer
 * and the HTML answer files (render.h): what a src names, whether it stays
 * inside the deck folder, and its registration as deck media. */
#include "mdeck/render.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A URL scheme as browsers read one: a letter, then letters, digits, + . -,
 * then a colon. */
int url_has_scheme(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))) return 0;
    for (s++; *s; s++) {
        if (*s == ':') return 1;
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '+' || *s == '.' || *s == '-'))
            return 0;
    }
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The file a relative src names: ?query and #fragment dropped, %XX
 * decoded.  NULL when that would hold a NUL byte. Caller frees. */
static char *src_to_path(const char *src)
{
    size_t n = strcspn(src, "?#");
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '%' && i + 2 < n + 1 && hexval(src[i + 1]) >= 0 &&
            hexval(src[i + 2]) >= 0) {
            char c = (char)(hexval(src[i + 1]) * 16 + hexval(src[i + 2]));
            if (!c) {
                buf_release(&b);
                return NULL;
            }
            buf_addc(&b, c);
            i += 2;
        } else {
            buf_addc(&b, src[i]);
        }
    }
    return buf_detach(&b);
}

/* base + "/" + rel with "." and ".." resolved as text (".." at "/" stays
 * there).  base is absolute. Caller frees. */
static char *join_lexical(const char *base, const char *rel)
{
    struct buf b = BUF_INIT;
    buf_adds(&b, base);
    while (b.len > 1 && b.s[b.len - 1] == '/') buf_setlen(&b, b.len - 1);
    const char *p = rel;
    while (*p) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.')) {
            /* skip */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            char *slash = strrchr(b.s, '/');
            buf_setlen(&b, slash && slash != b.s ? (size_t)(slash - b.s) : 1);
        } else {
            if (b.s[b.len - 1] != '/') buf_addc(&b, '/');
            buf_add(&b, p, n);
        }
        p += n;
        if (*p == '/') p++;
    }
    return buf_detach(&b);
}

/* 1 when path is root or below it (both absolute, without trailing '/'). */
static int path_inside(const char *path, const char *root)
{
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/') return 1;
    return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

void real_paths_free(struct real_paths *real)
{
    free(real->dir);
    free(real->base_in);
    free(real->base);
    free(real->folder_in);
    free(real->folder);
    memset(real, 0, sizeof *real);
}

/* realpath() of path[0..n), kept in *in (the path) and *real (its real
 * path) from one call to the next while the path asked for stays the same;
 * a failure is not kept.  *real, or NULL. */
static const char *kept_real(char **in, char **real, const char *path, size_t n)
{
    if (!*in || strlen(*in) != n || strncmp(*in, path, n)) {
        free(*in);
        free(*real);
        char *p = xstrndup(path, n);
        *real = realpath(p, NULL);
        *in = *real ? p : (free(p), NULL);
    }
    return *real;
}

/* realpath(path), through d->real when the deck has one: a copy to free,
 * or NULL when it fails (failures are not remembered). */
static char *real_of(struct deck *d, const char *path, int is_dir)
{
    struct real_paths *m = d->real;
    if (!m) return realpath(path, NULL);
    if (is_dir) {
        if (!m->dir) m->dir = realpath(path, NULL);
        return m->dir ? xstrdup(m->dir) : NULL;
    }
    const char *real = kept_real(&m->base_in, &m->base, path, strlen(path));
    return real ? xstrdup(real) : NULL;
}

/* The real path of the file at lex (absolute, no "." or ".." in it), and
 * *st filled by stat() of it (*st_ok 0 when that failed); NULL when it
 * cannot be resolved.  Without d->real, realpath() and stat().  With it,
 * the folder's real path is made once for the images of one folder in a
 * row, and only the file's own name is looked at (lstat: one lookup
 * instead of realpath's one per component, ~6 us against ~1 us a file); a
 * name that is a symbolic link is resolved whole, as realpath() would. */
static char *real_file(struct deck *d, const char *lex, struct stat *st, int *st_ok)
{
    struct real_paths *m = d->real;
    const char *slash = strrchr(lex, '/');
    char *real = NULL;
    if (m && slash && slash[1]) {
        const char *folder = kept_real(&m->folder_in, &m->folder, lex,
                                       slash == lex ? 1 : (size_t)(slash - lex));
        if (!folder) return NULL;
        real = xasprintf("%s/%s", strcmp(folder, "/") ? folder : "", slash + 1);
        if (lstat(real, st) < 0) {
            free(real);
            return NULL;
        }
        if (!S_ISLNK(st->st_mode)) {
            *st_ok = 1;
            return real;
        }
        free(real);
    }
    real = realpath(lex, NULL);
    *st_ok = real && stat(real, st) == 0;
    return real;
}

enum image_ref image_resolve(struct deck *d, const char *base_dir,
                             const char *src, const char *path, int line,
                             int col, struct diags *dg, const char **name)
{
    *name = NULL;
    if (!d) return IMAGE_REMOTE;
    if (url_has_scheme(src) || (src[0] == '/' && src[1] == '/')) return IMAGE_REMOTE;

    enum image_ref res = IMAGE_MISSING;
    char *rel = src_to_path(src);
    char *root = real_of(d, d->dir, 1);
    char *base = base_dir ? real_of(d, base_dir, 0) : root ? xstrdup(root) : NULL;
    char *lex = NULL, *real = NULL;
    struct stat st;
    int st_ok = 0; /* st holds stat() of real */

    if (!*src || (rel && !*rel)) {
        if (dg) diag_add(dg, SEV_WARNING, path, line, col, "image has no file name: '%s'", src);
        goto out;
    }
    if (rel && rel[0] == '/') goto escapes;
    if (!rel || !root || !base) goto missing;
    lex = join_lexical(base, rel);
    if (!path_inside(lex, root)) goto escapes;
    real = real_file(d, lex, &st, &st_ok);
    if (!real) goto missing;
    if (!path_inside(real, root)) goto escapes;
    if (!st_ok || !S_ISREG(st.st_mode)) {
        if (dg) diag_add(dg, SEV_WARNING, path, line, col, "image is not a file: '%s'", src);
        goto out;
    }
    *name = deck_add_media(d, real);
    if (!*name) {
        if (dg) diag_add(dg, SEV_WARNING, path, line, col, "image cannot be read or is empty: '%s'", src);
        goto out;
    }
    res = IMAGE_MEDIA;
    goto out;
missing:
    if (dg) diag_add(dg, SEV_WARNING, path, line, col, "image not found: '%s'", src);
    goto out;
escapes:
    if (dg) diag_add(dg, SEV_ERROR, path, line, col, "image path leaves the deck folder: '%s'", src);
    res = IMAGE_ESCAPES;
out:
    free(rel);
    free(root);
    free(base);
    free(lex);
    free(real);
    return res;
}

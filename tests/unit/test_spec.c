/* test_spec.c - runs the literate spec files.
 *
 * Every .txt file in tests/spec/ and docs/format.md is prose with examples, as in
 * md4c's and CommonMark's specs:
 *
 *     ```````````````````````````````` example render
 *     markdown input
 *     .
 *     expected output
 *     ````````````````````````````````
 *
 * The word after "example" says what the example runs (render when absent):
 *     render     markdown -> HTML (render_markdown)
 *     text       markdown -> plain text (render_markdown's text output)
 *     html-text  HTML -> plain text (html_to_text)
 *     sanitize   HTML -> sanitized HTML (sanitize_html); the output must also
 *                be a fixed point and pass an independent safety check
 *     index      index.md -> the index parser's dump (spec_index, spec.h)
 * In inputs and outputs "→" stands for a tab.  Plain text has no final
 * newline, so for text kinds the expected block's last newline is dropped;
 * for sanitize the last newline of both blocks is dropped, so that an
 * example shows exactly what goes in and what comes out.
 * Each example is one cmocka test named "file:line"; an argument filters
 * the tests by name (cmocka's pattern: render.txt:* runs one file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdeck/render.h"
#include "mdeck/sanitize.h"
#include "mdeck/util.h"
#include "spec.h"

#define FENCE "````````````````````````````````"

struct example {
    char name[128];
    char kind[16];
    struct buf input, expected;
};

static struct example *examples;
static size_t nexamples, capexamples;

/* Appends line with every "→" turned into a tab, and a newline. */
static void add_line(struct buf *b, const char *line, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i + 3 <= n && !memcmp(line + i, "\xE2\x86\x92", 3)) {
            buf_addc(b, '\t');
            i += 2;
        } else {
            buf_addc(b, line[i]);
        }
    }
    buf_addc(b, '\n');
}

static void load_file(const char *path, const char *shown)
{
    struct buf src = BUF_INIT;
    if (read_file(path, &src) < 0) return;
    enum { PROSE, INPUT, EXPECTED } state = PROSE;
    struct example *ex = NULL;
    int lineno = 0;
    const char *p = src.s, *end = src.s + src.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lineno++;
        size_t fl = strlen(FENCE);
        if (state == PROSE && n >= fl + 8 && !memcmp(p, FENCE " example", fl + 8)) {
            GROW(examples, nexamples + 1, capexamples);
            ex = &examples[nexamples++];
            memset(ex, 0, sizeof *ex);
            buf_init(&ex->input);
            buf_init(&ex->expected);
            snprintf(ex->name, sizeof ex->name, "%s:%d", shown, lineno);
            const char *k = p + fl + 8;
            size_t kn = n - fl - 8;
            while (kn && *k == ' ') k++, kn--;
            while (kn && (k[kn - 1] == ' ' || k[kn - 1] == '\r')) kn--;
            if (!kn) snprintf(ex->kind, sizeof ex->kind, "render");
            else snprintf(ex->kind, sizeof ex->kind, "%.*s", (int)kn, k);
            state = INPUT;
        } else if (state == INPUT && n == 1 && p[0] == '.') {
            state = EXPECTED;
        } else if (state == INPUT) {
            add_line(&ex->input, p, n);
        } else if (state == EXPECTED && n == fl && !memcmp(p, FENCE, fl)) {
            state = PROSE;
        } else if (state == EXPECTED) {
            add_line(&ex->expected, p, n);
        }
        p += n + 1;
    }
    buf_release(&src);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void load_all(const char *top)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/spec", top);
    struct dirent **ents;
    int n = scandir(path, &ents, NULL, by_name);
    for (int i = 0; i < n; i++) {
        if (str_ends_with(ents[i]->d_name, ".txt")) {
            snprintf(path, sizeof path, "%s/tests/spec/%s", top, ents[i]->d_name);
            load_file(path, ents[i]->d_name);
        }
        free(ents[i]);
    }
    if (n >= 0) free(ents);
    snprintf(path, sizeof path, "%s/docs/format.md", top);
    load_file(path, "format.md");
}

/* --- an independent check of sanitized HTML ----------------------------------- */

/* Reads the tags of s (in the form our serializer writes them) and returns
 * a description of the first dangerous thing found, or NULL. */
static const char *unsafe(const char *s)
{
    static char why[256];
    static const char ok_tags[] =
        " p br hr div span b strong i em u s del sub sup small mark code pre kbd"
        " blockquote ul ol li dl dt dd h1 h2 h3 h4 h5 h6 table thead tbody tfoot"
        " tr th td caption a img figure figcaption details summary ruby rt rp abbr"
        " cite q ins input ";
    for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
        p++;
        if (*p == '/') p++;
        char name[32] = " ";
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789");
        if (!n || n > 20) {
            snprintf(why, sizeof why, "'<' not starting a known tag: %.20s", p - 1);
            return why;
        }
        memcpy(name + 1, p, n);
        name[n + 1] = ' ';
        name[n + 2] = '\0';
        if (!strstr(ok_tags, name)) {
            snprintf(why, sizeof why, "element%s", name);
            return why;
        }
        p += n;
        while (*p == ' ') { /* attributes: name, or name="value" */
            p++;
            size_t an = strspn(p, "abcdefghijklmnopqrstuvwxyz-");
            if (an >= 2 && p[0] == 'o' && p[1] == 'n') {
                snprintf(why, sizeof why, "event handler %.*s", (int)an, p);
                return why;
            }
            int url = (an == 4 && !memcmp(p, "href", 4)) || (an == 3 && !memcmp(p, "src", 3));
            p += an;
            if (*p != '=') continue;
            if (p[1] != '"') return "unquoted attribute value";
            const char *v = p + 2, *q = strchr(v, '"');
            if (!q) return "unterminated attribute value";
            char val[64] = "";
            size_t k = 0;
            for (const char *c = v; c < q && k + 1 < sizeof val; c++)
                if ((unsigned char)*c > 0x20) val[k++] = (char)(*c | ((*c >= 'A' && *c <= 'Z') ? 0x20 : 0));
            val[k] = '\0';
            if (url && (strstr(val, "script:") || strstr(val, "data:text") ||
                        strstr(val, "data:image/svg"))) {
                snprintf(why, sizeof why, "dangerous URL %s", val);
                return why;
            }
            if (memchr(v, '<', (size_t)(q - v)) || memchr(v, '>', (size_t)(q - v)))
                return "raw < or > inside an attribute value";
            p = q + 1;
        }
        if (*p != '>') {
            snprintf(why, sizeof why, "malformed tag near %.20s", p);
            return why;
        }
    }
    return NULL;
}

/* --- running ----------------------------------------------------------------- */

static void show(const char *label, const struct buf *b)
{
    print_message("--- %s (%zu bytes)\n%s%s", label, b->len, b->s,
                  b->len && b->s[b->len - 1] == '\n' ? "" : "\n[no final newline]\n");
}

static void run_example(void **state)
{
    struct example *ex = *state;
    struct buf out = BUF_INIT, want = BUF_INIT;
    buf_add(&want, ex->expected.s, ex->expected.len);
    const char *k = ex->kind;
    int text_kind = !strcmp(k, "text") || !strcmp(k, "html-text");
    int sanitize = !strcmp(k, "sanitize");
    if ((text_kind || sanitize) && want.len && want.s[want.len - 1] == '\n')
        buf_setlen(&want, want.len - 1);
    struct buf in = BUF_INIT;
    buf_add(&in, ex->input.s, ex->input.len);
    if (sanitize && in.len && in.s[in.len - 1] == '\n') buf_setlen(&in, in.len - 1);

    const char *problem = NULL;
    if (!strcmp(k, "render") || !strcmp(k, "text")) {
        struct render_ctx rc = {.path = ex->name, .first_line = 1};
        int text = !strcmp(k, "text");
        if (render_markdown(&rc, ex->input.s, ex->input.len, text ? NULL : &out,
                            text ? &out : NULL, NULL) != 0)
            problem = "render_markdown() failed";
    } else if (!strcmp(k, "html-text")) {
        html_to_text(ex->input.s, ex->input.len, &out);
    } else if (sanitize) {
        sanitize_html(in.s, in.len, &out);
        struct buf again = BUF_INIT;
        int removed = sanitize_html(out.s, out.len, &again);
        if (removed || again.len != out.len || memcmp(again.s, out.s, out.len)) {
            show("sanitized twice", &again);
            problem = "not idempotent: sanitizing the output changes it";
        }
        buf_release(&again);
        const char *u = unsafe(out.s);
        if (u && !problem) problem = u;
    } else if (!strcmp(k, "index")) {
        if (spec_index(ex->input.s, ex->input.len, &out) != 0) problem = "spec_index() failed";
    } else {
        problem = "unknown example kind";
    }

    int same = out.len == want.len && !memcmp(out.s, want.s, out.len);
    if (problem || !same) {
        print_message("%s (%s)\n", ex->name, k);
        show("input", &ex->input);
        show("expected", &want);
        show("got", &out);
        if (problem) print_message("%s\n", problem);
    }
    buf_release(&out);
    buf_release(&want);
    buf_release(&in);
    if (problem) fail_msg("%s: %s", ex->name, problem);
    if (!same) fail_msg("%s: output differs from the spec", ex->name);
}

int main(int argc, char **argv)
{
    const char *top = getenv("MDECK_TOP");
    load_all(top && *top ? top : ".");
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    struct CMUnitTest *tests = xcalloc(nexamples ? nexamples : 1, sizeof *tests);
    for (size_t i = 0; i < nexamples; i++) {
        tests[i].name = examples[i].name;
        tests[i].test_func = run_example;
        tests[i].initial_state = &examples[i];
    }
    int rc = _cmocka_run_group_tests("spec", tests, nexamples, NULL, NULL);
    for (size_t i = 0; i < nexamples; i++) {
        buf_release(&examples[i].input);
        buf_release(&examples[i].expected);
    }
    free(examples);
    free(tests);
    return rc;
}

/* frontmatter.c - YAML front matter through libyaml's document API. */
#include "mdeck/frontmatter.h"

#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "mdeck/util.h"

static int is_fence(const char *s, size_t len)
{
    /* "---" followed only by spaces and an optional CR. */
    if (len < 3 || memcmp(s, "---", 3)) return 0;
    for (size_t i = 3; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

int fm_split(const char *s, size_t len, const char *path, const char **yaml,
             size_t *yaml_len, size_t *body_off, int *body_line, struct diags *dg)
{
    const char *nl = memchr(s, '\n', len);
    size_t first = nl ? (size_t)(nl - s) : len;
    if (!is_fence(s, first)) return 0;
    size_t pos = nl ? first + 1 : len;
    int line = 2;
    while (pos < len) {
        const char *e = memchr(s + pos, '\n', len - pos);
        size_t l = e ? (size_t)(e - (s + pos)) : len - pos;
        if (is_fence(s + pos, l) || (l >= 3 && !memcmp(s + pos, "...", 3) && l <= 4)) {
            *yaml = s + first + 1;
            *yaml_len = pos - (first + 1);
            *body_off = e ? pos + l + 1 : len;
            *body_line = line + 1;
            return 1;
        }
        pos += l + 1;
        line++;
    }
    diag_add(dg, SEV_ERROR, path, 1, 1,
             "front matter opened with '---' is never closed; add a '---' line after it");
    return -1;
}

static json_t *convert(yaml_document_t *doc, yaml_node_t *n, int depth)
{
    if (!n || depth > 64) return json_null();
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return json_stringn((const char *)n->data.scalar.value, n->data.scalar.length);
    case YAML_SEQUENCE_NODE: {
        json_t *a = json_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             it < n->data.sequence.items.top; it++)
            json_array_append_new(a, convert(doc, yaml_document_get_node(doc, *it), depth + 1));
        return a;
    }
    case YAML_MAPPING_NODE: {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
             p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (!k || k->type != YAML_SCALAR_NODE) continue;
            char *key = xstrndup((const char *)k->data.scalar.value, k->data.scalar.length);
            json_object_set_new(o, key, convert(doc, yaml_document_get_node(doc, p->value), depth + 1));
            free(key);
        }
        return o;
    }
    default:
        return json_null();
    }
}

json_t *fm_parse(const char *yaml, size_t len, const char *path, int line0,
                 struct diags *dg)
{
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p)) return NULL;
    yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
    json_t *out = NULL;
    if (!yaml_parser_load(&p, &doc)) {
        diag_add(dg, SEV_ERROR, path, line0 + (int)p.problem_mark.line,
                 (int)p.problem_mark.column + 1, "front matter is not valid YAML: %s",
                 p.problem ? p.problem : "syntax error");
        yaml_parser_delete(&p);
        return NULL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        out = json_object(); /* empty front matter */
    } else if (root->type != YAML_MAPPING_NODE) {
        diag_add(dg, SEV_ERROR, path, line0, 1,
                 "front matter must be a mapping of keys to values (key: value)");
    } else {
        out = convert(&doc, root, 0);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return out;
}

int fm_bool(json_t *v)
{
    if (json_is_boolean(v)) return json_is_true(v);
    const char *s = json_string_value(v);
    if (!s) return -1;
    static const char *yes[] = {"true", "yes", "on"}, *no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (!strcasecmp(s, yes[i])) return 1;
        if (!strcasecmp(s, no[i])) return 0;
    }
    return -1;
}

unsigned parse_formats(const char *s, const char **bad)
{
    unsigned f = 0;
    static const struct { const char *name; unsigned bit; } names[] = {
        {"apkg", FMT_APKG}, {"csv", FMT_CSV}, {"quizlet", FMT_QUIZLET}, {"all", FMT_ALL}};
    static char badname[64];
    while (*s) {
        size_t n = strcspn(s, ", ");
        if (n) {
            size_t i;
            for (i = 0; i < ARRAY_LEN(names); i++)
                if (strlen(names[i].name) == n && !strncmp(s, names[i].name, n)) break;
            if (i == ARRAY_LEN(names)) {
                snprintf(badname, sizeof badname, "%.*s", (int)(n < 60 ? n : 60), s);
                if (bad) *bad = badname;
                return 0;
            }
            f |= names[i].bit;
        }
        s += n;
        while (*s == ',' || *s == ' ') s++;
    }
    if (!f && bad) *bad = "";
    return f;
}

/* Strings of a scalar-or-sequence value, copied into the deck's arena. */
static const char **string_list(struct deck *d, json_t *v, size_t *n)
{
    *n = 0;
    if (json_is_string(v)) {
        const char **out = arena_alloc(&d->arena, sizeof *out);
        out[0] = arena_strdup(&d->arena, json_string_value(v));
        *n = 1;
        return out;
    }
    if (!json_is_array(v)) return NULL;
    const char **out = arena_alloc(&d->arena, (json_array_size(v) + 1) * sizeof *out);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) if (json_is_string(e)) out[(*n)++] = arena_strdup(&d->arena, json_string_value(e));
    return out;
}

/* Line of a top-level key in the YAML text (line0 for the first line). */
static int key_line(const char *yaml, size_t len, const char *key, int line0)
{
    size_t klen = strlen(key);
    int line = line0;
    for (size_t i = 0; i < len; i++) {
        if ((i == 0 || yaml[i - 1] == '\n') && len - i > klen && !memcmp(yaml + i, key, klen) &&
            (yaml[i + klen] == ':' || yaml[i + klen] == ' '))
            return line;
        if (yaml[i] == '\n') line++;
    }
    return line0;
}

int fm_deck_options(struct deck *d, json_t *fm, const char *yaml, size_t ylen,
                    const char *path, int line0, struct diags *dg)
{
    int rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach(fm, key, v) {
        if (!strcmp(key, "name") && json_is_string(v)) {
            d->opt.name = arena_strdup(&d->arena, json_string_value(v));
        } else if (!strcmp(key, "id") && json_is_string(v)) {
            d->opt.id = arena_strdup(&d->arena, json_string_value(v));
        } else if (!strcmp(key, "tags")) {
            d->opt.tags = string_list(d, v, &d->opt.ntags);
            for (size_t i = 0; i < d->opt.ntags; i++) /* Anki splits tags on spaces */
                for (char *c = (char *)d->opt.tags[i]; *c; c++)
                    if (*c == ' ' || *c == '\t') *c = '_';
        } else if (!strcmp(key, "prefixes")) {
            /* A list of prefixes (removed, no tag) or of {prefix: tag}
             * mappings; a mapping of prefix: tag works too. */
            size_t cap = json_is_array(v) ? json_array_size(v) : json_object_size(v);
            d->opt.prefixes = arena_alloc(&d->arena, (cap + 1) * sizeof *d->opt.prefixes);
            d->opt.nprefixes = 0;
            json_t *items = json_is_array(v) ? json_incref(v) : json_pack("[O]", v);
            size_t i;
            json_t *it;
            json_array_foreach(items, i, it) {
                if (json_is_string(it)) {
                    struct prefix_rule *r = &d->opt.prefixes[d->opt.nprefixes++];
                    r->prefix = arena_strdup(&d->arena, json_string_value(it));
                } else if (json_is_object(it)) {
                    const char *pk;
                    json_t *pv;
                    json_object_foreach(it, pk, pv) {
                        if (d->opt.nprefixes >= cap) {
                            struct prefix_rule *more = arena_alloc(&d->arena, (cap * 2 + 1) * sizeof *more);
                            memcpy(more, d->opt.prefixes, d->opt.nprefixes * sizeof *more);
                            d->opt.prefixes = more;
                            cap = cap * 2 + 1;
                        }
                        struct prefix_rule *r = &d->opt.prefixes[d->opt.nprefixes++];
                        r->prefix = arena_strdup(&d->arena, pk);
                        r->tag = json_is_string(pv) && *json_string_value(pv)
                                     ? arena_strdup(&d->arena, json_string_value(pv)) : NULL;
                    }
                } else {
                    diag_add(dg, SEV_WARNING, path, key_line(yaml, ylen, key, line0), 1,
                             "'prefixes' entries are strings or 'prefix: tag' pairs; entry %zu ignored", i + 1);
                }
            }
            json_decref(items);
        } else if (!strcmp(key, "formats") || !strcmp(key, "format")) {
            const char *bad = NULL;
            struct buf b = BUF_INIT;
            if (json_is_string(v)) buf_adds(&b, json_string_value(v));
            size_t i;
            json_t *e;
            if (json_is_array(v)) json_array_foreach(v, i, e) if (json_is_string(e)) {
                buf_adds(&b, json_string_value(e));
                buf_addc(&b, ',');
            }
            d->opt.formats = parse_formats(b.s, &bad);
            if (!d->opt.formats) {
                diag_add(dg, SEV_ERROR, path, key_line(yaml, ylen, key, line0), 1,
                         "unknown output format '%s' in 'formats'; use apkg, csv and quizlet", bad ? bad : "");
                rc = -1;
            }
            buf_release(&b);
        } else if (!strcmp(key, "reversed")) {
            d->opt.reversed = fm_bool(v) == 1;
        } else if (!strcmp(key, "sanitize")) {
            d->opt.unsafe_html = fm_bool(v) == 0;
        } else {
            diag_add(dg, SEV_WARNING, path, key_line(yaml, ylen, key, line0), 1,
                     "unknown front matter key '%s' ignored (known: name, id, tags, prefixes, formats, reversed, sanitize)", key);
        }
    }
    return rc;
}

/* anki-model.c - mdeck's three note types: fields, templates, CSS.
 *
 * Changing anything here is publishing a new version of the note types to
 * every user.  The rules (docs/anki.md, "Note types"):
 *   - ids, names, field lists and template lists never change shape;
 *   - a change to CSS or template text bumps that model's MODEL_MOD_* to the
 *     time of the change (importers replace a note type only when the
 *     package's mod is newer), and the recorded fingerprint in
 *     tests/unit/test_apkg.c is updated with it. */
#include "mdeck/anki-model.h"
#include "mdeck/text.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mdeck/apkg.h"
#include "mdeck/hash.h"
#include "mdeck/util.h"

/* Seconds; the time the CSS/templates of each model last changed. */
#define MODEL_MOD_BASIC    1795942700LL /* 2026-11-29 08:58 UTC */
#define MODEL_MOD_REVERSED 1795942700LL
#define MODEL_MOD_CLOZE    1795942700LL

/* A system font stack that reads well in English and Chinese on every
 * platform Anki runs on: macOS/iOS (PingFang SC), Linux/Android (Noto Sans
 * CJK SC), Windows (Microsoft YaHei). */
#define FONT_TEXT                                                              \
    "-apple-system, BlinkMacSystemFont, \"Segoe UI\", \"PingFang SC\", "       \
    "\"Hiragino Sans GB\", \"Noto Sans CJK SC\", \"Source Han Sans SC\", "     \
    "\"Microsoft YaHei\", \"Helvetica Neue\", Roboto, Arial, sans-serif"
#define FONT_MONO                                                              \
    "ui-monospace, SFMono-Regular, Menlo, Consolas, \"Liberation Mono\", "     \
    "\"Noto Sans Mono CJK SC\", monospace"

#define CSS_BASE                                                               \
    ".card {\n"                                                                \
    "  font-family: " FONT_TEXT ";\n"                                          \
    "  font-size: 20px;\n"                                                     \
    "  line-height: 1.65;\n"                                                   \
    "  color: #1f2328;\n"                                                      \
    "  background-color: #ffffff;\n"                                           \
    "  text-align: left;\n"                                                    \
    "  overflow-wrap: break-word;\n"                                           \
    "}\n"                                                                      \
    ".question, .answer, .extra, .source, .cloze-text {\n"                     \
    "  max-width: 42em;\n"                                                     \
    "  margin: 0 auto;\n"                                                      \
    "}\n"                                                                      \
    ".question {\n"                                                            \
    "  font-size: 1.1em;\n"                                                    \
    "  font-weight: 600;\n"                                                    \
    "  text-align: center;\n"                                                  \
    "}\n"                                                                      \
    ".answer, .extra {\n"                                                      \
    "  text-align: left;\n"                                                    \
    "}\n"                                                                      \
    "hr#answer {\n"                                                            \
    "  border: 0;\n"                                                           \
    "  border-top: 1px solid #d0d7de;\n"                                       \
    "  margin: 1em 0;\n"                                                       \
    "}\n"                                                                      \
    "h1, h2, h3, h4, h5, h6 {\n"                                               \
    "  line-height: 1.3;\n"                                                    \
    "  margin: 1em 0 .5em;\n"                                                  \
    "}\n"                                                                      \
    "h1 { font-size: 1.3em; }\n"                                               \
    "h2 { font-size: 1.2em; }\n"                                               \
    "h3, h4, h5, h6 { font-size: 1.05em; }\n"                                  \
    "p, ul, ol, blockquote, pre, table { margin: .6em 0; }\n"                  \
    "ul, ol { padding-left: 1.6em; }\n"                                        \
    "li { margin: .2em 0; }\n"                                                 \
    "a { color: #0969da; text-decoration: none; }\n"                           \
    "img { max-width: 100%; height: auto; }\n"                                 \
    "blockquote {\n"                                                           \
    "  margin-left: 0;\n"                                                      \
    "  padding: 0 1em;\n"                                                      \
    "  color: #57606a;\n"                                                      \
    "  border-left: .25em solid #d0d7de;\n"                                    \
    "}\n"                                                                      \
    "code, pre {\n"                                                            \
    "  font-family: " FONT_MONO ";\n"                                          \
    "  font-size: .85em;\n"                                                    \
    "}\n"                                                                      \
    "code {\n"                                                                 \
    "  padding: .1em .35em;\n"                                                 \
    "  border-radius: 4px;\n"                                                  \
    "  background-color: rgba(175, 184, 193, .2);\n"                           \
    "}\n"                                                                      \
    "pre {\n"                                                                  \
    "  padding: .8em 1em;\n"                                                   \
    "  border-radius: 6px;\n"                                                  \
    "  background-color: #f6f8fa;\n"                                           \
    "  line-height: 1.45;\n"                                                   \
    "  overflow-x: auto;\n"                                                    \
    "  text-align: left;\n"                                                    \
    "}\n"                                                                      \
    "pre code {\n"                                                             \
    "  padding: 0;\n"                                                          \
    "  font-size: 1em;\n"                                                      \
    "  background: none;\n"                                                    \
    "  white-space: pre;\n"                                                    \
    "}\n"                                                                      \
    "mjx-container[display=\"true\"] {\n"                                       \
    "  max-width: 100%;\n"                                                     \
    "  overflow-x: auto;\n"                                                    \
    "  overflow-y: hidden;\n"                                                  \
    "}\n"                                                                      \
    "table {\n"                                                                \
    "  display: block;\n"                                                      \
    "  max-width: 100%;\n"                                                     \
    "  overflow-x: auto;\n"                                                    \
    "  border-collapse: collapse;\n"                                           \
    "  font-size: .9em;\n"                                                     \
    "}\n"                                                                      \
    "th, td {\n"                                                               \
    "  padding: .35em .7em;\n"                                                 \
    "  border: 1px solid #d0d7de;\n"                                           \
    "}\n"                                                                      \
    "th { background-color: #f6f8fa; font-weight: 600; }\n"                    \
    "tr:nth-child(2n) td { background-color: #f9fafb; }\n"                     \
    ".source {\n"                                                              \
    "  margin-top: 1.5em;\n"                                                   \
    "  padding-top: .5em;\n"                                                   \
    "  border-top: 1px dashed #d0d7de;\n"                                      \
    "  font-size: .7em;\n"                                                     \
    "  color: #57606a;\n"                                                      \
    "  word-break: break-all;\n"                                               \
    "}\n"                                                                      \
    ".nightMode.card, .night_mode.card, .nightMode .card, .night_mode .card {\n" \
    "  color: #e6edf3;\n"                                                      \
    "  background-color: #1e1e1e;\n"                                           \
    "}\n"                                                                      \
    ".nightMode a, .night_mode a { color: #58a6ff; }\n"                        \
    ".nightMode code, .night_mode code {\n"                                    \
    "  background-color: rgba(110, 118, 129, .4);\n"                           \
    "}\n"                                                                      \
    ".nightMode pre, .night_mode pre, .nightMode th, .night_mode th {\n"       \
    "  background-color: #2d333b;\n"                                           \
    "}\n"                                                                      \
    ".nightMode pre code, .night_mode pre code { background: none; }\n"        \
    ".nightMode th, .night_mode th, .nightMode td, .night_mode td,\n"          \
    ".nightMode hr#answer, .night_mode hr#answer {\n"                          \
    "  border-color: #444c56;\n"                                               \
    "}\n"                                                                      \
    ".nightMode tr:nth-child(2n) td, .night_mode tr:nth-child(2n) td {\n"      \
    "  background-color: #262c33;\n"                                           \
    "}\n"                                                                      \
    ".nightMode blockquote, .night_mode blockquote,\n"                         \
    ".nightMode .source, .night_mode .source {\n"                              \
    "  color: #9da7b3;\n"                                                      \
    "  border-color: #444c56;\n"                                               \
    "}\n"

#define CSS_CLOZE                                                              \
    CSS_BASE                                                                   \
    ".cloze-text {\n"                                                          \
    "  text-align: left;\n"                                                    \
    "}\n"                                                                      \
    ".cloze {\n"                                                               \
    "  font-weight: bold;\n"                                                   \
    "  color: #0550ae;\n"                                                      \
    "}\n"                                                                      \
    ".nightMode .cloze, .night_mode .cloze {\n"                                \
    "  color: #79c0ff;\n"                                                      \
    "}\n"

/* The Source field (links to where the question came from) is shown under
 * the answer, and only when the note has one. */
#define SOURCE_BLOCK "\n{{#Source}}<div class=\"source\">{{Source}}</div>{{/Source}}"

static const char *const basic_fields[] = {"Question", "Answer", "Source"};
static const char *const cloze_fields[] = {"Text", "Extra", "Source"};

static const struct anki_template basic_tmpls[] = {
    {"Card 1", "<div class=\"question\">{{Question}}</div>",
     "{{FrontSide}}\n\n<hr id=answer>\n\n<div class=\"answer\">{{Answer}}</div>"
     SOURCE_BLOCK,
     FLD_QUESTION},
};

static const struct anki_template reversed_tmpls[] = {
    {"Card 1", "<div class=\"question\">{{Question}}</div>",
     "{{FrontSide}}\n\n<hr id=answer>\n\n<div class=\"answer\">{{Answer}}</div>"
     SOURCE_BLOCK,
     FLD_QUESTION},
    {"Card 2", "<div class=\"answer\">{{Answer}}</div>",
     "{{FrontSide}}\n\n<hr id=answer>\n\n<div class=\"question\">{{Question}}</div>"
     SOURCE_BLOCK,
     FLD_ANSWER},
};

static const struct anki_template cloze_tmpls[] = {
    {"Cloze", "<div class=\"cloze-text\">{{cloze:Text}}</div>",
     "<div class=\"cloze-text\">{{cloze:Text}}</div>\n"
     "{{#Extra}}\n<hr id=answer>\n<div class=\"extra\">{{Extra}}</div>\n{{/Extra}}"
     SOURCE_BLOCK,
     FLD_TEXT},
};

static const struct anki_model model_basic = {
    MDECK_MODEL_BASIC, "mdeck Basic", ANKI_MODEL_STANDARD, MODEL_MOD_BASIC,
    basic_fields, ARRAY_LEN(basic_fields), basic_tmpls, ARRAY_LEN(basic_tmpls),
    CSS_BASE,
};
static const struct anki_model model_reversed = {
    MDECK_MODEL_REVERSED, "mdeck Basic+Reversed", ANKI_MODEL_STANDARD,
    MODEL_MOD_REVERSED, basic_fields, ARRAY_LEN(basic_fields), reversed_tmpls,
    ARRAY_LEN(reversed_tmpls), CSS_BASE,
};
static const struct anki_model model_cloze = {
    MDECK_MODEL_CLOZE, "mdeck Cloze", ANKI_MODEL_CLOZE, MODEL_MOD_CLOZE,
    cloze_fields, ARRAY_LEN(cloze_fields), cloze_tmpls, ARRAY_LEN(cloze_tmpls),
    CSS_CLOZE,
};

const struct anki_model *const anki_models[] = {&model_basic, &model_reversed,
                                                &model_cloze};
const size_t anki_nmodels = ARRAY_LEN(anki_models);

const struct anki_model *anki_model_find(int64_t id)
{
    for (size_t i = 0; i < anki_nmodels; i++)
        if (anki_models[i]->id == id) return anki_models[i];
    return NULL;
}

#define LATEX_PRE                                                              \
    "\\documentclass[12pt]{article}\n\\special{papersize=3in,5in}\n"           \
    "\\usepackage[utf8]{inputenc}\n\\usepackage{amssymb,amsmath}\n"            \
    "\\pagestyle{empty}\n\\setlength{\\parindent}{0in}\n\\begin{document}\n"

json_t *anki_model_json(const struct anki_model *m, int64_t did)
{
    json_t *flds = json_array();
    for (size_t i = 0; i < m->nfields; i++)
        json_array_append_new(
            flds, json_pack("{s:s, s:I, s:b, s:b, s:s, s:i, s:[]}", "name",
                            m->fields[i], "ord", (json_int_t)i, "sticky", 0,
                            "rtl", 0, "font", "Arial", "size", 20, "media"));
    json_t *tmpls = json_array();
    json_t *req = json_array();
    for (size_t i = 0; i < m->ntmpls; i++) {
        const struct anki_template *t = &m->tmpls[i];
        json_array_append_new(
            tmpls, json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:n, s:s, s:i}",
                             "name", t->name, "ord", (json_int_t)i, "qfmt",
                             t->qfmt, "afmt", t->afmt, "bqfmt", "", "bafmt",
                             "", "did", "bfont", "", "bsize", 0));
        /* Every front shows exactly one field, so that field alone decides
         * whether the card exists (2.1.15 _reqForTemplate gives the same). */
        json_array_append_new(req, json_pack("[I, s, [i]]", (json_int_t)i,
                                             "all", t->req_field));
    }
    return json_pack("{s:I, s:s, s:i, s:I, s:i, s:i, s:I, s:[], s:[], s:o, "
                     "s:o, s:s, s:s, s:s, s:b, s:o}",
                     "id", (json_int_t)m->id, "name", m->name, "type", m->type,
                     "mod", (json_int_t)m->mod, "usn", -1, "sortf", 0, "did",
                     (json_int_t)did, "tags", "vers", "flds", flds, "tmpls",
                     tmpls, "css", m->css, "latexPre", LATEX_PRE, "latexPost",
                     "\\end{document}", "latexsvg", 0, "req", req);
}

/* Distinct cloze numbers in text, as Anki 2.1.15 finds them: "{{c" digits
 * "::" followed by at least one character and a later "}}". */
static size_t cloze_ords(const char *text, int *ords)
{
    unsigned char seen[ANKI_MAX_CLOZE + 1] = {0};
    for (const char *p = strstr(text, "{{c"); p; p = strstr(p + 1, "{{c")) {
        const char *q = p + 3;
        long n = 0;
        int digits = 0;
        while (*q >= '0' && *q <= '9') {
            if (n <= ANKI_MAX_CLOZE) n = n * 10 + (*q - '0');
            q++;
            digits++;
        }
        if (!digits || q[0] != ':' || q[1] != ':' || !q[2]) continue;
        if (!strstr(q + 3, "}}")) continue;
        if (n >= 1 && n <= ANKI_MAX_CLOZE) seen[n] = 1;
    }
    size_t k = 0;
    for (int n = 1; n <= ANKI_MAX_CLOZE; n++)
        if (seen[n]) ords[k++] = n - 1;
    return k;
}

size_t anki_card_ords(const struct anki_model *m, const char *const *fields,
                      int *ords)
{
    if (m->type == ANKI_MODEL_CLOZE) {
        size_t k = cloze_ords(fields[FLD_TEXT], ords);
        if (!k) ords[k++] = 0; /* Anki shows a "no cloze" card: still a card */
        return k;
    }
    size_t k = 0;
    for (size_t i = 0; i < m->ntmpls; i++)
        if (fields[m->tmpls[i].req_field][0]) ords[k++] = (int)i;
    return k;
}

void anki_model_fingerprint(const struct anki_model *m, char out[65])
{
    struct buf b = BUF_INIT;
    /* 0x1E between parts: no part can contain it, so no two different
     * definitions serialise the same. */
    buf_addf(&b, "%s\x1e%d", m->name, m->type);
    for (size_t i = 0; i < m->nfields; i++) buf_addf(&b, "\x1e%s", m->fields[i]);
    for (size_t i = 0; i < m->ntmpls; i++)
        buf_addf(&b, "\x1e%s\x1e%s\x1e%s", m->tmpls[i].name, m->tmpls[i].qfmt,
                 m->tmpls[i].afmt);
    buf_addf(&b, "\x1e%s", m->css);
    uint8_t h[32];
    sha256(b.s, b.len, h);
    hex(h, 32, out);
    buf_release(&b);
}

/* --- sort field and checksum ------------------------------------------- */

/* HTML 4 named entities plus &apos; (the table Anki 2.1.15 decodes with),
 * sorted by strcmp for bsearch. */
static const struct entity {
    const char *name;
    uint32_t cp;
} entities[] = {
    {"AElig", 198}, {"Aacute", 193}, {"Acirc", 194}, {"Agrave", 192},
    {"Alpha", 913}, {"Aring", 197}, {"Atilde", 195}, {"Auml", 196},
    {"Beta", 914}, {"Ccedil", 199}, {"Chi", 935}, {"Dagger", 8225},
    {"Delta", 916}, {"ETH", 208}, {"Eacute", 201}, {"Ecirc", 202},
    {"Egrave", 200}, {"Epsilon", 917}, {"Eta", 919}, {"Euml", 203},
    {"Gamma", 915}, {"Iacute", 205}, {"Icirc", 206}, {"Igrave", 204},
    {"Iota", 921}, {"Iuml", 207}, {"Kappa", 922}, {"Lambda", 923},
    {"Mu", 924}, {"Ntilde", 209}, {"Nu", 925}, {"OElig", 338},
    {"Oacute", 211}, {"Ocirc", 212}, {"Ograve", 210}, {"Omega", 937},
    {"Omicron", 927}, {"Oslash", 216}, {"Otilde", 213}, {"Ouml", 214},
    {"Phi", 934}, {"Pi", 928}, {"Prime", 8243}, {"Psi", 936}, {"Rho", 929},
    {"Scaron", 352}, {"Sigma", 931}, {"THORN", 222}, {"Tau", 932},
    {"Theta", 920}, {"Uacute", 218}, {"Ucirc", 219}, {"Ugrave", 217},
    {"Upsilon", 933}, {"Uuml", 220}, {"Xi", 926}, {"Yacute", 221},
    {"Yuml", 376}, {"Zeta", 918}, {"aacute", 225}, {"acirc", 226},
    {"acute", 180}, {"aelig", 230}, {"agrave", 224}, {"alefsym", 8501},
    {"alpha", 945}, {"amp", 38}, {"and", 8743}, {"ang", 8736}, {"apos", 39},
    {"aring", 229}, {"asymp", 8776}, {"atilde", 227}, {"auml", 228},
    {"bdquo", 8222}, {"beta", 946}, {"brvbar", 166}, {"bull", 8226},
    {"cap", 8745}, {"ccedil", 231}, {"cedil", 184}, {"cent", 162},
    {"chi", 967}, {"circ", 710}, {"clubs", 9827}, {"cong", 8773},
    {"copy", 169}, {"crarr", 8629}, {"cup", 8746}, {"curren", 164},
    {"dArr", 8659}, {"dagger", 8224}, {"darr", 8595}, {"deg", 176},
    {"delta", 948}, {"diams", 9830}, {"divide", 247}, {"eacute", 233},
    {"ecirc", 234}, {"egrave", 232}, {"empty", 8709}, {"emsp", 8195},
    {"ensp", 8194}, {"epsilon", 949}, {"equiv", 8801}, {"eta", 951},
    {"eth", 240}, {"euml", 235}, {"euro", 8364}, {"exist", 8707},
    {"fnof", 402}, {"forall", 8704}, {"frac12", 189}, {"frac14", 188},
    {"frac34", 190}, {"frasl", 8260}, {"gamma", 947}, {"ge", 8805},
    {"gt", 62}, {"hArr", 8660}, {"harr", 8596}, {"hearts", 9829},
    {"hellip", 8230}, {"iacute", 237}, {"icirc", 238}, {"iexcl", 161},
    {"igrave", 236}, {"image", 8465}, {"infin", 8734}, {"int", 8747},
    {"iota", 953}, {"iquest", 191}, {"isin", 8712}, {"iuml", 239},
    {"kappa", 954}, {"lArr", 8656}, {"lambda", 955}, {"lang", 9001},
    {"laquo", 171}, {"larr", 8592}, {"lceil", 8968}, {"ldquo", 8220},
    {"le", 8804}, {"lfloor", 8970}, {"lowast", 8727}, {"loz", 9674},
    {"lrm", 8206}, {"lsaquo", 8249}, {"lsquo", 8216}, {"lt", 60},
    {"macr", 175}, {"mdash", 8212}, {"micro", 181}, {"middot", 183},
    {"minus", 8722}, {"mu", 956}, {"nabla", 8711}, {"nbsp", 160},
    {"ndash", 8211}, {"ne", 8800}, {"ni", 8715}, {"not", 172},
    {"notin", 8713}, {"nsub", 8836}, {"ntilde", 241}, {"nu", 957},
    {"oacute", 243}, {"ocirc", 244}, {"oelig", 339}, {"ograve", 242},
    {"oline", 8254}, {"omega", 969}, {"omicron", 959}, {"oplus", 8853},
    {"or", 8744}, {"ordf", 170}, {"ordm", 186}, {"oslash", 248},
    {"otilde", 245}, {"otimes", 8855}, {"ouml", 246}, {"para", 182},
    {"part", 8706}, {"permil", 8240}, {"perp", 8869}, {"phi", 966},
    {"pi", 960}, {"piv", 982}, {"plusmn", 177}, {"pound", 163},
    {"prime", 8242}, {"prod", 8719}, {"prop", 8733}, {"psi", 968},
    {"quot", 34}, {"rArr", 8658}, {"radic", 8730}, {"rang", 9002},
    {"raquo", 187}, {"rarr", 8594}, {"rceil", 8969}, {"rdquo", 8221},
    {"real", 8476}, {"reg", 174}, {"rfloor", 8971}, {"rho", 961},
    {"rlm", 8207}, {"rsaquo", 8250}, {"rsquo", 8217}, {"sbquo", 8218},
    {"scaron", 353}, {"sdot", 8901}, {"sect", 167}, {"shy", 173},
    {"sigma", 963}, {"sigmaf", 962}, {"sim", 8764}, {"spades", 9824},
    {"sub", 8834}, {"sube", 8838}, {"sum", 8721}, {"sup", 8835},
    {"sup1", 185}, {"sup2", 178}, {"sup3", 179}, {"supe", 8839},
    {"szlig", 223}, {"tau", 964}, {"there4", 8756}, {"theta", 952},
    {"thetasym", 977}, {"thinsp", 8201}, {"thorn", 254}, {"tilde", 732},
    {"times", 215}, {"trade", 8482}, {"uArr", 8657}, {"uacute", 250},
    {"uarr", 8593}, {"ucirc", 251}, {"ugrave", 249}, {"uml", 168},
    {"upsih", 978}, {"upsilon", 965}, {"uuml", 252}, {"weierp", 8472},
    {"xi", 958}, {"yacute", 253}, {"yen", 165}, {"yuml", 255}, {"zeta", 950},
    {"zwj", 8205}, {"zwnj", 8204},
};

static int entity_cmp(const void *key, const void *e)
{
    return strcmp(key, ((const struct entity *)e)->name);
}

static int is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Decodes the entity at s ("&…;"); returns its length, or 0 when s does not
 * start a known entity (then it is kept as written).  &#0;, surrogates and
 * values above U+10FFFF are not characters and stay as written too. */
static size_t decode_entity(const char *s, struct buf *out)
{
    size_t i = 1;
    uint64_t cp = 0;
    if (s[1] == '#') {
        int hexa = s[2] == 'x' || s[2] == 'X';
        i = hexa ? 3 : 2;
        size_t start = i;
        while (hexa ? is_hex(s[i]) : (s[i] >= '0' && s[i] <= '9')) {
            if (cp <= 0x10ffff) {
                int d = s[i] <= '9' ? s[i] - '0' : (s[i] | 0x20) - 'a' + 10;
                cp = cp * (hexa ? 16 : 10) + (uint64_t)d;
            }
            i++;
        }
        if (i == start || s[i] != ';') return 0;
        if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    } else {
        while (is_alnum(s[i]) && i < 16) i++;
        if (i == 1 || s[i] != ';') return 0;
        char name[16];
        memcpy(name, s + 1, i - 1);
        name[i - 1] = '\0';
        const struct entity *e = bsearch(name, entities, ARRAY_LEN(entities),
                                         sizeof entities[0], entity_cmp);
        if (!e) return 0;
        cp = e->cp;
    }
    utf8_encode(out, (uint32_t)cp);
    return i + 1;
}

static int starts_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Case-insensitive strstr. */
static const char *find_ci(const char *s, const char *needle)
{
    for (; *s; s++)
        if (starts_ci(s, needle)) return s;
    return NULL;
}

/* <img …src=X…> becomes " X " (the last src= of the tag wins, like the
 * greedy pattern Anki uses: <img[^>]+src=["']?([^"'>]+)["']?[^>]*>). */
static void replace_images(const char *s, struct buf *out)
{
    const char *copied = s;
    for (const char *p = find_ci(s, "<img"); p; p = find_ci(p + 1, "<img")) {
        if (p < copied) continue;
        const char *gt = strchr(p + 4, '>');
        if (!gt) break;
        const char *val = NULL;
        size_t vlen = 0;
        for (const char *q = p + 5; q + 4 <= gt; q++) {
            if (!starts_ci(q, "src=")) continue;
            const char *v = q + 4;
            if (*v == '"' || *v == '\'') v++;
            size_t n = strcspn(v, "\"'>");
            if (n && v + n <= gt) {
                val = v;
                vlen = n;
            }
        }
        if (!val) continue;
        buf_add(out, copied, (size_t)(p - copied));
        buf_addc(out, ' ');
        buf_add(out, val, vlen);
        buf_addc(out, ' ');
        copied = gt + 1;
    }
    buf_adds(out, copied);
}

/* Removes every open…close span; with a non-NULL mid, open must be followed
 * by mid before close is looked for (<style …> … </style>). Matching is
 * case-insensitive; an unclosed span is kept. */
static void remove_spans(const char *s, const char *open, const char *mid,
                         const char *close, struct buf *out)
{
    const char *copied = s;
    for (const char *p = find_ci(s, open); p; p = find_ci(p + 1, open)) {
        if (p < copied) continue;
        const char *q = p + strlen(open);
        if (mid) {
            q = strstr(q, mid);
            if (!q) break;
            q += strlen(mid);
        }
        const char *end = find_ci(q, close);
        if (!end) break;
        buf_add(out, copied, (size_t)(p - copied));
        copied = end + strlen(close);
    }
    buf_adds(out, copied);
}

void anki_strip_html(const char *html, struct buf *out)
{
    /* Without a tag, an entity or a U+00A0 there is nothing to strip: the
     * common case for questions, and one scan instead of six passes. */
    if (!strpbrk(html, "<&\xc2")) {
        buf_adds(out, html);
        return;
    }
    struct buf a = BUF_INIT, b = BUF_INIT;
    replace_images(html, &a);
    remove_spans(a.s, "<!--", NULL, "-->", &b);
    buf_reset(&a);
    remove_spans(b.s, "<style", ">", "</style>", &a);
    buf_reset(&b);
    remove_spans(a.s, "<script", ">", "</script>", &b);
    buf_reset(&a);
    remove_spans(b.s, "<", NULL, ">", &a);
    buf_reset(&b);
    for (const char *p = a.s; *p;) {
        size_t n;
        if (*p == '&' && (n = decode_entity(p, &b))) {
            p += n;
        } else {
            buf_addc(&b, *p);
            p++;
        }
    }
    /* U+00A0 (from &nbsp; or written directly) counts as a space. */
    for (size_t i = 0; i < b.len; i++) {
        if ((unsigned char)b.s[i] == 0xc2 && (unsigned char)b.s[i + 1] == 0xa0) {
            buf_addc(out, ' ');
            i++;
        } else {
            buf_addc(out, b.s[i]);
        }
    }
    buf_release(&a);
    buf_release(&b);
}

uint32_t anki_csum(const char *first_field_html)
{
    struct buf b = BUF_INIT;
    anki_strip_html(first_field_html, &b);
    uint8_t h[20];
    sha1(b.s, b.len, h);
    buf_release(&b);
    return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

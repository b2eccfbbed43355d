/* xmllib.c - libxml2, loaded the first time mdeck needs it.
 *
 * Most builds never call libxml2: the renderer's own HTML is canonical and
 * is copied, not parsed (docs/performance.md).  Linked, libxml2 and what
 * it brings (ICU, libstdc++) were loaded by every run of mdeck: 1.25 ms of
 * `mdeck --version`, 2-3 ms of a 1,000-question build that takes ~30 ms.
 * So the binary is not linked with it: the functions mdeck calls are
 * defined here, with libxml2's own prototypes (its headers are included,
 * so the compiler checks each one), and each forwards to the library,
 * which the first call opens with dlopen().  (systemd opens its optional
 * libraries with dlopen() too.)
 *
 * These definitions are not exported (the executable has no dynamic
 * symbol table entries for them), so libxml2's calls to itself still reach
 * libxml2.  When the library cannot be opened, mdeck says so and exits
 * with status 3, an error of the environment (src/cmds.h): no output has
 * been replaced then (answers are rendered before any output is made, and
 * a temporary left in an output folder is removed by the next build). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <libxml/HTMLparser.h>
#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlstring.h>

/* The soname Debian's libxml2 package ships (libxml2.so.2); the package's
 * Depends names the package (packaging/). */
#define XML_SONAME "libxml2.so.2"

/* F(return type, name, (parameters), (arguments)) for each function that
 * returns a value, V(name, (parameters), (arguments)) for the others. */
#define XML_FUNCS(F, V)                                                                   \
    F(htmlDocPtr, htmlReadMemory,                                                         \
      (const char *buffer, int size, const char *URL, const char *encoding, int options), \
      (buffer, size, URL, encoding, options))                                             \
    F(const htmlEntityDesc *, htmlEntityLookup, (const xmlChar *name), (name))           \
    F(int, htmlIsBooleanAttr, (const xmlChar *name), (name))                             \
    V(xmlInitParser, (void), ())                                                          \
    V(xmlSetStructuredErrorFunc, (void *ctx, xmlStructuredErrorFunc handler),             \
      (ctx, handler))                                                                     \
    F(xmlStructuredErrorFunc *, __xmlStructuredError, (void), ())                         \
    F(void **, __xmlStructuredErrorContext, (void), ())                                   \
    F(xmlNodePtr, xmlDocGetRootElement, (const xmlDoc *doc), (doc))                      \
    V(xmlFreeDoc, (xmlDocPtr cur), (cur))                                                 \
    V(xmlUnlinkNode, (xmlNodePtr cur), (cur))                                             \
    V(xmlFreeNode, (xmlNodePtr cur), (cur))                                               \
    F(xmlNodePtr, xmlAddPrevSibling, (xmlNodePtr cur, xmlNodePtr elem), (cur, elem))      \
    F(xmlChar *, xmlGetProp, (const xmlNode *node, const xmlChar *name), (node, name))   \
    F(xmlAttrPtr, xmlHasProp, (const xmlNode *node, const xmlChar *name), (node, name))  \
    F(xmlAttrPtr, xmlSetProp, (xmlNodePtr node, const xmlChar *name, const xmlChar *value), \
      (node, name, value))                                                                \
    F(int, xmlRemoveProp, (xmlAttrPtr cur), (cur))                                        \
    F(xmlChar *, xmlNodeListGetString, (xmlDocPtr doc, const xmlNode *list, int inLine),  \
      (doc, list, inLine))                                                                \
    F(long, xmlGetLineNo, (const xmlNode *node), (node))                                  \
    F(int, xmlStrcasecmp, (const xmlChar *str1, const xmlChar *str2), (str1, str2))

#define PTR(ret, name, params, args) ret(*name) params;
#define VPTR(name, params, args) void(*name) params;
static struct {
    XML_FUNCS(PTR, VPTR)
    xmlFreeFunc *xmlFree; /* the library's variable */
} lib;

static void load(void)
{
    void *h = dlopen(XML_SONAME, RTLD_NOW | RTLD_LOCAL);
    const char *missing = NULL;
    if (h) {
#define VRESOLVE(name, params, args)             \
    if (!missing) {                              \
        *(void **)&lib.name = dlsym(h, #name);   \
        if (!lib.name) missing = #name;          \
    }
#define RESOLVE(ret, name, params, args) VRESOLVE(name, params, args)
        XML_FUNCS(RESOLVE, VRESOLVE)
        VRESOLVE(xmlFree, , )
#undef RESOLVE
#undef VRESOLVE
    }
    if (!h || missing) {
        /* Nothing sensible can go on without it: say what is wrong and
         * stop, from whichever thread got here (exit() would run the
         * process's exit handlers under the other threads' feet). */
        if (!h)
            fprintf(stderr, "mdeck: error: cannot load %s: %s; install the libxml2 package\n",
                    XML_SONAME, dlerror());
        else
            fprintf(stderr,
                    "mdeck: error: the %s found has no %s: it is not libxml2 2.9 or later; "
                    "install the libxml2 package (or mend LD_LIBRARY_PATH)\n",
                    XML_SONAME, missing);
        _exit(3);
    }
    /* Once, before any other call, from whichever thread comes first:
     * the other threads wait in pthread_once() until it is done. */
    lib.xmlInitParser();
}

static void need(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, load);
}

#define WRAP(ret, name, params, args) \
    ret name params                   \
    {                                 \
        need();                       \
        return lib.name args;         \
    }
#define VWRAP(name, params, args) \
    void name params              \
    {                             \
        need();                   \
        lib.name args;            \
    }
XML_FUNCS(WRAP, VWRAP)

/* xmlFree is a variable in this libxml2 (a pointer to the function that
 * frees what it allocates: free(), unless someone calls xmlMemSetup()).
 * Ours forwards to whatever the library's holds. */
static void free_through_lib(void *p)
{
    need();
    (*lib.xmlFree)(p);
}
xmlFreeFunc xmlFree = free_through_lib;

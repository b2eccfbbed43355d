/* scratch.c - a scratch folder per unit test. */
#include "scratch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mdeck/util.h"

char scratch_dir[64];

int scratch_setup(void **state)
{
    (void)state;
    strcpy(scratch_dir, "/tmp/mdeck-unit-XXXXXX");
    return mkdtemp(scratch_dir) ? 0 : -1;
}

int scratch_teardown(void **state)
{
    (void)state;
    char *cmd = xasprintf("rm -rf '%s'", scratch_dir);
    int rc = system(cmd);
    free(cmd);
    return rc;
}

void scratch_set_now(long long t)
{
    char s[32];
    snprintf(s, sizeof s, "%lld", t);
    setenv("MDECK_NOW", s, 1);
}

void scratch_write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

void scratch_put(const char *rel, const char *text, int by_rename)
{
    char *p = xasprintf("%s/%s", scratch_dir, rel);
    for (char *q = p + strlen(scratch_dir) + 1; (q = strchr(q, '/')); q++) {
        *q = '\0';
        assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
        *q = '/';
    }
    char *tmp = xasprintf("%s.tmp~", p);
    scratch_write_bytes(by_rename ? tmp : p, text, strlen(text));
    if (by_rename) assert_int_equal(rename(tmp, p), 0);
    free(tmp);
    free(p);
}

const unsigned char scratch_png[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49,
    0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
    0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44,
    0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00,
    0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
};
const size_t scratch_png_size = sizeof scratch_png;

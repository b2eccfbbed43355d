/* scratch.c - a scratch folder per unit test. */
#include "scratch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

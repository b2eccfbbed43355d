/* scratch.c - a scratch folder per unit test. */
#include "scratch.h"

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

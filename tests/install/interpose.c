/*
 * A program that defines functions with the names of some of the library's
 * internal helpers, as a user's program may by chance. Linked with
 * examples/shard_ddl.c against libddlcoord.so (tests/install/CMakeLists.txt):
 * with only the public API exported, the library keeps calling its own
 * helpers and the example's checks pass; if the library's calls reached
 * these, the run ends here with exit 99 (before DC_API, the library crashed
 * or hung).
 */
#include <stdio.h>
#include <unistd.h>

static void interposed(const char *name)
{
    fprintf(stderr, "libddlcoord called the program's own %s(): its internal names leak\n", name);
    fflush(stderr);
    _exit(99);
}

void mem_find(void);
void view_read(void);
void master_flush(void);
void mem_find(void)
{
    interposed("mem_find");
}
void view_read(void)
{
    interposed("view_read");
}
void master_flush(void)
{
    interposed("master_flush");
}

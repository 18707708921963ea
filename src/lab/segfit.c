/* lab/segfit.c: placeholder until the segfit allocator lands (create fails, so nothing uses it). */
#include "heaplab/lab.h"

static size_t ph_state_size(size_t a)
{
    (void)a;
    return 16;
}
static int ph_create(void *s, void *a, size_t n)
{
    (void)s;
    (void)a;
    (void)n;
    return -1;
}
static void *ph_alloc(void *s, size_t n)
{
    (void)s;
    (void)n;
    return NULL;
}
static void ph_free(void *s, void *p)
{
    (void)s;
    (void)p;
}
static size_t ph_usable(void *s, const void *p)
{
    (void)s;
    (void)p;
    return 0;
}
static int ph_check(void *s, char *e, size_t n)
{
    (void)s;
    (void)e;
    (void)n;
    return 0;
}
static void ph_stats(void *s, struct lab_stats *o)
{
    (void)s;
    *o = (struct lab_stats){ 0 };
}
static void ph_snapshot(void *s, struct lab_paint *p)
{
    (void)s;
    (void)p;
}
#define PH(sym, nm)                                           \
    const struct lab_ops sym = { .name = nm,                  \
                                 .summary = "not built yet",  \
                                 .state_size = ph_state_size, \
                                 .create = ph_create,         \
                                 .alloc = ph_alloc,           \
                                 .free = ph_free,             \
                                 .usable_size = ph_usable,    \
                                 .check = ph_check,           \
                                 .stats = ph_stats,           \
                                 .snapshot = ph_snapshot }
PH(lab_segfit, "segfit");

/*
 * lab/lab.c: the lab registry and arena instances.
 */
#include "heaplab/lab.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

extern const struct lab_ops lab_bump, lab_firstfit, lab_firstfit_next, lab_firstfit_best,
        lab_segfit, lab_buddy, lab_slab, lab_span;

const struct lab_ops *const lab_list[] = {
    &lab_bump, &lab_firstfit, &lab_segfit,        &lab_buddy,
    &lab_slab, &lab_span,     &lab_firstfit_next, &lab_firstfit_best,
};
const size_t lab_count = sizeof lab_list / sizeof lab_list[0];

const struct lab_ops *lab_find(const char *name)
{
    for (size_t i = 0; i < lab_count; i++)
        if (strcmp(lab_list[i]->name, name) == 0) return lab_list[i];
    return NULL;
}

static void *map_zeroed(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int lab_heap_open(struct lab_heap *h, const struct lab_ops *ops, size_t arena_size)
{
    memset(h, 0, sizeof *h);
    if (arena_size < LAB_ARENA_MIN || arena_size > LAB_ARENA_MAX
        || (arena_size & (arena_size - 1)) != 0) {
        errno = EINVAL;
        return -1;
    }
    size_t state = ops->state_size(arena_size);
    if (state == 0) state = 1;
    /* The arena is aligned to its own size, so buddy addresses are offsets XOR sizes and a
     * teaching allocator may mask pointers; map twice the size and trim. */
    unsigned char *raw = map_zeroed(arena_size * 2);
    if (raw == NULL) return -1;
    uintptr_t a = ((uintptr_t)raw + arena_size - 1) & ~(uintptr_t)(arena_size - 1);
    size_t head = a - (uintptr_t)raw;
    if (head != 0) munmap(raw, head);
    if (arena_size - head != 0) munmap((unsigned char *)a + arena_size, arena_size - head);
    void *self = map_zeroed(state);
    if (self == NULL) {
        munmap((void *)a, arena_size);
        return -1;
    }
    h->ops = ops;
    h->self = self;
    h->self_size = state;
    h->arena = (unsigned char *)a;
    h->arena_size = arena_size;
    if (ops->create(self, h->arena, arena_size) != 0) {
        lab_heap_close(h);
        errno = EINVAL;
        return -1;
    }
    return 0;
}

void lab_heap_close(struct lab_heap *h)
{
    if (h->ops != NULL && h->self != NULL && h->ops->destroy != NULL) h->ops->destroy(h->self);
    if (h->self != NULL) munmap(h->self, h->self_size);
    if (h->arena != NULL) munmap(h->arena, h->arena_size);
    memset(h, 0, sizeof *h);
}

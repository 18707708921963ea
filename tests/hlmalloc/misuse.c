/*
 * tests/hlmalloc/misuse.c: heap misuse programs, one case per run.
 *
 *   misuse --list     prints every case name, one a line
 *   misuse CASE       commits that misuse, then keeps using the heap a little (frees the
 *                     neighbours, allocates and frees more of the size) and exits
 *
 * Exit status: 0 the program survived and saw nothing wrong; 42 the misuse had no effect
 * (a read of freed memory did not return the old data, a corrupted free list did not hand
 * out the planted pointer): mitigated, not reported; 3 the misuse worked (the planted
 * pointer came back); 2 usage. An allocator that detects the misuse kills the program
 * (SIGABRT, or SIGSEGV from a guard page) or reports it on stderr.
 *
 * Case names: KIND-TIER[-VARIANT]. Tiers are every hlmalloc size class (c16 .. c131072,
 * the requested size being the class size: the worst case for a canary), `large`
 * (300000 bytes) and `huge` (20 MiB), or `small`/`medium`/`large`/`huge` where one
 * representative size per tier is enough.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define NCLASSES 48
#define LARGE    300000u
#define HUGE     (20u << 20)

/* Keeps the compiler from reasoning about pointers and values. */
static void *volatile sink;
static void *hide(void *p)
{
    sink = p;
    return sink;
}

static char static_data[256];

static size_t class_size(unsigned i)
{
    if (i < 8) return (i + 1) * 16;
    unsigned k = i - 8;
    size_t base = (size_t)128 << (k / 4);
    return base + base / 4 * (k % 4 + 1);
}

/* The requested size of a tier name ("c64", "small", "large", ...); 0 if unknown. */
static size_t tier_size(const char *t)
{
    if (t[0] == 'c') return (size_t)strtoul(t + 1, NULL, 10);
    if (!strcmp(t, "small")) return 64;
    if (!strcmp(t, "medium")) return 20000;
    if (!strcmp(t, "large")) return LARGE;
    if (!strcmp(t, "huge")) return HUGE;
    return 0;
}

/* Some ordinary heap traffic of size n (and others) after the misuse. */
static void churn(size_t n)
{
    void *v[8];
    for (int r = 0; r < 4; r++) {
        for (int i = 0; i < 8; i++)
            v[i] = hide(malloc(n));
        for (int i = 0; i < 8; i++)
            free(v[i]);
    }
    for (size_t s = 16; s <= 65536; s *= 2)
        free(hide(malloc(s)));
}

/* Writes k bytes at p + at, one byte at a time (direct) or with memcpy. */
static void scribble(char *p, long at, size_t k, int use_memcpy)
{
    static const char src[64] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    if (use_memcpy) {
        memcpy(hide(p + at), src, k);
        return;
    }
    volatile char *q = p + at;
    for (size_t i = 0; i < k; i++)
        q[i] = 'A';
}

/* over|under-K-TIER-direct|memcpy: four blocks of the size, the third written K bytes past
 * its requested end (or before its start), then all freed in order. */
static int bounds(int over, size_t k, size_t n, int use_memcpy)
{
    char *x[4];
    for (int i = 0; i < 4; i++)
        x[i] = hide(malloc(n));
    scribble(x[2], over ? (long)n : -(long)k, k, use_memcpy);
    for (int i = 0; i < 4; i++)
        free(x[i]);
    churn(n);
    return 0;
}

/* neighbour-TIER: the block overflows 32 bytes into a live neighbour; only the neighbour
 * is freed. */
static int neighbour(size_t n)
{
    char *a = hide(malloc(n)), *b = hide(malloc(n));
    scribble(a, (long)n, 32, 0);
    free(b);
    churn(n);
    return 0;
}

static int double_free(size_t n, const char *how)
{
    char *p = hide(malloc(n));
    free(p);
    if (!strcmp(how, "reused")) {
        /* handed out again (mostly at the same address) and freed again, then p once more */
        free(hide(malloc(n)));
    } else if (!strcmp(how, "repeated")) {
        /* five blocks, each freed twice: what a report's rate limit is tested on */
        for (int i = 0; i < 4; i++) {
            char *q = hide(malloc(n));
            free(q);
            free(hide(q));
        }
    } else if (!strcmp(how, "stale")) {
        /* p freed while the block is someone else's again */
        hide(malloc(n));
    }
    free(hide(p));
    churn(n);
    return 0;
}

static int invalid_free(const char *how)
{
    char *p = hide(malloc(64));
    if (!strcmp(how, "foreign")) {
        char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        free(hide(m + 16));
    } else if (!strcmp(how, "interior")) {
        free(hide(p + 16));
    } else if (!strcmp(how, "unaligned")) {
        free(hide(p + 1));
    } else if (!strcmp(how, "stack")) {
        long words[8] = { 0 };
        free(hide(&words[2]));
    } else if (!strcmp(how, "static")) {
        free(hide(static_data + 32));
    } else if (!strcmp(how, "past-end")) {
        free(hide(p + 64));
    } else if (!strcmp(how, "interior-large")) {
        free(hide((char *)hide(malloc(LARGE)) + 4096));
    } else if (!strcmp(how, "interior-huge")) {
        free(hide((char *)hide(malloc(HUGE)) + 4096));
    } else {
        return 2;
    }
    churn(64);
    return 0;
}

/* delete of new[] memory and the reverse, through libstdc++'s operators: an array of a
 * type with a destructor carries its count in the word before the elements, so `delete`
 * frees a pointer one word into the block, and `delete[]` of a single object one word
 * before it. */
static int cxx_mismatch(int array_deleted_plain)
{
    void *lib = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL);
    if (!lib) return 0;
    void *(*new_array)(size_t);
    void *(*new_one)(size_t);
    void (*del_one)(void *);
    void (*del_array)(void *);
    /* POSIX's way round ISO C's object-to-function pointer conversion */
    *(void **)&new_array = dlsym(lib, "_Znam");
    *(void **)&new_one = dlsym(lib, "_Znwm");
    *(void **)&del_one = dlsym(lib, "_ZdlPv");
    *(void **)&del_array = dlsym(lib, "_ZdaPv");
    if (!new_array || !new_one || !del_one || !del_array) return 0;
    if (array_deleted_plain) {
        size_t *raw = hide(new_array(8 + 10 * 24));
        raw[0] = 10;
        del_one(hide(raw + 1));
    } else {
        char *obj = hide(new_one(24));
        del_array(hide(obj - 8));
    }
    churn(64);
    return 0;
}

/* write-after-free-TIER-head|mid: 8 bytes written at the start (the free-list link in
 * most allocators) or the middle of a freed block, then more traffic of the size. */
static int write_after_free(size_t n, int mid)
{
    char *p = hide(malloc(n));
    memset(p, 'S', n < 4096 ? n : 4096);
    free(p);
    scribble(p, mid ? (long)(n / 2) : 0, 8, 0);
    churn(n);
    return 0;
}

/* read-after-free-TIER: does a read of freed memory return the old data? */
static int read_after_free(size_t n)
{
    char *p = hide(malloc(n));
    memset(p, 'S', n);
    free(p);
    volatile char *q = hide(p);
    char got[8];
    for (int i = 0; i < 8; i++)
        got[i] = q[n / 2 + (size_t)i];
    return memcmp(got, "SSSSSSSS", 8) == 0 ? 0 : 42;
}

/* freelist-TIER-live|stack: the first word of a freed block (the link in most allocators)
 * set to a live block's address or a stack buffer's; does malloc hand that out? */
static int freelist(size_t n, int to_stack)
{
    static char *volatile planted;
    char stackbuf[256] __attribute__((aligned(64)));
    char *a = hide(malloc(n)), *live = hide(malloc(n));
    planted = to_stack ? stackbuf + 64 : live;
    free(a);
    memcpy(a, (const void *)&planted, sizeof(planted));
    for (int i = 0; i < 4; i++) {
        char *q = hide(malloc(n));
        if (q == planted) return 3;
    }
    return 42;
}

/* malloc0-write1|write16|read: a zero-size block written or read. */
static int malloc0(const char *how)
{
    if (!strcmp(how, "read")) {
        char *old = hide(malloc(8));
        memset(old, 'S', 8);
        free(old);
        volatile char *z = hide(malloc(0));
        char got[8];
        for (int i = 0; i < 8; i++)
            got[i] = z[i];
        return memcmp(got, "SSSSSSSS", 8) == 0 ? 0 : 42;
    }
    char *z = hide(malloc(0));
    scribble(z, 0, !strcmp(how, "write1") ? 1 : 16, 0);
    free(z);
    churn(16);
    return 0;
}

static void list(void)
{
    static const char *tiers4[] = { "small", "medium", "large", "huge" };
    for (int t = 0; t < 4; t++) {
        printf("double-free-%s-now\ndouble-free-%s-reused\ndouble-free-%s-stale\n", tiers4[t],
               tiers4[t], tiers4[t]);
    }
    puts("double-free-small-repeated");
    puts("invalid-free-foreign\ninvalid-free-interior\ninvalid-free-unaligned\n"
         "invalid-free-stack\ninvalid-free-static\ninvalid-free-past-end\n"
         "invalid-free-interior-large\ninvalid-free-interior-huge\n"
         "invalid-free-delete-of-new-array\ninvalid-free-delete-array-of-new");
    for (int dir = 0; dir < 2; dir++)
        for (int k = 0; k < 2; k++)
            for (unsigned c = 0; c < NCLASSES + 2; c++)
                for (int m = 0; m < 2; m++) {
                    char tier[16];
                    if (c < NCLASSES)
                        snprintf(tier, sizeof(tier), "c%zu", class_size(c));
                    else
                        snprintf(tier, sizeof(tier), "%s", c == NCLASSES ? "large" : "huge");
                    printf("%s-%d-%s-%s\n", dir ? "under" : "over", k ? 32 : 1, tier,
                           m ? "memcpy" : "direct");
                }
    puts("neighbour-small\nneighbour-medium\nneighbour-large");
    for (int t = 0; t < 4; t++)
        printf("write-after-free-%s-head\nwrite-after-free-%s-mid\n", tiers4[t], tiers4[t]);
    for (int t = 0; t < 4; t++)
        printf("read-after-free-%s\n", tiers4[t]);
    puts("freelist-small-live\nfreelist-small-stack\nfreelist-medium-live\n"
         "freelist-medium-stack");
    puts("malloc0-write1\nmalloc0-write16\nmalloc0-read");
}

/* Splits "a-b-c" after the given prefix; returns the rest or NULL. */
static const char *after(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

static int run_bounds(const char *c)
{
    int over = after(c, "over-") != NULL;
    const char *r = over ? c + 5 : c + 6;
    size_t k = (size_t)strtoul(r, NULL, 10);
    const char *tier = strchr(r, '-');
    if (!tier || (k != 1 && k != 32)) return 2;
    char name[16];
    const char *end = strchr(tier + 1, '-');
    if (!end || (size_t)(end - tier - 1) >= sizeof(name)) return 2;
    memcpy(name, tier + 1, (size_t)(end - tier - 1));
    name[end - tier - 1] = 0;
    size_t n = tier_size(name);
    if (n == 0) return 2;
    return bounds(over, k, n, !strcmp(end + 1, "memcpy"));
}

static int run(const char *c)
{
    const char *r;
    if ((r = after(c, "double-free-")) != NULL) {
        char tier[16];
        const char *how = strchr(r, '-');
        if (!how || (size_t)(how - r) >= sizeof(tier)) return 2;
        memcpy(tier, r, (size_t)(how - r));
        tier[how - r] = 0;
        return double_free(tier_size(tier), how + 1);
    }
    if ((r = after(c, "invalid-free-delete-of-new-array")) != NULL) return cxx_mismatch(1);
    if ((r = after(c, "invalid-free-delete-array-of-new")) != NULL) return cxx_mismatch(0);
    if ((r = after(c, "invalid-free-")) != NULL) return invalid_free(r);
    if (after(c, "over-") || after(c, "under-")) return run_bounds(c);
    if ((r = after(c, "neighbour-")) != NULL) return neighbour(tier_size(r));
    if ((r = after(c, "write-after-free-")) != NULL) {
        char tier[16];
        const char *how = strchr(r, '-');
        if (!how || (size_t)(how - r) >= sizeof(tier)) return 2;
        memcpy(tier, r, (size_t)(how - r));
        tier[how - r] = 0;
        return write_after_free(tier_size(tier), !strcmp(how + 1, "mid"));
    }
    if ((r = after(c, "read-after-free-")) != NULL) return read_after_free(tier_size(r));
    if ((r = after(c, "freelist-")) != NULL)
        return freelist(tier_size(after(r, "small") ? "small" : "medium"),
                        strstr(r, "stack") != NULL);
    if ((r = after(c, "malloc0-")) != NULL) return malloc0(r);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: misuse --list | misuse CASE\n");
        return 2;
    }
    if (!strcmp(argv[1], "--list")) {
        list();
        return 0;
    }
    int rc = run(argv[1]);
    if (rc == 2) fprintf(stderr, "misuse: unknown case \"%s\"\n", argv[1]);
    return rc;
}

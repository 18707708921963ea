/* workload/registry.c: the list of workloads and building a stream from one. */
#include <string.h>

#include "util/diag.h"
#include "workload/workload.h"

/* Defined one per workload in size.c, fragmentation.c, micro.c, app.c, threads.c. */
extern const struct workload wl_small, wl_medium, wl_large, wl_large_live, wl_mixed, wl_churn,
        wl_fragmentation, wl_webserver, wl_kvstore, wl_json_tree, wl_redis_cache, wl_nginx_requests,
        wl_python_repl, wl_adversarial, wl_single_size, wl_bulk, wl_reverse_free, wl_random_stress,
        wl_known_live, wl_fifo_lifo, wl_realloc_grow, wl_thread_local, wl_producer_consumer,
        wl_shared_pool, wl_thread_churn, wl_server;

const struct workload *const workload_list[] = {
    &wl_small,
    &wl_medium,
    &wl_large,
    &wl_large_live,
    &wl_mixed,
    &wl_churn,
    &wl_fragmentation,
    &wl_webserver,
    &wl_kvstore,
    &wl_json_tree,
    &wl_redis_cache,
    &wl_nginx_requests,
    &wl_python_repl,
    &wl_adversarial,
    &wl_single_size,
    &wl_bulk,
    &wl_reverse_free,
    &wl_random_stress,
    &wl_known_live,
    &wl_fifo_lifo,
    &wl_realloc_grow,
    &wl_thread_local,
    &wl_producer_consumer,
    &wl_shared_pool,
    &wl_thread_churn,
    &wl_server,
};
const size_t workload_count = sizeof(workload_list) / sizeof(workload_list[0]);

const struct workload *workload_find(const char *name)
{
    for (size_t i = 0; i < workload_count; i++)
        if (strcmp(workload_list[i]->name, name) == 0) return workload_list[i];
    return NULL;
}

int workload_build(const struct workload *w, const struct wl_params *p, struct opstream *s,
                   struct diag *d)
{
    unsigned threads = p->threads ? p->threads : 1;
    if (threads < w->min_threads)
        return diag_set(d, "workload %s needs at least %u threads", w->name, w->min_threads);
    if (opstream_init(s, threads, w->shape == WL_SHARED, d) != 0) return -1;
    uint64_t ops = p->ops ? p->ops : w->default_ops;
    struct prng rng;
    int rc = 0;
    /* Room for every thread's ops up front (generators land within a few percent). */
    for (unsigned t = 0; t < threads && rc == 0; t++)
        rc = opstream_reserve(s, t, (size_t)(ops + ops / 16 + 64));
    if (w->shape == WL_PER_THREAD) {
        for (unsigned t = 0; t < threads && rc == 0; t++) {
            /* Thread t of a seed gets the same ops at any thread count. */
            prng_seed(&rng, p->seed, t);
            struct wl_ctx c = { .s = s, .thread = t, .threads = threads, .ops = ops, .rng = &rng };
            rc = w->generate(&c);
        }
    } else {
        prng_seed(&rng, p->seed, 0);
        struct wl_ctx c = { .s = s, .thread = 0, .threads = threads, .ops = ops, .rng = &rng };
        rc = w->generate(&c);
    }
    if (rc != 0 || s->error) {
        diag_set(d, "workload %s: building the stream failed: %s", w->name,
                 s->error ? strerror(s->error) : "generator error");
        opstream_destroy(s);
        return -1;
    }
    return 0;
}

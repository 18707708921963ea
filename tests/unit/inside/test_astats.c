/*
 * tests/unit/inside/test_astats.c: the statistics adapter of this process's own malloc
 * (glibc: mallinfo2) fills the fields it promises, and only those, and its allocated bytes
 * track a known live set; an allocator heaplab knows nothing of says "not exposed". The
 * other allocators' adapters are checked under LD_PRELOAD by tests/cli/test_inside.sh.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "inside/inside.h"

#define N    2000
#define SIZE 1000

static int is_glibc(const struct astats_src *src)
{
    return src->source == ASTATS_GLIBC && strstr(src->provider, "libc.so") != NULL;
}

static void test_astats_finds_glibc_in_this_process(void)
{
    struct astats_src src;
    astats_open(&src);
    SKIP_IF(strstr(src.provider, "libc.so") == NULL, "malloc is not glibc's (a sanitizer)");
    CHECK(src.source == ASTATS_GLIBC);
    CHECK(strcmp(src.name, "mallinfo2") == 0);
}

static void test_astats_glibc_fills_what_it_promises(void)
{
    struct astats_src src;
    astats_open(&src);
    SKIP_IF(!is_glibc(&src), "malloc is not glibc's (a sanitizer)");
    static struct astats st;
    astats_read(&src, &st);
    astats_finish(&st);
    CHECK(st.allocated_bytes > 0);
    CHECK(st.mapped_bytes > 0);
    CHECK(st.retained_bytes >= 0);
    CHECK(st.active_bytes == ASTATS_NULL);
    CHECK(st.resident_bytes == ASTATS_NULL);
    CHECK(st.metadata_bytes == ASTATS_NULL);
    CHECK(st.thread_cache_bytes == ASTATS_NULL);
    CHECK_EQ_U64(st.n_classes, 0);
    CHECK(st.n_raw >= 9);
}

static void test_astats_glibc_allocated_tracks_live_bytes(void)
{
    struct astats_src src;
    astats_open(&src);
    SKIP_IF(!is_glibc(&src), "malloc is not glibc's (a sanitizer)");
    static struct astats before, after, freed;
    static void *p[N];
    astats_read(&src, &before);
    for (int i = 0; i < N; i++)
        p[i] = malloc(SIZE);
    astats_read(&src, &after);
    for (int i = 0; i < N; i += 2)
        free(p[i]);
    astats_read(&src, &freed);
    int64_t grew = after.allocated_bytes - before.allocated_bytes;
    int64_t left = freed.allocated_bytes - before.allocated_bytes;
    /* glibc rounds 1000 up to a 1008-byte chunk (1000 + 8, to 16); tcache keeps the frees of
     * up to 7 chunks of a size as allocated. */
    CHECK(grew >= (int64_t)N * SIZE && grew <= (int64_t)N * 1008 + 4096);
    CHECK(left >= (int64_t)N / 2 * SIZE && left <= (int64_t)N / 2 * 1008 + 7 * 1008 + 4096);
    for (int i = 1; i < N; i += 2)
        free(p[i]);
}

static void test_astats_unknown_allocator_is_not_exposed(void)
{
    struct astats_src src;
    memset(&src, 0, sizeof src);
    src.source = ASTATS_NONE;
    src.name = "none";
    strcpy(src.provider, "/opt/lib/libmy.so");
    static struct astats st;
    astats_read(&src, &st);
    astats_finish(&st);
    CHECK(strstr(st.note, "not exposed") != NULL);
    CHECK(st.allocated_bytes == ASTATS_NULL && st.mapped_bytes == ASTATS_NULL);
    CHECK(st.retained_bytes == ASTATS_NULL);
    cJSON *j = astats_json(&src, &st);
    REQUIRE(j);
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "allocated_bytes")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "classes")));
    cJSON_Delete(j);
}

static void test_astats_merge_adds_parts_and_retained_follows(void)
{
    static struct astats st, part;
    astats_clear(&st);
    astats_clear(&part);
    part.allocated_bytes = 700;
    part.active_bytes = 1000;
    part.free_pages_bytes = 4096;
    part.n_classes = 1;
    part.classes[0] = (struct astats_class){ .size_bytes = 64,
                                             .objects_live = 10,
                                             .objects_free = ASTATS_NULL,
                                             .slabs = 1,
                                             .slab_bytes = 1000,
                                             .capacity = 15,
                                             .requests = ASTATS_NULL,
                                             .fills = ASTATS_NULL };
    astats_merge(&st, &part);
    astats_merge(&st, &part);
    astats_finish(&st);
    CHECK(st.allocated_bytes == 1400);
    CHECK(st.active_bytes == 2000);
    CHECK(st.retained_bytes == 600 + 8192);
    REQUIRE(st.n_classes == 1);
    CHECK(st.classes[0].objects_live == 20 && st.classes[0].capacity == 30);
    CHECK(st.classes[0].objects_free == ASTATS_NULL);
}

int main(void)
{
    RUN_TEST(test_astats_finds_glibc_in_this_process);
    RUN_TEST(test_astats_glibc_fills_what_it_promises);
    RUN_TEST(test_astats_glibc_allocated_tracks_live_bytes);
    RUN_TEST(test_astats_unknown_allocator_is_not_exposed);
    RUN_TEST(test_astats_merge_adds_parts_and_retained_follows);
    return check_report();
}

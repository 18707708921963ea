/*
 * tests/fuzz/fuzz_results.c: libFuzzer target for the results reader (report/reader.c) and
 * what sits on it. Any input must be refused with a reason or read without a crash, a leak
 * or undefined behaviour (built with ASan and UBSan), and what is read must hold together:
 * every cell belongs to a document that lists it, a cell's values are at most its runs, and
 * comparing the input with itself and merging it work and find no change.
 * Run by tests/fuzz/run_fuzz.sh (make test: 20 s; make fuzz).
 */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "report/report.h"
#include "util/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_model(const struct results_set *s)
{
    size_t cells = 0;
    for (size_t i = 0; i < s->n_docs; i++) {
        const struct results_doc *doc = &s->docs[i];
        if (doc->first_cell != cells || doc->n_cells == 0 || !doc->machine_key[0]) __builtin_trap();
        for (size_t k = doc->first_cell; k < doc->first_cell + doc->n_cells; k++) {
            const struct results_cell *c = &s->cells[k];
            double v[RESULTS_MAX_RUNS];
            if (c->doc != i || !c->workload || !c->allocator || !c->status) __builtin_trap();
            size_t n = results_cell_values(c, doc->kind, "ops_per_sec", v, RESULTS_MAX_RUNS);
            if (n > c->runs_ok) __builtin_trap();
        }
        cells += doc->n_cells;
    }
    if (cells != s->n_cells) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct results_set s, again;
    struct diag d;
    results_init(&s);
    memset(&d, 0, sizeof d);
    if (results_load_mem(&s, "fuzz.json", (const char *)data, size, &d) != 0) {
        if (!d.msg[0] || s.n_docs || s.n_cells) __builtin_trap(); /* refused, with a reason */
        results_free(&s);
        return 0;
    }
    check_model(&s);
    results_init(&again);
    if (results_load_mem(&again, "fuzz.json", (const char *)data, size, &d) != 0) __builtin_trap();
    struct compare c;
    struct compare_opts o = { 0.05, 0.05 };
    if (compare_sets(&s, &again, &o, &c, &d) == 0) {
        if (c.worse || c.better) __builtin_trap(); /* the same runs never differ */
        cJSON *doc = cJSON_CreateObject();
        compare_json(doc, &c, &s, &again, &o);
        cJSON_Delete(doc);
        compare_free(&c);
    }
    cJSON *merged = cJSON_CreateObject();
    if (merged) results_merge(merged, &s, &d);
    cJSON_Delete(merged);
    results_free(&again);
    results_free(&s);
    return 0;
}

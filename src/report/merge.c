/*
 * report/merge.c: several results files into one heaplab.results-set/1 document keyed by
 * machine (docs/results.md, "heaplab.results-set/1"). Every document is copied whole, so no
 * run, series or note is lost and each can be read back as if alone; a set read as input
 * adds its documents, so merging merged files flattens them.
 */
#include <cjson/cJSON.h>
#include <string.h>

#include "report/report.h"
#include "util/diag.h"

int results_merge(cJSON *doc, const struct results_set *s, struct diag *d)
{
    for (size_t i = 0; i < s->n_docs; i++)
        for (size_t k = 0; k < i; k++)
            if (cJSON_Compare(s->docs[i].json, s->docs[k].json, 1))
                return diag_set(d, "%s is the same document as %s: its runs would count twice",
                                s->docs[i].name, s->docs[k].name);
    cJSON *machines = cJSON_AddObjectToObject(doc, "machines");
    if (!machines) return diag_set(d, "out of memory");
    for (size_t i = 0; i < s->n_docs; i++) {
        const struct results_doc *src = &s->docs[i];
        cJSON *m = cJSON_GetObjectItemCaseSensitive(machines, src->machine_key);
        if (!m) {
            m = cJSON_AddObjectToObject(machines, src->machine_key);
            if (!m || !cJSON_AddItemToObject(m, "machine", cJSON_Duplicate(src->machine, 1))
                || !cJSON_AddArrayToObject(m, "documents"))
                return diag_set(d, "out of memory");
        }
        cJSON *copy = cJSON_Duplicate(src->json, 1);
        if (!copy
            || !cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(m, "documents"), copy)) {
            cJSON_Delete(copy);
            return diag_set(d, "out of memory");
        }
    }
    return 0;
}

/*
 * bench/envelope.c: the envelope every results document starts with (docs/results.md): the
 * schema name and version, the tool and its version, when it was written, the command line
 * and the machine. `bench --json`, `run --json`, `race --json` and the header of `race
 * --ticks` all begin with it, so a reader finds these facts in the same place in each.
 */
#include <cjson/cJSON.h>
#include <time.h>

#include "bench/bench.h"

cJSON *report_envelope(const char *schema, const char *command_line, const cJSON *machine)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "schema", schema);
    cJSON *tool = cJSON_AddObjectToObject(doc, "tool");
    cJSON_AddStringToObject(tool, "name", "heaplab");
    cJSON_AddStringToObject(tool, "version", HEAPLAB_VERSION);
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(doc, "created_utc", when);
    cJSON_AddStringToObject(doc, "command", command_line ? command_line : "");
    cJSON_AddItemToObject(doc, "machine", machine ? cJSON_Duplicate(machine, 1) : machine_json());
    return doc;
}

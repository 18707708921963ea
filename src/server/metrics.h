/*
 * server/metrics.h: the JSON of a race as the page and the tick file see it: the header
 * fields, a lane's tick fields (docs/ticks.md, the same names and values as `heaplab race
 * --ticks` writes), the log2 latency histograms of the `tick` frame, the leaderboard.
 */
#ifndef HEAPLAB_SERVER_METRICS_H
#define HEAPLAB_SERVER_METRICS_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "race/race.h"

/* A lane's tick fields (no `cells`); with `final`, the leaderboard's. */
cJSON *metrics_lane(const struct race_lane *l, int final);

/* {"base_ns": 1, "counts": [...]}: bucket 0 counts [0, 2) ns, bucket b [2^b, 2^(b+1)),
 * trailing empty buckets left out. */
cJSON *metrics_log2_hist(const struct hist *h);

/* The header fields of a race (docs/ticks.md) into `o`. */
void metrics_race_fields(cJSON *o, const struct race *r, const char *workload, uint64_t seed,
                         uint64_t tick_every);

/* The `tick` frame of tick `tick` at `op` ops: malloc'd text (*len bytes), or NULL. */
char *metrics_tick(const struct race *r, uint32_t tick, uint64_t op, size_t *len);

/* The end line's `leaderboard` array. */
cJSON *metrics_leaderboard(const struct race *r);

/* Print `o` unformatted and delete it: malloc'd text (*len bytes), or NULL. */
char *metrics_print(cJSON *o, size_t *len);

#endif

/*
 * server/tickfile.h: reading a tick file (`heaplab race --ticks`, docs/ticks.md) for
 * `heaplab serve --ticks FILE`: the header, every tick's maps into a ring (all of them:
 * no cap) with its metrics as a `tick` frame, and the end line. The format is taken from
 * `schema` (heaplab.ticks/2), or from `format` when there is no `schema` (heaplab.ticks/1).
 */
#ifndef HEAPLAB_SERVER_TICKFILE_H
#define HEAPLAB_SERVER_TICKFILE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "server/ring.h"

struct diag;

struct tickfile {
    cJSON *header;  /* the header line */
    char *end_json; /* the end line as an `end` frame (NUL-terminated), or NULL */
    struct ring ring;
    uint32_t nlanes, cells, ticks;
    uint64_t ops_last; /* the op of the last tick */
    char format[32];   /* "heaplab.ticks/1" or "/2" */
};

/* Parse `len` bytes of a tick file. 0, or -1 with `d` saying what is wrong and on which
 * line; `tf` is then empty. */
int tickfile_parse(const char *text, size_t len, struct tickfile *tf, struct diag *d);

/* Read and parse the file at `path` ("PATH: reason" in `d`); the text read is kept in
 * *text (*len bytes; malloc'd) for the export. */
int tickfile_read(const char *path, struct tickfile *tf, char **text, size_t *len, struct diag *d);

void tickfile_fini(struct tickfile *tf);

/* Decode standard padded base64 into out (at most cap bytes): the length, or -1. */
long tickfile_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap);

/* Encode n bytes as padded base64 into out (4 * ceil(n / 3) + 1 bytes, NUL-terminated);
 * returns the length. */
size_t tickfile_b64_encode(const uint8_t *in, size_t n, char *out);

#endif

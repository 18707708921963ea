#!/usr/bin/python3
"""tests/cli/check_ticks.py FILE: validate a heaplab.ticks file (docs/ticks.md), version 2 or 1.

Checks the line structure, that every tick names every allocator in header order, that each
cell map decodes to exactly `cells` cells, the accounting identity, and that the cell counts
agree with the byte totals within one cell per range boundary. Prints one line per problem
and exits 1 on any.
"""
import base64
import json
import sys

errors = []


def err(msg):
    errors.append(msg)
    print("check_ticks: " + msg, file=sys.stderr)


def main(path):
    with open(path) as f:
        lines = [json.loads(l) for l in f]
    if len(lines) < 3:
        return err("fewer than 3 lines")
    h = lines[0]
    # Version 1 named its format in "format"; version 2 in "schema", like every results file.
    schema = h.get("schema", h.get("format"))
    if h.get("type") != "race" or schema not in ("heaplab.ticks/1", "heaplab.ticks/2"):
        return err("bad header")
    names = [a["name"] for a in h["allocators"]]
    ncells, cb, arena = h["cells"], h["cell_bytes"], h["arena_bytes"]
    if ncells * cb != arena or ncells > 65536:
        err("cells * cell_bytes != arena_bytes")
    if lines[-1].get("type") != "end" or [a["name"] for a in lines[-1]["leaderboard"]] != names:
        err("bad end line")
    ticks = lines[1:-1]
    last_op = -1
    for t in ticks:
        if t.get("type") != "tick" or t["op"] <= last_op:
            err("tick out of order at op %s" % t.get("op"))
        last_op = t["op"]
        if [a["name"] for a in t["allocators"]] != names:
            err("tick %d: allocators differ from the header" % t["op"])
        for a in t["allocators"]:
            where = "op %d %s" % (t["op"], a["name"])
            if a["live_usable"] + a["meta_bytes"] + a["free_bytes"] + a["slack_bytes"] != arena:
                err(where + ": live + meta + free + slack != arena")
            raw = base64.b64decode(a["cells"], validate=True)
            if len(raw) != (ncells + 3) // 4:
                err(where + ": %d packed bytes, want %d" % (len(raw), (ncells + 3) // 4))
                continue
            count = [0, 0, 0, 0]
            for i in range(ncells):
                count[(raw[i >> 2] >> ((i & 3) * 2)) & 3] += 1
            slack = cb * (a["ranges"] + 1)  # one blurred cell per range boundary
            want = {0: a["free_bytes"], 2: a["meta_bytes"],
                    1: None, 3: None}
            used_waste = a["live_usable"] + a["slack_bytes"]
            if abs(count[0] * cb - want[0]) > slack:
                err(where + ": free cells %d vs %d free bytes" % (count[0], want[0]))
            if abs(count[2] * cb - want[2]) > slack:
                err(where + ": meta cells %d vs %d meta bytes" % (count[2], want[2]))
            if abs((count[1] + count[3]) * cb - used_waste) > slack:
                err(where + ": used+waste cells vs %d bytes" % used_waste)
            if t["op"] == 0 and (count[1] or a["live_blocks"]):
                err(where + ": used cells before any op")
    return None


if __name__ == "__main__":
    main(sys.argv[1])
    sys.exit(1 if errors else 0)

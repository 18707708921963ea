#!/usr/bin/env bash
# The inside passes (docs/inside.md) end to end:
# - heap maps: with glibc and one peer, known-live's map at "holes" has exactly the live
#   pages it must (N/2 pages full, none partly live), all its live bytes inside the
#   allocator's regions, the RSS cross-check agreeing, and the allocator's own allocated
#   bytes agreeing with the map's live bytes within its rounding;
# - statistics: every installed allocator's adapter fills the fields it promises and leaves
#   the others null, and allocated tracks the stream's live bytes within class rounding;
# - OS calls: an allocator library that makes a known number of mmap, munmap and madvise
#   calls per malloc and free is counted exactly; it has no statistics: "not exposed";
# - a failed pagemap read is a note in the map, not a failed run;
# - the options' usage errors, the tables, and the results validating (results-2).
source "$(dirname "$0")/lib.sh"

avail=$("$HEAPLAB" list allocators)
have() { grep -qE "^$1 +ok " <<<"$avail"; }
peer=""
for a in jemalloc tcmalloc mimalloc hlmalloc; do
    if have $a; then peer=$a; break; fi
done
check "a peer allocator is installed" [ -n "$peer" ]

# ---- heap maps of a known live set: glibc and one peer ----------------------------------
"$HEAPLAB" bench -w known-live --ops 3002 -a "glibc${peer:+,$peer}" -r 1 --no-latency \
    --heapmap --alloc-stats --inside-mark holes --json "$TMP/kl.json" >"$TMP/kl.out" 2>"$TMP/kl.err"
check "known-live with --heapmap exits 0" [ $? -eq 0 ]
check "known-live results validate" validate results-2.schema.json "$TMP/kl.json"
check "the heap map table is shown at holes" grep -q '^Heap map at "holes"' "$TMP/kl.out"
check "the statistics table is shown" grep -q '^Allocator statistics at "holes"' "$TMP/kl.out"

check "known-live: exactly the live pages, and allocated agrees" /usr/bin/python3 - "$TMP/kl.json" <<'EOF'
import json, re, sys
d = json.load(open(sys.argv[1]))
N = 2000                      # blocks of --ops 3002
ROUNDING = {"glibc": 16, "jemalloc": 0, "tcmalloc": 0, "hlmalloc": 0, "mimalloc": 4096}
bad = []
for c in d["results"]:
    a = c["allocator"]
    hm, st = c.get("heapmap", {}), c.get("alloc_stats", {})
    if hm.get("status") != "ok" or st.get("status") != "ok":
        bad.append("%s: sections %s %s" % (a, hm.get("status"), st.get("status")))
        continue
    snaps = {s["label"]: s for s in hm["snapshots"]}
    s = snaps.get("holes")
    if not s:
        bad.append("%s: no holes snapshot in %s" % (a, list(snaps)))
        continue
    if s["cell_bytes"] != 4096 or not s["resident_known"]:
        bad.append("%s: cells %d, resident known %s" % (a, s["cell_bytes"], s["resident_known"]))
    letters = {}
    for r in s["regions"]:
        for n, ch in re.findall(r"([0-9]*)([A-Ia-ip-x])", r["cells"] or ""):
            letters[ch] = letters.get(ch, 0) + (int(n) if n else 1)
    full = letters.get("i", 0)
    partial = sum(letters.get(ch, 0) for ch in "bcdefghBCDEFGHI")
    if full != N // 2 or partial:
        bad.append("%s: %d full pages (want %d), %d partly live" % (a, full, N // 2, partial))
    live = N // 2 * 4096
    if s["live_bytes"] != live or s["outside_bytes"] != 0:
        bad.append("%s: map live %d outside %d" % (a, s["live_bytes"], s["outside_bytes"]))
    chk = s["rss_check"]
    if not chk or not chk["agree"]:
        bad.append("%s: RSS check %s" % (a, chk))
    ss = {x["label"]: x for x in st["snapshots"]}.get("holes")
    alloc = ss and ss["allocated_bytes"]
    most = live + N // 2 * ROUNDING.get(a, 4096) + (512 << 10)
    if alloc is None or not (live <= alloc <= most):
        bad.append("%s: allocated %s, map's live %d (at most %d)" % (a, alloc, live, most))
for b in bad:
    print("known-live: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF

# The picture of the maps: a PNG with one column per allocator.
/usr/bin/python3 "$ROOT/scripts/heapmap_png.py" "$TMP/kl.json" -w known-live -m holes \
    -o "$TMP/kl.png" >"$TMP/png.out" 2>&1
check "heapmap_png.py draws the maps" /usr/bin/python3 - "$TMP/kl.png" "$peer" <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
w, h, depth, kind = struct.unpack(">IIBB", data[16:26])
ok = data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and depth == 8 and kind == 2
ok = ok and w >= (2 if sys.argv[2] else 1) * 384 and h > 100 and data.endswith(b"IEND\xaeB`\x82")
sys.exit(0 if ok else 1)
EOF

# A periodic snapshot picked by its ops: after 1000 entries, 1000 blocks are live (3.91M).
"$HEAPLAB" bench -w known-live --ops 3002 -a glibc -r 1 --no-latency --heapmap \
    --heapmap-every 1000 --inside-mark every@1000 >"$TMP/at.out" 2>&1
check "--inside-mark every@1000 shows that snapshot" \
    grep -qE '^known-live +1 live \(stream\) +3\.91M$' "$TMP/at.out"

# ---- every installed allocator's statistics ---------------------------------------------
all="glibc"
for a in jemalloc tcmalloc mimalloc hlmalloc; do have $a && all="$all,$a"; done
"$HEAPLAB" bench -w fragmentation --ops 30000 -a "$all" -r 1 --no-latency --alloc-stats \
    --json "$TMP/st.json" >"$TMP/st.out" 2>"$TMP/st.err"
check "fragmentation with --alloc-stats exits 0" [ $? -eq 0 ]
check "statistics results validate" validate results-2.schema.json "$TMP/st.json"
check "each adapter fills what it promises; allocated tracks live" /usr/bin/python3 - "$TMP/st.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
FIELDS = ["allocated_bytes", "active_bytes", "resident_bytes", "mapped_bytes", "retained_bytes",
          "metadata_bytes", "thread_cache_bytes"]
# What each adapter promises (docs/inside.md, "Statistics"): these fields non-null, the rest
# null; per-class statistics or not.
PROMISE = {
    "glibc": ("mallinfo2", {"allocated_bytes", "mapped_bytes", "retained_bytes"}, False),
    "jemalloc": ("mallctl", set(FIELDS), True),
    "tcmalloc": ("MallocExtension", set(FIELDS), True),
    "mimalloc": ("mi_process_info", {"allocated_bytes", "active_bytes", "mapped_bytes",
                                     "retained_bytes"}, True),
    "hlmalloc": ("hl_stats", {"allocated_bytes", "active_bytes", "resident_bytes",
                              "mapped_bytes", "retained_bytes"}, True),
}
bad = []
for c in d["results"]:
    a = c["allocator"]
    st = c.get("alloc_stats", {})
    src, fields, classes = PROMISE[a]
    if st.get("status") != "ok" or st.get("source") != src or not st.get("exposed"):
        bad.append("%s: %s" % (a, {k: st.get(k) for k in ("status", "source", "exposed")}))
        continue
    labels = [s["label"] for s in st["snapshots"]]
    for want in ("filled", "holes", "refill-larger", "end"):
        if want not in labels:
            bad.append("%s: no %s snapshot" % (a, want))
    for s in st["snapshots"]:
        for f in FIELDS:
            if (s[f] is not None) != (f in fields):
                bad.append("%s %s: %s is %s" % (a, s["label"], f, s[f]))
        if (s["classes"] is not None) != classes:
            bad.append("%s %s: classes %s" % (a, s["label"], s["classes"] is not None))
        if a == "hlmalloc" and "remote_free_blocks" not in json.dumps(s.get("raw")):
            bad.append("hlmalloc %s: no remote_free_blocks in raw" % s["label"])
        live, alloc = s["live_bytes"], s["allocated_bytes"]
        # Classes round 160-512 B requests up by at most a quarter; the process's own few
        # allocations (ld.so, stdio) add a little.
        if live > 1 << 20 and not (live <= alloc <= live * 1.25 + (512 << 10)):
            bad.append("%s %s: allocated %s for %d live" % (a, s["label"], alloc, live))
    snaps = {s["label"]: s for s in st["snapshots"]}
    if "filled" in snaps and "holes" in snaps:
        dl = snaps["filled"]["live_bytes"] - snaps["holes"]["live_bytes"]
        da = snaps["filled"]["allocated_bytes"] - snaps["holes"]["allocated_bytes"]
        if not (dl * 0.95 <= da <= dl * 1.3):
            bad.append("%s: freeing %d live bytes took %d off allocated" % (a, dl, da))
for b in bad:
    print("stats: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF

# ---- OS calls of an allocator with known calls ------------------------------------------
cat >"$TMP/mmapalloc.c" <<'C'
/* Each block is a mapping of its own: a header page, then the block's pages. malloc is one
 * mmap; free is one munmap, and every 10th free first one madvise(MADV_DONTNEED). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
static _Atomic unsigned long frees;
static void *get(size_t n, size_t align) {
    if (align > 4096) return NULL;
    size_t len = 4096 + ((n + 4095) & ~(size_t)4095);
    char *b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) return NULL;
    *(size_t *)b = len;
    return b + 4096;
}
void *malloc(size_t n) { return get(n, 0); }
void free(void *p) {
    if (!p) return;
    char *b = (char *)p - 4096;
    size_t len = *(size_t *)b;
    if (atomic_fetch_add(&frees, 1) % 10 == 9) madvise(b, len, MADV_DONTNEED);
    munmap(b, len);
}
void *calloc(size_t k, size_t n) { return n && k > (size_t)-1 / n ? NULL : get(k * n, 0); }
void *realloc(void *p, size_t n) {
    if (!p) return get(n, 0);
    size_t old = *(size_t *)((char *)p - 4096) - 4096;
    void *q = get(n, 0);
    if (q) { memcpy(q, p, old < n ? old : n); free(p); }
    return q;
}
int posix_memalign(void **out, size_t align, size_t n) {
    void *p = get(n, align);
    if (!p) return align > 4096 ? EINVAL : ENOMEM;
    *out = p;
    return 0;
}
void *aligned_alloc(size_t align, size_t n) { return get(n, align); }
void *memalign(size_t align, size_t n) { return get(n, align); }
void *valloc(size_t n) { return get(n, 4096); }
size_t malloc_usable_size(void *p) { return p ? *(size_t *)((char *)p - 4096) - 4096 : 0; }
C
cc -O1 -shared -fPIC -o "$TMP/libmmapalloc.so" "$TMP/mmapalloc.c"
check "built the mmap allocator" [ -e "$TMP/libmmapalloc.so" ]
"$HEAPLAB" bench -w known-live --ops 3002 -a "mmapalloc=$TMP/libmmapalloc.so,glibc" -r 1 \
    --no-latency --os-calls --alloc-stats --json "$TMP/os.json" >"$TMP/os.out" 2>"$TMP/os.err"
check "--os-calls exits 0" [ $? -eq 0 ]
check "OS call results validate" validate results-2.schema.json "$TMP/os.json"
check "the OS calls table is shown" grep -q "^OS calls of the pass" "$TMP/os.out"
check "known calls are counted exactly; no statistics is 'not exposed'" \
    /usr/bin/python3 - "$TMP/os.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
bad = []
for c in d["results"]:
    oc = c.get("os_calls", {})
    if oc.get("status") != "ok":
        bad.append("%s: os_calls %s" % (c["allocator"], oc))
        continue
    calls = oc["calls"]
    if c["allocator"] == "mmapalloc":
        # 2000 blocks allocated, 1000 freed (every 10th with one madvise first).
        got = (calls["mmap"]["count"], calls["munmap"]["count"], calls["madvise"]["count"],
               calls["madvise"]["by_advice"].get("dontneed", {}).get("count"),
               calls["brk"]["count"], calls["mremap"]["count"])
        if got != (2000, 1000, 100, 100, 0, 0):
            bad.append("mmapalloc: mmap, munmap, madvise, dontneed, brk, mremap = %s" % (got,))
        if calls["mmap"]["bytes"] != 2000 * 8192:
            bad.append("mmapalloc: mmap bytes %d" % calls["mmap"]["bytes"])
        st = c.get("alloc_stats", {})
        if st.get("source") != "none" or st.get("exposed") is not False:
            bad.append("mmapalloc: statistics %s" % {k: st.get(k) for k in ("source", "exposed")})
        for s in st.get("snapshots", []):
            if s["allocated_bytes"] is not None or "not exposed" not in s.get("note", ""):
                bad.append("mmapalloc: snapshot %s %s" % (s["label"], s.get("note")))
    if oc["minor_faults"] <= 0 or oc["floor_ns"] <= 0:
        bad.append("%s: faults %s floor %s" % (c["allocator"], oc["minor_faults"], oc["floor_ns"]))
for b in bad:
    print("os_calls: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
check "the statistics table says not exposed" grep -q "not exposed" "$TMP/os.out"

# ---- an unreadable pagemap is a note ----------------------------------------------------
"$HEAPLAB" __worker --expect libc --workload known-live --ops 302 --inside heapmap \
    --pagemap /nonexistent/pagemap >"$TMP/pm.json" 2>"$TMP/pm.err"
check "a worker that cannot read the pagemap succeeds" [ $? -eq 0 ]
check "its snapshots say the residency is unknown" /usr/bin/python3 - "$TMP/pm.json" <<'EOF'
import json, sys
h = json.load(open(sys.argv[1]))["heapmap"]
ok = h["snapshots"] and all(not s["resident_known"] and "residency unknown" in s["note"]
                            for s in h["snapshots"])
sys.exit(0 if ok else 1)
EOF

# ---- replay --heapmap, threads, usage ---------------------------------------------------
"$HEAPLAB" bench -w producer-consumer -t 2 --ops 20000 -a "glibc${peer:+,$peer}" -r 1 \
    --no-latency --heapmap --alloc-stats --json "$TMP/pc.json" >/dev/null 2>"$TMP/pc.err"
check "2 threads, cross-thread frees, with snapshots: exits 0" [ $? -eq 0 ]
check "2-thread results validate" validate results-2.schema.json "$TMP/pc.json"
check "2 threads: maps at the end hold the stream's live bytes" /usr/bin/python3 - "$TMP/pc.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
bad = []
for c in d["results"]:
    s = {x["label"]: x for x in c["heapmap"]["snapshots"]}["end"]
    a = {x["label"]: x for x in c["alloc_stats"]["snapshots"]}["end"]
    if s["live_bytes"] + s["outside_bytes"] != a["live_bytes"] or s["outside_bytes"]:
        bad.append("%s: map %d + %d, stream %d" % (c["allocator"], s["live_bytes"],
                                                   s["outside_bytes"], a["live_bytes"]))
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
PROGS=$(cd "$(dirname "$HEAPLAB")" && pwd)/tests/trace
if [ -x "$PROGS/tr_threads" ]; then
    "$HEAPLAB" record -o "$TMP/t.trace" -- "$PROGS/tr_threads" >/dev/null 2>&1
    "$HEAPLAB" replay "$TMP/t.trace" -a glibc -r 1 --no-latency --heapmap --alloc-stats \
        --os-calls --json "$TMP/rp.json" >"$TMP/rp.out" 2>"$TMP/rp.err"
    check "replay --heapmap of a threaded trace exits 0" [ $? -eq 0 ]
    check "replay inside results validate" validate results-2.schema.json "$TMP/rp.json"
    check "replay has a map at the end with the trace's live bytes, and OS calls" \
        /usr/bin/python3 - "$TMP/rp.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))["results"][0]
end = {s["label"]: s for s in c["heapmap"]["snapshots"]}["end"]
st = {s["label"]: s for s in c["alloc_stats"]["snapshots"]}["end"]
ok = c["heapmap"]["status"] == "ok" and end["live_bytes"] == st["live_bytes"] \
    and end["outside_bytes"] == 0 and c["os_calls"]["status"] == "ok" and c["threads"] > 1
sys.exit(0 if ok else 1)
EOF
fi
expect_usage "--heapmap-every without a snapshot pass" bench -w small --heapmap-every 10
expect_usage "--inside-mark without a snapshot pass" bench -w small --os-calls --inside-mark end
expect_usage "--heapmap-every 0" bench -w small --heapmap --heapmap-every 0
finish

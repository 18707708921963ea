#!/usr/bin/env python3
"""heaplab serve's real allocators view end to end (tests/cli/test_serve_real.sh):
python3 serve_real_test.py HEAPLAB TMPDIR.

A WebSocket client (wsclient.py) on /ws/real of `heaplab serve --port 0`:
  - known-live under glibc and hlmalloc: the heap maps arrive as the workers take them,
    numbered, at every K ops and at the marks; at `filled` 2000 dense pages, at `holes`
    1000 pages each fully live and none partly (from the streamed totals and from the
    decoded cells), live bytes as the stream says, and the allocator's own allocated bytes
    within its rounding of them; the statistics and OS call counts come at the end;
  - an uploaded trace runs; bad messages get one error message each and the socket stays;
  - a stop, a page that goes away and SIGTERM each leave no worker behind;
  - a heaplab without libhlmalloc.so beside it says hlmalloc is missing, and a run naming
    it runs glibc and reports hlmalloc "missing" with the reason.
Prints one line per failed check and "N passed, N failed"; exits 1 on any failure."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsclient import WebSocket, http  # noqa: E402

HEAPLAB, TMP = sys.argv[1], sys.argv[2]
PASS = FAIL = 0
PAGE = 4096
SERVERS = []


def check(name, ok, detail=""):
    global PASS, FAIL
    if ok:
        PASS += 1
    else:
        FAIL += 1
        print(f"FAIL: {name}" + (f" ({detail})" if detail else ""), flush=True)


def start_server(exe, *args):
    p = subprocess.Popen([exe, "serve", "--port", "0", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    SERVERS.append(p)
    line = p.stdout.readline()
    if not line.startswith("heaplab: serving on http://127.0.0.1:"):
        p.kill()
        raise SystemExit(f"serve did not start: {line!r} {p.stderr.read()}")
    return p, int(line.rsplit(":", 1)[1].strip().rstrip("/"))


def workers(server_pid):
    """Pids of the `heaplab __worker` processes whose parent is the server."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        ppid = int(st.rsplit(")", 1)[1].split()[1])
        if ppid == server_pid and b"__worker" in cmd:
            out.append(int(d))
    return out


def gone(pids, secs=20):
    """Wait until none of `pids` exists (a zombie counts as gone: the server reaps it)."""
    end = time.time() + secs
    while time.time() < end:
        alive = []
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                        alive.append(pid)
            except OSError:
                pass
        if not alive:
            return True
        time.sleep(0.1)
    return False


def messages(ws, until_type="end", limit=5000):
    """Messages up to and including the first of type `until_type`."""
    got = []
    for _ in range(limit):
        _, payload = ws.recv()
        m = json.loads(payload)
        got.append(m)
        if m["type"] == until_type:
            break
    return got


def decode(text, n):
    """heaplab.rle/1 cells -> list of (residency, bucket)."""
    cells = []
    for count, letter in re.findall(r"([0-9]*)([A-Ia-ip-x])", text):
        c = ord(letter)
        base = 112 if c >= 112 else 97 if c >= 97 else 65
        cells += [({65: 0, 97: 1, 112: 2}[base], c - base)] * (int(count) if count else 1)
    assert len(cells) == n, (len(cells), n)
    return cells


def shot_cells(shot):
    out = []
    for r in shot["regions"]:
        out += decode(r["cells"], r["bytes"] // shot["cell_bytes"])
    return out


# --- The tests ---------------------------------------------------------------------------

def test_meta(port):
    s, _, b = http(port, "GET", "/api/meta")
    real = json.loads(b).get("real", {})
    names = {a["name"]: a for a in real.get("allocators", [])}
    check("meta lists the five real allocators", sorted(names) ==
          ["glibc", "hlmalloc", "jemalloc", "mimalloc", "tcmalloc"], names)
    check("glibc and hlmalloc are found", names.get("glibc", {}).get("found") and
          names.get("hlmalloc", {}).get("found"))
    check("meta gives the view's limits", real.get("limits", {}).get("ops_max", 0) > 0)


def check_lane(name, snaps, done):
    check(f"{name}: heap maps are numbered in order", [m["index"] for m in snaps] ==
          list(range(len(snaps))), [m["index"] for m in snaps])
    by = {m["snapshot"]["label"]: m["snapshot"] for m in snaps}
    check(f"{name}: maps every K ops and at the marks", {"every", "filled", "holes", "end"} <= set(by)
          and sum(m["snapshot"]["label"] == "every" for m in snaps) >= 8, sorted(by))
    filled, holes = by.get("filled"), by.get("holes")
    if not filled or not holes:
        return
    check(f"{name}: filled: 2000 pages live", filled["live_bytes"] == 2000 * PAGE, filled["live_bytes"])
    check(f"{name}: filled: 2000 dense pages", filled["cells"]["dense"] == 2000, filled["cells"])
    check(f"{name}: holes: live bytes as the stream's", holes["live_bytes"] == 1000 * PAGE, holes["live_bytes"])
    check(f"{name}: holes: 1000 dense pages, none sparse", holes["cells"]["dense"] == 1000
          and holes["cells"]["sparse"] == 0, holes["cells"])
    cells = shot_cells(holes)
    full = sum(1 for res, b in cells if res == 1 and b == 8)
    part = sum(1 for res, b in cells if 0 < b < 8)
    check(f"{name}: holes: the cells have 1000 full pages, none part-live", full == 1000 and part == 0,
          (full, part))
    resident = sum(1 for res, _ in cells if res == 1)
    check(f"{name}: holes: resident cells are the resident bytes",
          resident * PAGE == holes["resident_bytes"], (resident, holes["resident_bytes"]))
    check(f"{name}: holes: cells cover the mapped bytes", len(cells) * PAGE == holes["mapped_bytes"])
    check(f"{name}: the run ends ok", done and done["status"] == "ok", done and done.get("note"))
    if not done or done["status"] != "ok":
        return
    st = [e for e in done["alloc_stats"]["snapshots"] if e["label"] == "holes"]
    alloc = st[0]["allocated_bytes"] if st else None
    # Each block is one page; glibc adds a chunk header, hlmalloc rounds to its class: at
    # most one more page per live block, never less than the live bytes.
    check(f"{name}: allocated bytes agree with the map's live bytes",
          alloc is not None and holes["live_bytes"] <= alloc <= holes["live_bytes"] + 1000 * PAGE,
          (alloc, holes["live_bytes"]))
    oc = done.get("os_calls", {})
    check(f"{name}: OS call counts at the end", oc.get("status") == "ok" and
          oc["calls"].get("mmap", {}).get("count", 0) + oc["calls"].get("brk", {}).get("count", 0) > 0,
          json.dumps(oc)[:200])


def test_known_live(port):
    ws = WebSocket(port, "/ws/real")
    ws.send({"type": "start", "workload": "known-live", "ops": 3002, "seed": 5,
             "allocators": ["glibc", "hlmalloc"], "every": 250})
    got = messages(ws)
    ws.close()
    check("the run starts", got[0]["type"] == "started" and got[0]["every"] == 250, got[0])
    check("it ends", got[-1]["type"] == "end" and not got[-1]["stopped"], got[-1])
    for name in ("glibc", "hlmalloc"):
        snaps = [m for m in got if m["type"] == "snapshot" and m["allocator"] == name]
        done = next((m for m in got if m["type"] == "done" and m["allocator"] == name), None)
        # Streamed: every map of an allocator comes before its end-of-run message.
        check(f"{name}: maps come before the run's end",
              done is not None and all(got.index(m) < got.index(done) for m in snaps))
        check_lane(name, snaps, done)


def test_errors(port, trace_dir):
    ws = WebSocket(port, "/ws/real")
    cases = [
        ("not JSON", b"{nope", "not a JSON object"),
        ("unknown type", {"type": "go"}, "unknown type"),
        ("unknown workload", {"type": "start", "workload": "nope", "allocators": ["glibc"]}, "nope"),
        ("unknown allocator", {"type": "start", "workload": "small", "allocators": ["ptmalloc9"]}, "ptmalloc9"),
        ("no allocators", {"type": "start", "workload": "small", "allocators": []}, "allocators"),
        ("ops 0", {"type": "start", "workload": "small", "ops": 0, "allocators": ["glibc"]}, "ops"),
        ("ops too many", {"type": "start", "workload": "small", "ops": 10**9, "allocators": ["glibc"]}, "ops"),
        ("too many maps", {"type": "start", "workload": "small", "ops": 100000, "every": 10,
                           "allocators": ["glibc"]}, "every 10"),
        ("workload and trace", {"type": "start", "workload": "small", "trace": "x.trace",
                                "allocators": ["glibc"]}, "not both"),
        ("trace out of the directory", {"type": "start", "trace": "../etc/passwd",
                                        "allocators": ["glibc"]}, "../etc/passwd"),
        ("no such upload", {"type": "start", "trace": "upload:999", "allocators": ["glibc"]}, "upload:999"),
        ("no such trace file", {"type": "start", "trace": "none.trace", "allocators": ["glibc"]}, "none.trace"),
        ("threads", {"type": "start", "workload": "producer-consumer", "threads": 1,
                     "allocators": ["glibc"]}, "at least 2"),
    ]
    for name, msg, want in cases:
        ws.send(msg)
        _, payload = ws.recv()
        m = json.loads(payload)
        check(f"error: {name}", m["type"] == "error" and want in m["message"], m)
    s, _, _ = http(port, "GET", "/ws/real")
    check("GET /ws/real without the upgrade is refused", 400 <= s < 500, s)
    ws.send({"type": "start", "workload": "known-live", "allocators": ["glibc"]})
    got = messages(ws)
    check("the socket still works after the errors", got[-1]["type"] == "end" and
          any(m["type"] == "snapshot" for m in got))
    ws.close()


def test_upload(port, trace_path):
    with open(trace_path, "rb") as f:
        body = f.read()
    s, _, b = http(port, "POST", "/api/traces?name=mix.trace", body=body)
    check("upload a trace", 200 <= s < 300, b[:200])
    ws = WebSocket(port, "/ws/real")
    ws.send({"type": "start", "trace": json.loads(b)["trace"], "allocators": ["glibc"]})
    got = messages(ws)
    ws.close()
    done = next((m for m in got if m["type"] == "done"), {})
    check("an uploaded trace runs", done.get("status") == "ok" and
          any(m["type"] == "snapshot" for m in got), (done.get("status"), done.get("note")))
    check("its temporary copy is removed", not [f for f in os.listdir("/tmp") if f.startswith("heaplab-real-")
                                               and os.path.getmtime("/tmp/" + f) > time.time() - 60])


LONG = {"type": "start", "workload": "small", "ops": 2000000, "every": 7813, "allocators": ["glibc", "hlmalloc"]}


def first_map(ws):
    for _ in range(100):
        m = json.loads(ws.recv()[1])
        if m["type"] == "snapshot":
            return m
    return None


def test_stop(p, port):
    ws = WebSocket(port, "/ws/real")
    ws.send(LONG)
    check("a long run streams its first map", first_map(ws) is not None)
    pids = workers(p.pid)
    check("its workers run while it streams", len(pids) >= 1, pids)
    ws.send({"type": "start", "workload": "known-live", "allocators": ["glibc"]})
    got = messages(ws, "error")
    check("a second start while one runs is refused", "stop it first" in got[-1]["message"], got[-1])
    ws.send({"type": "stop"})
    got = messages(ws)
    check("stop ends the run, marked stopped", got[-1]["type"] == "end" and got[-1]["stopped"], got[-1])
    check("stop leaves no worker", gone(pids) and not workers(p.pid), workers(p.pid))
    ws.close()


def test_page_gone(p, port):
    ws = WebSocket(port, "/ws/real")
    ws.send(LONG)
    first_map(ws)
    pids = workers(p.pid)
    ws.sock.close()  # no close frame: the page went away
    check("a page that goes away leaves no worker", pids and gone(pids), pids)


def test_sigterm(exe):
    p, port = start_server(exe)
    ws = WebSocket(port, "/ws/real")
    ws.send(LONG)
    first_map(ws)
    pids = workers(p.pid)
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=30)
    check("SIGTERM during a run: exit 143", rc == 143, rc)
    check("... and no worker left", pids and gone(pids), pids)


def test_missing(tmp):
    """A heaplab without libhlmalloc.so beside it: hlmalloc is missing, not a failure."""
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir, exist_ok=True)
    exe = os.path.join(bindir, "heaplab")
    shutil.copy(HEAPLAB, exe)
    p, port = start_server(exe)
    _, _, b = http(port, "GET", "/api/meta")
    hl = next(a for a in json.loads(b)["real"]["allocators"] if a["name"] == "hlmalloc")
    check("meta: hlmalloc not found, with a note", not hl["found"] and hl.get("note"), hl)
    ws = WebSocket(port, "/ws/real")
    ws.send({"type": "start", "workload": "known-live", "allocators": ["hlmalloc", "glibc"]})
    got = messages(ws)
    ws.close()
    done = {m["allocator"]: m for m in got if m["type"] == "done"}
    check("a missing allocator is reported missing, with why",
          done.get("hlmalloc", {}).get("status") == "missing" and done["hlmalloc"].get("note"), done.get("hlmalloc"))
    check("... and the others run", done.get("glibc", {}).get("status") == "ok")
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=30)


def main():
    traces = os.path.join(TMP, "traces")
    os.makedirs(traces, exist_ok=True)
    prog = os.path.join(os.path.dirname(HEAPLAB), "tests", "trace", "tr_single")
    trace_path = os.path.join(traces, "mix.trace")
    subprocess.run([HEAPLAB, "record", "--buffer", "4096", "-o", trace_path, "--", prog, "mix"],
                   capture_output=True, timeout=60)
    check("a trace was recorded", os.path.exists(trace_path))
    p, port = start_server(HEAPLAB, "--trace-dir", traces)
    tests = [(test_meta, port), (test_known_live, port), (test_errors, port, traces),
             (test_upload, port, trace_path), (test_stop, p, port), (test_page_gone, p, port)]
    for t in tests:
        try:
            t[0](*t[1:])
        except Exception as e:  # noqa: BLE001 (one failed check, then the rest)
            check(f"{t[0].__name__} ran to the end", False, repr(e))
    p.send_signal(signal.SIGTERM)
    check("SIGTERM exits 143", p.wait(timeout=30) == 143)
    err = p.stderr.read()
    check("nothing on stderr", err == "", err[:300])
    for t in ((test_sigterm, HEAPLAB), (test_missing, TMP)):
        try:
            t[0](*t[1:])
        except Exception as e:  # noqa: BLE001
            check(f"{t[0].__name__} ran to the end", False, repr(e))
    print(f"{PASS} passed, {FAIL} failed")
    return 1 if FAIL else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        for proc in SERVERS:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

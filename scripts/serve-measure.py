#!/usr/bin/env python3
"""The figures of docs/serve.md, "Measured": python3 scripts/serve-measure.py [build/heaplab].

Starts `heaplab serve --port 0` and, with the WebSocket client of tests/cli/wsclient.py:
  1. ticks/s: nginx-requests, the six default allocators, 2 MiB arenas, a tick every 500
     ops, as fast as possible (tps 0), one client reading: the race thread's ticks per
     second (ticks / the end frame's `seconds`), and the ticks whose six maps reached the
     client per second of wall time;
  2. bytes per tick per allocator on the wire: the same race at 60 ticks/s (every tick
     reaches the client, so deltas are tick to tick) on nginx-requests and adversarial:
     binary bytes (16-byte headers included) / (ticks x lanes), and the JSON bytes beside;
  3. the slow-client effect: the race's `seconds` with a client reading, with a client that
     starts it and stops reading (its receive buffer 4 KiB), and `heaplab race` itself;
  4. the leaderboard with a client, with a stalled client and from `heaplab race --json`:
     equal but the timing columns.
Medians of REPEAT runs (default 3)."""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "cli"))
from wsclient import Maps, WebSocket  # noqa: E402

HEAPLAB = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "build", "heaplab")
REPEAT = int(os.environ.get("REPEAT", "3"))
OPS = int(os.environ.get("OPS", "400000"))
TIMING = ("p50_ns", "p90_ns", "p99_ns", "mean_ns", "latency")


def start():
    p = subprocess.Popen([HEAPLAB, "serve", "--port", "0"], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    return p, int(line.rsplit(":", 1)[1].strip().rstrip("/"))


def race(port, workload, ops, tps, stall=False, encodings=(1, 3)):
    """One race: (end frame, ticks whose six maps arrived, binary bytes, JSON bytes, ticks,
    wall seconds)."""
    ws = WebSocket(port, rcvbuf=4096 if stall else None)
    t0 = time.time()
    ws.send({"type": "start", "workload": workload, "ops": ops, "seed": 1, "arena": 2 << 20,
             "tick_every": 500, "tps": tps, "encodings": list(encodings)})
    if stall:
        time.sleep(3.0)  # the race goes on (or ends) while nothing is read
    maps, lane_tick, full, jbytes, end = Maps(), {}, set(), 0, None
    while end is None:
        op, payload = ws.recv()
        if op == 2:
            _, lane, _, t, _ = maps.feed(payload)
            lane_tick[lane] = t
            if len(lane_tick) == 6 and len(set(lane_tick.values())) == 1:
                full.add(t)
            continue
        jbytes += len(payload)
        m = json.loads(payload)
        if m["type"] == "race":
            ticks = m["ticks_total"]
        elif m["type"] == "end":
            end = m
        elif m["type"] == "error":
            raise SystemExit(m["message"])
    wall = time.time() - t0
    ws.close()
    return end, len(full), sum(maps.bytes.values()), jbytes, ticks, wall


def strip(board):
    return [{k: v for k, v in a.items() if k not in TIMING} for a in board]


def main():
    p, port = start()
    try:
        # 1. ticks/s with one client, as fast as possible
        tps, delivered = [], []
        for _ in range(REPEAT):
            end, full, _, _, ticks, wall = race(port, "nginx-requests", OPS, 0)
            tps.append(ticks / end["seconds"])
            delivered.append(full / wall)
        print(f"1. nginx-requests, {OPS} ops, 6 allocators, 2 MiB, tick every 500, tps 0, one client:")
        print(f"   race thread {statistics.median(tps):.0f} ticks/s (runs: {', '.join(f'{x:.0f}' for x in tps)}); "
              f"ticks fully delivered to the client {statistics.median(delivered):.0f}/s")
        # 2. bytes per tick per allocator
        print("2. bytes per tick per allocator (60 ticks/s, every tick delivered):")
        for encodings, what in (((1, 3), "delta and fill"), ((1,), "delta only")):
            avg = []
            for w in ("nginx-requests", "adversarial"):
                end, full, binb, jb, ticks, wall = race(port, w, 100000, 60, encodings=encodings)
                per = binb / (ticks * 6)
                avg.append(per)
                print(f"   {what}, {w}: {ticks} ticks, {full} delivered whole; maps {per:.0f} B per "
                      f"lane-tick (raw would be {16 + 16384} B), JSON {jb / ticks:.0f} B per tick for all lanes")
            print(f"   {what}: average of the two {sum(avg) / 2:.0f} B per allocator per tick "
                  "(heap-forge: ~21 KiB)")
        # 3. the slow-client effect, and 4. the leaderboards
        reading, stalled, boards = [], [], []
        for _ in range(REPEAT):
            end = race(port, "nginx-requests", OPS, 0)[0]
            reading.append(end["seconds"])
            boards.append(("client", end["leaderboard"]))
            end = race(port, "nginx-requests", OPS, 0, stall=True)[0]
            stalled.append(end["seconds"])
            boards.append(("stalled client", end["leaderboard"]))
        cli = []
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(REPEAT):
                t0 = time.time()
                subprocess.run([HEAPLAB, "race", "--workload", "nginx-requests", "--ops", str(OPS),
                                "--arena", "2M", "--tick-every", "500", "--quiet",
                                "--json", f"{tmp}/r.json"], check=True)
                cli.append(time.time() - t0)
            ref = json.load(open(f"{tmp}/r.json"))["leaderboard"]
        r, s = statistics.median(reading), statistics.median(stalled)
        print(f"3. race seconds, nginx-requests {OPS} ops: reading client {r:.2f} s, stalled client {s:.2f} s "
              f"({100 * (s - r) / r:+.1f}%); heaplab race --json (whole process, no maps) {statistics.median(cli):.2f} s")
        same = all(strip(b) == strip(ref) for _, b in boards)
        print(f"4. leaderboard with a client, with a stalled client and from heaplab race: "
              f"{'equal' if same else 'DIFFERENT'} but the timing columns ({len(boards)} races)")
    finally:
        p.terminate()
        p.wait()


if __name__ == "__main__":
    main()

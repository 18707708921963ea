#!/usr/bin/env python3
"""Time the thread-churn test program (issue 17) under glibc, tcmalloc and hlmalloc.

Usage: scripts/churn_time.py [ROUNDS] (from the repository root, after `make`).
Runs `build/tests/hl_churn 20000 1 4 2` once per allocator per round, the order rotated
every round, and prints each allocator's median wall and CPU (user + sys) time and the
median of hlmalloc's per-round ratios to each peer. Missing peers are skipped."""
import os
import resource
import statistics
import subprocess
import sys
import time

LIB = "/usr/lib/x86_64-linux-gnu"
PROG = ["build/tests/hl_churn", "20000", "1", "4", "2"]


def run_once(preload):
    env = dict(os.environ)
    if preload:
        env["LD_PRELOAD"] = preload
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(PROG, env=env, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (ru.ru_utime - ru0.ru_utime) + (ru.ru_stime - ru0.ru_stime)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    libs = {"glibc": None, "tcmalloc": LIB + "/libtcmalloc_minimal.so.4",
            "hlmalloc": "build/libhlmalloc.so"}
    libs = {n: p for n, p in libs.items() if p is None or os.path.exists(p)}
    names = list(libs)
    res = {n: [] for n in names}
    for r in range(rounds):
        for k in range(len(names)):
            n = names[(r + k) % len(names)]
            res[n].append(run_once(libs[n]))
    for n in names:
        w = [x[0] for x in res[n]]
        c = [x[1] for x in res[n]]
        print(f"{n:9} wall median {statistics.median(w):.3f} s, CPU median "
              f"{statistics.median(c):.3f} s, wall range {min(w):.3f}-{max(w):.3f}")
    for peer in (n for n in names if n != "hlmalloc"):
        rw = [a[0] / b[0] for a, b in zip(res["hlmalloc"], res[peer])]
        rc = [a[1] / b[1] for a, b in zip(res["hlmalloc"], res[peer])]
        print(f"hlmalloc/{peer}: per-round ratio medians: wall {statistics.median(rw):.3f}, "
              f"CPU {statistics.median(rc):.3f}")


if __name__ == "__main__":
    main()

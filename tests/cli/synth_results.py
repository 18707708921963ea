#!/usr/bin/env python3
"""Two synthetic results files with known differences, from a real bench results file.

usage: synth_results.py REAL.json BASE.json NEW.json

Every successful run keeps its shape (fields, series, marks) but gets made-up numbers for the
three metrics `heaplab compare` tests: throughput 10 Mops/s, malloc p99 500 ns and peak RSS
1 MiB, each times a jitter of +-2% that differs from run to run. NEW uses the same jitter in
another order (the same values: no change), except for three cells of the first workload at
1 thread, each a known difference:
  - glibc, throughput x 0.80: a regression of 20%, significant;
  - hlmalloc, peak RSS x 0.70: an improvement of 30%, significant;
  - hlmalloc, throughput x 1.045: significant (the samples do not overlap) but within a 5%
    threshold, so no verdict.
The summaries are recomputed. Needs 5 repetitions of glibc and hlmalloc."""
import json
import sys

BASE_JITTER = [0.98, 0.99, 1.00, 1.01, 1.02]
NEW_JITTER = [1.01, 0.98, 1.02, 1.00, 0.99]  # the same five values, another order


def set_metrics(run, jitter, tput=1.0, rss=1.0):
    run["ops_per_sec"] = 1e7 * jitter * tput
    run["latency"]["malloc"]["p99_ns"] = round(500 * jitter)
    run["peak_rss_bytes"] = round(1048576 * jitter * rss)


def summarize(values):
    v = sorted(values)
    n = len(v)
    med = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    return {"median": med, "min": v[0], "max": v[-1],
            "spread": (v[-1] - v[0]) / med if med else 0, "n": n}


def rewrite(doc, jitters, changes):
    first = doc["config"]["workloads"][0]
    for cell in doc["results"]:
        ok = [r for r in cell["runs"] if r.get("status") == "ok"]
        if cell["status"] != "ok":
            continue
        if len(ok) != len(jitters):
            sys.exit("synth_results.py: %s/%d/%s has %d runs, needs %d" %
                     (cell["workload"], cell["threads"], cell["allocator"], len(ok), len(jitters)))
        key = (cell["workload"] == first and cell["threads"] == 1, cell["allocator"])
        tput, rss = changes.get(key, (1.0, 1.0))
        for run, j in zip(ok, jitters):
            set_metrics(run, j, tput, rss)
        cell["summary"]["ops_per_sec"] = summarize([r["ops_per_sec"] for r in ok])
        cell["summary"]["malloc_p99_ns"] = summarize([r["latency"]["malloc"]["p99_ns"] for r in ok])
        cell["summary"]["peak_rss_bytes"] = summarize([r["peak_rss_bytes"] for r in ok])
    return doc


def main():
    real, base_path, new_path = sys.argv[1:4]
    with open(real) as f:
        text = f.read()
    base = rewrite(json.loads(text), BASE_JITTER, {})
    new = rewrite(json.loads(text), NEW_JITTER, {
        (True, "glibc"): (0.80, 1.0),
        (True, "hlmalloc"): (1.045, 0.70),
    })
    for path, doc in ((base_path, base), (new_path, new)):
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)


main()

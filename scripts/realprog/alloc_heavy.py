"""A CPU-heavy, allocation-heavy Python workload for `heaplab run` (run it with
PYTHONMALLOC=malloc so every object reaches malloc). Deterministic; prints a checksum."""
import json
import random


def main():
    rng = random.Random(1337)
    total = 0
    for rnd in range(12):
        # dicts of strings and lists: the interpreter's bread and butter
        d = {}
        for i in range(60000):
            k = "key-%d-%d" % (rnd, rng.randrange(1 << 30))
            d[k] = [rng.random() for _ in range(rng.randrange(1, 8))]
        # churn: delete half, rebuild with other sizes
        for k in list(d)[::2]:
            del d[k]
        s = json.dumps(d)
        back = json.loads(s)
        total += len(s) + len(back)
        # string building and splitting
        words = " ".join(str(rng.randrange(10 ** 6)) for _ in range(50000)).split()
        total += sum(len(w) for w in words)
        # tuples and sets
        st = {(i % 977, str(i)) for i in range(40000)}
        total += len(st)
    print(total)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# scripts/perf-real.sh: real programs under every allocator, for docs/performance.md.
#   1. python3 (PYTHONMALLOC=malloc) running scripts/realprog/alloc_heavy.py
#   2. gcc -O2 -c on a large generated C file
#   3. redis-server (preloaded) under redis-benchmark on 127.0.0.1: requests per second
# (1) and (2) use `heaplab run`; (3) starts and stops the server itself. Needs a build
# (make) and redis-server/redis-benchmark (scripts/deps.sh installs them).
# usage: scripts/perf-real.sh [REPEAT]
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${1:-5}
HEAPLAB=build/heaplab
TMP=$(mktemp -d /tmp/heaplab-perf.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
ALLOCS=glibc,jemalloc,tcmalloc,mimalloc,hlmalloc

echo "== python3 (PYTHONMALLOC=malloc) scripts/realprog/alloc_heavy.py"
"$HEAPLAB" run --repeat "$REPEAT" --allocator "$ALLOCS" --json "$TMP/python.json" -- \
    /usr/bin/env PYTHONMALLOC=malloc /usr/bin/python3 scripts/realprog/alloc_heavy.py

echo
echo "== gcc -O2 -c big.c (generated, $(python3 scripts/realprog/gen_big_c.py 1500 | wc -l) lines)"
python3 scripts/realprog/gen_big_c.py 1500 >"$TMP/big.c"
"$HEAPLAB" run --repeat "$REPEAT" --allocator "$ALLOCS" --json "$TMP/gcc.json" -- \
    /usr/bin/gcc -O2 -c "$TMP/big.c" -o "$TMP/big.o"

echo
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    echo "== redis: redis-server or redis-benchmark not installed, skipped"
    exit 0
fi
echo "== redis-server under redis-benchmark -P 16 -n 400000 -t set,get,lpush,lpop (requests/s, median of $REPEAT)"
lib_of() {
    case $1 in
    glibc) echo "" ;;
    jemalloc) echo /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ;;
    tcmalloc) echo /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 ;;
    mimalloc) echo /usr/lib/x86_64-linux-gnu/libmimalloc.so.2 ;;
    hlmalloc) readlink -f build/libhlmalloc.so ;;
    esac
}
port=$((20000 + RANDOM % 20000))
declare -A results rss
for rep in $(seq 1 "$REPEAT"); do
    for a in ${ALLOCS//,/ }; do
        lib=$(lib_of "$a")
        LD_PRELOAD="$lib" redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
            --daemonize no --logfile "$TMP/redis.log" &
        pid=$!
        for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
        rps=$(timeout 120 redis-benchmark -p "$port" -P 16 -n 400000 -q -t set,get,lpush,lpop 2>/dev/null |
            awk -F'[: ]+' '/requests per second/ {for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) {s += $i; n++; break}} END {printf "%.0f", n ? s / n : 0}')
        r=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
        kill "$pid"; wait "$pid" 2>/dev/null || true
        results[$a]="${results[$a]:-} $rps"
        rss[$a]="${rss[$a]:-} $r"
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "%-10s %14s %14s\n" allocator "requests/s" "peak RSS KiB"
for a in ${ALLOCS//,/ }; do
    printf "%-10s %14s %14s\n" "$a" "$(echo "${results[$a]}" | median)" "$(echo "${rss[$a]}" | median)"
done
echo "(redis-server is linked against jemalloc: its 'glibc' row is Debian's jemalloc build)"

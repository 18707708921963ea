#!/usr/bin/env bash
# scripts/trace-overhead.sh: what recording costs, for docs/traces.md. Each program runs
# untraced, under `heaplab record`, under the recorder alone (LD_PRELOAD, without record's
# summary pass), and under heaptrack, the four interleaved, REPEAT times; the medians of the
# wall and CPU times (user + sys) and their ratios to the untraced run are printed.
#   1. python3 (PYTHONMALLOC=malloc) scripts/realprog/alloc_heavy.py
#   2. scripts/realprog/pair_loop.c: malloc(32) + free, 30 million times
#   3. cc1 -O2 (gcc's compiler proper, run directly: heaptrack follows only the first process
#      of a program, gcc's driver) on a generated C file (scripts/realprog/gen_big_c.py 500)
# usage: scripts/trace-overhead.sh [REPEAT]   (needs a build: make; heaptrack installed)
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${1:-5}
HEAPLAB=${HEAPLAB:-build/heaplab}
SHIM=$(dirname "$HEAPLAB")/libheaplab-trace.so
TMP=$(mktemp -d /tmp/heaplab-trace-overhead.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
command -v heaptrack >/dev/null || { echo "heaptrack is missing: apt-get install heaptrack" >&2; exit 1; }

gcc -O2 -o "$TMP/pair_loop" scripts/realprog/pair_loop.c
python3 scripts/realprog/gen_big_c.py 500 >"$TMP/big.c"
CC1=$(gcc -print-prog-name=cc1)

# The environment goes in front of the tool (heaptrack traces one process: not env's child).
names=("python3 alloc_heavy.py" "pair_loop 32 x 30M" "cc1 -O2 big.c")
envs=("PYTHONMALLOC=malloc" "" "")
cmds=("/usr/bin/python3 scripts/realprog/alloc_heavy.py"
      "$TMP/pair_loop 32 30000000"
      "$CC1 -quiet -O2 $TMP/big.c -o $TMP/big.s")

# run NAME CMD...: append "wall cpu" (seconds; cpu = user + sys of CMD and everything it
# waited for, heaptrack's interpreter included) to $TMP/NAME.
run() {
    local name=$1
    shift
    /usr/bin/time -f "%e %U %S" -o "$TMP/time" "$@" >/dev/null 2>"$TMP/$name.err" || true
    awk '{print $1, $2 + $3}' "$TMP/time" >>"$TMP/$name"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for i in "${!cmds[@]}"; do
    cmd=${cmds[$i]}
    e=${envs[$i]}
    : >"$TMP/plain"; : >"$TMP/record"; : >"$TMP/shim"; : >"$TMP/heaptrack"
    for ((r = 0; r < REPEAT; r++)); do
        rm -f "$TMP"/t.trace* "$TMP"/s.trace* "$TMP"/h.*
        run plain env $e $cmd
        run record env $e "$HEAPLAB" record -o "$TMP/t.trace" -- $cmd
        run shim env $e LD_PRELOAD="$SHIM" HEAPLAB_TRACE_FILE="$TMP/s.trace" $cmd
        run heaptrack env $e heaptrack -o "$TMP/h" $cmd
    done
    tbytes=$(cat "$TMP"/t.trace* | wc -c)
    hbytes=$(cat "$TMP"/h.* | wc -c)
    events=$(sed -n 's/^heaplab: recorded \([0-9]*\) events.*/\1/p' "$TMP/record.err")
    echo "== ${names[$i]}: ${e:+$e }$cmd"
    printf "  %-15s %10s %8s %10s %8s\n" "" "wall, s" "ratio" "cpu, s" "ratio"
    pw=$(cut -d' ' -f1 "$TMP/plain" | median)
    pc=$(cut -d' ' -f2 "$TMP/plain" | median)
    for m in plain record shim heaptrack; do
        w=$(cut -d' ' -f1 "$TMP/$m" | median)
        c=$(cut -d' ' -f2 "$TMP/$m" | median)
        case $m in
        plain) label="untraced" ;; record) label="heaplab record" ;;
        shim) label="recorder only" ;; heaptrack) label="heaptrack" ;;
        esac
        awk -v l="$label" -v w="$w" -v c="$c" -v pw="$pw" -v pc="$pc" \
            'BEGIN { printf "  %-15s %10.3f %7.2fx %10.3f %7.2fx\n", l, w, w / pw, c, c / pc }'
    done
    awk -v tb="$tbytes" -v hb="$hbytes" -v ev="$events" 'BEGIN {
        printf "  events %d; trace %.1f MiB (%.2f B/event); heaptrack output %.1f KiB\n",
               ev, tb / 1048576, ev ? tb / ev : 0, hb / 1024 }'
done

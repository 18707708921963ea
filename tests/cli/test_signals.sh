#!/usr/bin/env bash
# Interrupts: SIGINT, SIGTERM or SIGHUP to bench, run, replay or race stops every worker and
# every program the run started (their process groups), removes temporary files, and exits
# 128 + the signal. No process of the run survives (checked with ps).
source "$(dirname "$0")/lib.sh"
# Job control, so background jobs do not start with SIGINT ignored (POSIX: an asynchronous
# list in a non-interactive shell ignores SIGINT, and heaplab keeps an inherited "ignore").
set -m

# Wait (up to 30 s) until `cmd` succeeds; 0 if it did.
wait_for() {
    local i
    for i in $(seq 300); do
        "$@" && return 0
        sleep 0.1
    done
    echo "timed out waiting for: $*" >&2
    return 1
}

# The pids of every process below $1 (children, grandchildren, ...).
descendants() {
    local kids k
    kids=$(ps -o pid= --ppid "$1" 2>/dev/null)
    for k in $kids; do
        echo "$k"
        descendants "$k"
    done
}

has_descendants() { [ -n "$(descendants "$1")" ]; }

# `interrupt NAME SIGNAL CODE ARGS...`: start heaplab ARGS, wait until it has a child, send
# SIGNAL, and check the exit code, that no process it started lives on, and no temp file.
interrupt() {
    local name=$1 sig=$2 code=$3
    shift 3
    "$HEAPLAB" "$@" >"$TMP/out" 2>"$TMP/err" &
    local pid=$!
    if ! wait_for has_descendants "$pid"; then
        check "$name: started a child" false
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return
    fi
    sleep 0.3 # let the child start what it starts (a program's own children)
    local before
    before=$(descendants "$pid" | sort -u | tr '\n' ' ')
    kill -"$sig" "$pid"
    wait "$pid"
    local rc=$?
    check "$name: exits $code" [ $rc -eq "$code" ]
    local left="" p
    sleep 0.2
    for p in $before; do
        # A killed process whose parent died is reparented; if nothing reaps it there (pid 1
        # of a container), it stays a zombie: dead, not surviving.
        case "$(ps -o stat= -p "$p" 2>/dev/null)" in
        "" | Z*) ;;
        *) left="$left $p" ;;
        esac
    done
    check "$name: no process of the run survives (had: $before)" [ -z "$left" ]
    [ -z "$left" ] || { ps -o pid,ppid,pgid,stat,args -p "${left# }" >&2; kill -KILL $left; }
    check "$name: no temporary file left" [ -z "$(find "$TMP" -name '*.tmp.*')" ]
}

# bench: workers in flight.
interrupt "bench SIGINT" INT 130 bench -w large --ops 20000 -a glibc -r 50 --no-latency \
    --json "$TMP/b.json"
check "bench SIGINT: no results file" [ ! -e "$TMP/b.json" ]
interrupt "bench SIGTERM" TERM 143 bench -w large --ops 20000 -a glibc -r 50 --csv "$TMP/b.csv"

# run: the program and the processes it starts (a shell with two sleeps, one in the
# background) all go.
interrupt "run SIGTERM" TERM 143 run -a glibc -r 3 --json "$TMP/r.json" -- \
    sh -c 'sleep 307 & sleep 308; wait'
alive() { ps -eo stat=,args= | grep -v '^Z' | grep -q -- "$1"; }
check "run SIGTERM: no sleep left" bash -c "$(declare -f alive); ! alive 'sleep 30[78]'"
interrupt "run SIGHUP" HUP 129 run -a glibc -r 3 -- sh -c 'sleep 309'
check "run SIGHUP: no sleep left" bash -c "$(declare -f alive); ! alive 'sleep 30[9]'"

# replay: a recorded trace (python objects through malloc: ~800k events), replayed many times.
PYTHONMALLOC=malloc "$HEAPLAB" record -o "$TMP/t.trace" -- /usr/bin/python3 -c \
    "x = [str(i) * 3 for i in range(100000)]" >/dev/null 2>&1
check "a trace to replay" [ -s "$TMP/t.trace" ]
interrupt "replay SIGHUP" HUP 129 replay "$TMP/t.trace" -a glibc -r 100 --json "$TMP/p.json"

# race: in-process, no children; its tick file is being written when the signal comes.
"$HEAPLAB" race -w adversarial --ops 400000 --tick-every 50 --ticks "$TMP/x.ticks" \
    >/dev/null 2>&1 &
pid=$!
wait_for bash -c "ls '$TMP' | grep -q 'x.ticks.tmp'"
kill -INT "$pid"
wait "$pid"
rc=$?
check "race SIGINT: exits 130" [ $rc -eq 130 ]
check "race SIGINT: no tick file" [ ! -e "$TMP/x.ticks" ]
check "race SIGINT: no temporary file left" [ -z "$(find "$TMP" -name '*.tmp.*')" ]
finish

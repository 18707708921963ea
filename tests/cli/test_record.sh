#!/usr/bin/env bash
# `heaplab record` and `heaplab trace`: small programs with known allocation calls
# (tests/trace/*.c, which print the counts they expect) recorded and checked against
# `heaplab trace info --json`; threads with cross-thread frees, fork, exec, through a wrapper
# (env, sh -c 'exec ...'), death by signal, _exit; real programs (python3, sort); damaged and
# foreign files.
source "$(dirname "$0")/lib.sh"

BIN=$(dirname "$HEAPLAB")
PROGS=$BIN/tests/trace
PY=/usr/bin/python3
cd "$TMP" || exit 1

# info FILE: the JSON report into $TMP/info.json
info() {
    "$HEAPLAB" trace info --json "$1" >"$TMP/info.json" 2>"$TMP/info.err"
}

# expect_counts EXPECTED_KV_FILE [tolerance]: every key=value the program printed matches
# info.json (calls.<key> or <key>); with a tolerance, within [value, value + tolerance].
expect_counts() {
    "$PY" - "$1" "${2:-0}" "$TMP/info.json" <<'EOF'
import json, sys
exp = dict(l.strip().split("=", 1) for l in open(sys.argv[1]) if "=" in l)
tol = int(sys.argv[2])
d = json.load(open(sys.argv[3]))
bad = []
for k, v in exp.items():
    if k.startswith("child_") or k.startswith("exec_") or k == "threads":
        continue
    got = d["calls"][k] if k in d["calls"] else d.get(k)
    if got is None or not (int(v) <= got <= int(v) + tol):
        bad.append("%s: want %s(+%d), got %s" % (k, v, tol, got))
if bad:
    print("\n".join(bad), file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
}

# jcheck EXPR: a Python expression over d (info.json) that must be true
jcheck() {
    "$PY" -c "import json,sys; d=json.load(open('$TMP/info.json')); sys.exit(0 if ($1) else 1)"
}

# ---- usage --------------------------------------------------------------------------------
"$HEAPLAB" record >/dev/null 2>"$TMP/e"; rc=$?
check "record without a command: exit 2" [ $rc -eq 2 ]
check "record without a command: says so" grep -q "no command given" "$TMP/e"
"$HEAPLAB" record --buffer 12 -- true >/dev/null 2>&1
check "record --buffer 12: exit 2" [ $? -eq 2 ]
"$HEAPLAB" record --bogus -- true >/dev/null 2>&1
check "record --bogus: exit 2" [ $? -eq 2 ]
"$HEAPLAB" record -- /nonexistent/prog >/dev/null 2>"$TMP/e"; rc=$?
check "record of a missing program: exit 1" [ $rc -eq 1 ]
check "record of a missing program: one line" [ "$(wc -l <"$TMP/e")" -eq 1 ]
"$HEAPLAB" record -o /nonexistent/dir/x.trace -- true >/dev/null 2>&1
check "record into a missing directory: exit 1" [ $? -eq 1 ]
for args in "" "info" "dump" "bogus x" "info a b" "info --bogus x" "dump --order x f"; do
    # shellcheck disable=SC2086
    "$HEAPLAB" trace $args >/dev/null 2>&1
    check "trace $args: exit 2" [ $? -eq 2 ]
done
"$HEAPLAB" trace --help | grep -q "heaplab trace info"
check "trace --help" [ $? -eq 0 ]

# ---- a single thread, every function ------------------------------------------------------
"$HEAPLAB" record -o mix.trace -- "$PROGS/tr_single" mix >"$TMP/mix.exp" 2>"$TMP/mix.err"; rc=$?
check "record mix: exit 0" [ $rc -eq 0 ]
check "record mix: the program's output passes through" grep -q "^malloc=" "$TMP/mix.exp"
check "record mix: one-line summary" grep -q "^heaplab: recorded [0-9]* events, 1 thread" "$TMP/mix.err"
info mix.trace
check "info mix: exit 0" [ $? -eq 0 ]
check "info mix: counts exactly as the program made them" expect_counts "$TMP/mix.exp"
check "info mix: complete, nothing unknown" jcheck "d['end']=='exit' and not d['truncated'] and d['unknown_frees']==0 and d['corrupt_chunks']==0"
check "info mix: everything freed" jcheck "d['live_at_end']['blocks']==0 and d['peak_live']['bytes']>=(1<<19)"
check "info mix: header" jcheck "d['program'].endswith('tr_single') and d['argv'][-1]=='mix' and d['recorder']['next_malloc'].find('libc')>=0"
check "trace info JSON validates" validate trace-info-1.schema.json "$TMP/info.json"
"$HEAPLAB" trace info mix.trace >"$TMP/mix.txt" 2>&1
check "info mix (text): peak live line" grep -q "^peak live" "$TMP/mix.txt"
check "info mix (text): size histogram" grep -q "^sizes requested" "$TMP/mix.txt"
n_events=$("$PY" -c "import json; print(json.load(open('$TMP/info.json'))['events'])")
"$HEAPLAB" trace dump --order seq mix.trace >"$TMP/dump.txt"
check "dump: one line per event" [ "$(($(wc -l <"$TMP/dump.txt") - 1))" -eq "$n_events" ]
check "dump: realloc with both numbers" grep -q "realloc(0x[0-9a-f]*, [0-9]*) = 0x[0-9a-f]*  \[seq" "$TMP/dump.txt"

# The same with 4 KiB buffers (many chunks): the same counts.
"$HEAPLAB" record --buffer 4096 -o small.trace -- "$PROGS/tr_single" mix >/dev/null 2>&1
info small.trace
check "4 KiB buffers: same counts" expect_counts "$TMP/mix.exp"

# ---- threads: cross-thread frees ----------------------------------------------------------
"$HEAPLAB" record --buffer 8192 -o thr.trace -- "$PROGS/tr_threads" >"$TMP/thr.exp" 2>/dev/null
check "record threads: exit 0" [ $? -eq 0 ]
info thr.trace
# pthread_create allocates a little (the new thread's TLS), hence the tolerance.
check "info threads: counts (+16 from pthread)" expect_counts "$TMP/thr.exp" 16
check "info threads: every worker and main" jcheck "len(d['threads'])==5 and d['calls']['thread']==5"
check "info threads: no unknown frees" jcheck "d['unknown_frees']==0 and d['reused_live']==0"

# ---- fork: the child writes its own file ------------------------------------------------
"$HEAPLAB" record -o fork.trace -- "$PROGS/tr_fork" >"$TMP/fork.exp" 2>"$TMP/fork.err"
check "record fork: exit 0" [ $? -eq 0 ]
child=$(sed -n 's/^child_pid=//p' "$TMP/fork.exp")
check "record fork: two processes in the summary" grep -q "2 processes" "$TMP/fork.err"
info fork.trace
check "info fork (parent): its own calls only" expect_counts "$TMP/fork.exp"
parent=$("$PY" -c "import json; print(json.load(open('$TMP/info.json'))['pid'])")
check "the child's file is FILE.<pid>" [ -f "fork.trace.$child" ]
info "fork.trace.$child"
check "info fork (child): a fork child of the parent" jcheck "d['forked'] and d['pid']==$child and d['ppid']==$parent"
check "info fork (child): only the child's calls" jcheck "d['calls']['malloc']==700 and d['calls']['free']==700"

# ---- exec: the new image writes FILE.<pid> -----------------------------------------------
"$HEAPLAB" record -o exec.trace -- "$PROGS/tr_single" exec >"$TMP/exec.exp" 2>/dev/null
check "record exec: exit 0" [ $? -eq 0 ]
info exec.trace
check "info exec (before): ended by exec, its calls" jcheck "d['end']=='exec' and d['calls']['malloc']==150"
pid=$("$PY" -c "import json; print(json.load(open('$TMP/info.json'))['pid'])")
info "exec.trace.$pid"
check "info exec (after): the new image's calls" expect_counts "$TMP/exec.exp"

# ---- through a wrapper: env, and a shell that execs ---------------------------------------
# The wrapper writes FILE, the program it execs FILE.<pid>. The last line says which file
# holds which program, and trace info on either file lists both (its "recording").
# events FILE: the events of FILE, from trace info
events() {
    "$HEAPLAB" trace info --json "$1" | "$PY" -c "import json,sys; print(json.load(sys.stdin)['events'])"
}
for w in env sh; do
    if [ $w = env ]; then
        "$HEAPLAB" record -o $w.trace -- /usr/bin/env "$PROGS/tr_single" mix >/dev/null 2>"$TMP/$w.err"
    else
        "$HEAPLAB" record -o $w.trace -- sh -c "exec '$PROGS/tr_single' mix" >/dev/null 2>"$TMP/$w.err"
    fi
    check "record through $w: exit 0" [ $? -eq 0 ]
    second=$(ls $w.trace.* 2>/dev/null)
    check "record through $w: the program's own file" test "$(echo "$second" | wc -w)" -eq 1 -a -f "$second"
    n1=$(events $w.trace)
    n2=$(events "$second")
    check "record through $w: the last line names each file's program" \
        grep -qE "^heaplab: recorded $((n1 + n2)) events, .*: $w.trace: $w \($n1 events\); $second: tr_single \($n2 events\)\$" \
        "$TMP/$w.err"
    for f in $w.trace "$second"; do
        info "$f"
        check "info $f: the recording's files, the wrapper's first" jcheck \
            "[(r['file'], r['program'], r['events']) for r in d['recording']] == [('$w.trace', '$w', $n1), ('$second', 'tr_single', $n2)]"
        check "info $f (JSON) validates" validate trace-info-1.schema.json "$TMP/info.json"
        "$HEAPLAB" trace info "$f" >"$TMP/rec.txt"
        check "info $f (text): lists both files" bash -c "grep -qE '^recording +2 files' '$TMP/rec.txt' && grep -qE '^[* ] $w.trace +$w +[0-9]+ +$n1 +exec' '$TMP/rec.txt' && grep -qE '^[* ] $second +tr_single +[0-9]+ +$n2 +exit' '$TMP/rec.txt'"
    done
done
info mix.trace
check "info of a one-file recording: itself" jcheck "[r['file'] for r in d['recording']] == ['mix.trace']"

# ---- ends: a fatal signal, abort, _exit ---------------------------------------------------
"$HEAPLAB" record -o sig.trace -- "$PROGS/tr_single" signal >"$TMP/sig.exp" 2>"$TMP/sig.err"; rc=$?
check "record signal: exit 1" [ $rc -eq 1 ]
check "record signal: the signal is reported" grep -q "killed by signal 15" "$TMP/sig.err"
check "record signal: the trace is kept" grep -q "trace is kept" "$TMP/sig.err"
info sig.trace
check "info signal: every allocation, none freed" jcheck "d['calls']['malloc']==500 and d['calls']['free']==0 and d['live_at_end']['blocks']==500"
check "info signal: ended by SIGTERM" jcheck "d['end']=='signal' and d['end_signal']==15"
"$HEAPLAB" record -o abrt.trace -- "$PROGS/tr_single" abort >/dev/null 2>&1
info abrt.trace
check "info abort: ended by SIGABRT, all recorded" jcheck "d['end']=='signal' and d['end_signal']==6 and d['calls']['malloc']==300"
"$HEAPLAB" record -o exit.trace -- "$PROGS/tr_single" _exit >/dev/null 2>&1
check "record _exit: exit 0" [ $? -eq 0 ]
info exit.trace
check "info _exit: all recorded" jcheck "d['end']=='_exit' and d['calls']['malloc']==200"

# ---- over another allocator --------------------------------------------------------------
if [ -e "$BIN/libhlmalloc.so" ]; then
    LD_PRELOAD="$BIN/libhlmalloc.so" "$HEAPLAB" record -o hl.trace -- "$PROGS/tr_single" mix >/dev/null 2>&1
    check "record over hlmalloc: exit 0" [ $? -eq 0 ]
    info hl.trace
    check "record over hlmalloc: it is the malloc recorded" jcheck "'hlmalloc' in d['recorder']['next_malloc']"
    check "record over hlmalloc: same counts" expect_counts "$TMP/mix.exp"
else
    skip "libhlmalloc.so not built"
fi

# ---- real programs ------------------------------------------------------------------------
PYTHONMALLOC=malloc "$HEAPLAB" record -o py.trace -- "$PY" -c '
d = {}
for i in range(100000):
    d["k%d" % i] = [i] * (i % 7)
for k in list(d)[::2]:
    del d[k]
print(len(d))' >"$TMP/py.out" 2>/dev/null
check "record python3: exit 0 and its output" grep -q "^50000$" "$TMP/py.out"
info py.trace
check "info python3: exit 0" [ $? -eq 0 ]
check "info python3: plausible" jcheck "d['calls']['malloc']>100000 and d['releases']>50000 and d['peak_live']['bytes']>(4<<20) and d['end']=='exit' and d['events']==sum(d['calls'].values())"

seq 1 50000 | "$PY" -c 'import random,sys; l=sys.stdin.read().split(); random.seed(1); random.shuffle(l); print("\n".join(l))' >nums.txt
sort -n nums.txt >sorted.plain
"$HEAPLAB" record -o sort.trace -- sort -n nums.txt >sorted.traced 2>/dev/null
check "record sort: exit 0" [ $? -eq 0 ]
check "record sort: same output as untraced" cmp -s sorted.plain sorted.traced
info sort.trace
check "info sort: plausible" jcheck "d['calls']['malloc']>10 and d['bytes_requested']>100000 and d['unknown_frees']==0"

# An old FILE is replaced, and only this run's files are counted.
"$HEAPLAB" record -o mix.trace -- "$PROGS/tr_single" mix >/dev/null 2>"$TMP/again.err"
check "record over an old FILE: replaced" grep -q "1 process (.*): mix.trace: tr_single ([0-9]* events)$" "$TMP/again.err"

# ---- damaged and foreign files ------------------------------------------------------------
size=$(stat -c %s thr.trace)
head -c $((size * 2 / 3)) thr.trace >cut.trace
"$HEAPLAB" trace info --json cut.trace >"$TMP/info.json" 2>"$TMP/e"; rc=$?
check "truncated: exit 1" [ $rc -eq 1 ]
check "truncated: one line that says so" [ "$(grep -c "truncated" "$TMP/e")" -eq 1 ]
check "truncated: still reported up to the last whole chunk" jcheck "d['truncated'] and 0 < d['events'] < 80000"
cp thr.trace bad.trace
printf '\xff\xff\xff\xff' | dd of=bad.trace bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
"$HEAPLAB" trace info --json bad.trace >"$TMP/info.json" 2>"$TMP/e"; rc=$?
check "corrupt chunk: exit 1" [ $rc -eq 1 ]
check "corrupt chunk: said" grep -q "corrupt chunk" "$TMP/e"
check "corrupt chunk: the rest is read" jcheck "d['corrupt_chunks']>=1 and d['events']>70000 and d['end']=='exit'"
printf 'just some text\n' >text.trace
: >empty.trace
for f in text.trace empty.trace /nonexistent.trace "$TMP"; do
    "$HEAPLAB" trace info "$f" >/dev/null 2>"$TMP/e"; rc=$?
    check "info $f: exit 1" [ $rc -eq 1 ]
    check "info $f: one line" [ "$(wc -l <"$TMP/e")" -eq 1 ]
done
"$HEAPLAB" trace info text.trace 2>&1 | grep -q "not a heaplab trace"
check "foreign file: named as such" [ $? -eq 0 ]
head -c 10 mix.trace >hdr.trace
"$HEAPLAB" trace info hdr.trace 2>&1 | grep -q "truncated header"
check "truncated header: said" [ $? -eq 0 ]

finish

# tests/fuzz/fuzz_lib.sh: what the fuzz runners share. A runner sources this with its
# arguments (FUZZER HEAPLAB SECONDS) and NAME set, writes its seeds into $SEEDS when that is
# empty (seeds_wanted), then calls fuzz_run MAX_LEN DICT. Exit 77 (ctest: skipped) without
# clang's libFuzzer. Corpus and log: <build>/tests/fuzz/corpus-NAME, fuzz-NAME.log.
set -u
FUZZER=$1
HEAPLAB=$2
SECONDS_=${3:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "$FUZZER" ]; then
    echo "skip: no fuzzer binary (needs clang with libFuzzer: scripts/deps.sh installs clang and libclang-rt-14-dev)"
    exit 77
fi
DIR=$(dirname "$FUZZER")
SEEDS=$DIR/seeds-$NAME
CORPUS=$DIR/corpus-$NAME
mkdir -p "$SEEDS" "$CORPUS"

seeds_wanted() { [ -z "$(ls -A "$SEEDS" 2>/dev/null)" ]; }

# fuzz_run MAX_LEN DICT: run for SECONDS_, one line of what it did, exit 1 on a failure.
fuzz_run() {
    local log=$DIR/fuzz-$NAME.log
    "$FUZZER" -max_total_time="$SECONDS_" -max_len="$1" -timeout=10 -rss_limit_mb=2048 \
        -dict="$HERE/$2" -print_final_stats=1 "$CORPUS" "$SEEDS" >"$log" 2>&1
    local rc=$?
    if [ $rc -ne 0 ]; then
        tail -n 60 "$log"
        echo "fuzz_$NAME: FAILED (exit $rc); the input is in $(pwd)/crash-* and the log in $log"
        exit 1
    fi
    local runs
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz_$NAME: ${runs:-?} inputs in ${SECONDS_} s, no failure (corpus: $(ls "$CORPUS" | wc -l) files)"
}

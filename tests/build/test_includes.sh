#!/usr/bin/env bash
# tests/build/test_includes.sh CC TARGET=DIRS...: each component's target can include the
# headers of the components it links, and no others (docs/architecture.md, "Components").
# DIRS is the target's include path as CMake compiles it (its INCLUDE_DIRECTORIES with
# what its links bring), ':'-separated. Each header is preprocessed alone with that path:
# an allowed one must be found, with everything it includes; any other must be missing.
set -u
CC=${1:?usage: test_includes.sh CC TARGET=DIRS...}
shift
source "$(dirname "$0")/../check.sh"
TMP=$(mktemp -d /tmp/heaplab-includes.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# One interface header of each component, plus the few headers shared with the standalone
# libraries.
HEADERS="util/diag.h workload/workload.h heaplab/lab.h race/race.h trace/trace.h
         trace/format.h replay/replay.h report/report.h inside/inside.h bench/bench.h
         bench/provider.h server/server.h cli/cli.h hlmalloc.h hlmalloc/internal.h"

# The headers each target may include: the dependency graph of docs/architecture.md.
allowed() {
    case $1 in
    hl_util) echo "util/diag.h" ;;
    hl_workload) echo "util/diag.h workload/workload.h" ;;
    hl_lab) echo "util/diag.h heaplab/lab.h" ;;
    hl_race) echo "util/diag.h workload/workload.h heaplab/lab.h race/race.h" ;;
    hl_trace) echo "util/diag.h trace/trace.h trace/format.h" ;;
    hl_replay) echo "util/diag.h workload/workload.h trace/trace.h trace/format.h replay/replay.h" ;;
    hl_report) echo "util/diag.h report/report.h" ;;
    hl_inside) echo "util/diag.h inside/inside.h hlmalloc.h" ;;
    hl_bench)
        echo "util/diag.h workload/workload.h heaplab/lab.h inside/inside.h bench/bench.h"
        echo "bench/provider.h"
        ;;
    hl_server)
        echo "util/diag.h workload/workload.h heaplab/lab.h race/race.h trace/trace.h"
        echo "trace/format.h replay/replay.h inside/inside.h bench/bench.h bench/provider.h"
        echo "server/server.h"
        ;;
    heaplab)
        echo "util/diag.h workload/workload.h heaplab/lab.h race/race.h trace/trace.h"
        echo "trace/format.h replay/replay.h report/report.h inside/inside.h bench/bench.h"
        echo "bench/provider.h server/server.h"
        echo "cli/cli.h"
        ;;
    heaplab-probe) echo "bench/provider.h" ;;
    heaplab-trace) echo "trace/format.h trace/trace.h" ;;
    hlmalloc | hlmalloc_api) echo "hlmalloc.h hlmalloc/internal.h" ;;
    *) echo "?" ;;
    esac
}

[ $# -gt 0 ] || { echo "no targets given" >&2; exit 2; }
for arg in "$@"; do
    target=${arg%%=*}
    dirs=${arg#*=}
    ok=$(allowed "$target")
    if [ "$ok" = "?" ]; then
        check "$target: in this test's table" false
        continue
    fi
    ok=" $(echo $ok) " # one line, each name between spaces
    flags=()
    IFS=: read -ra list <<<"$dirs"
    for d in "${list[@]}"; do [ -n "$d" ] && flags+=("-I$d"); done
    for h in $HEADERS; do
        printf '#include "%s"\n' "$h" >"$TMP/probe.c"
        "$CC" -std=c11 -D_DEFAULT_SOURCE '-DHEAPLAB_VERSION="0"' "${flags[@]}" -E \
            "$TMP/probe.c" -o /dev/null 2>"$TMP/err"
        rc=$?
        case $ok in
        *" $h "*)
            check "$target includes $h" [ $rc -eq 0 ]
            [ $rc -eq 0 ] || head -3 "$TMP/err" >&2
            ;;
        *) check "$target cannot include $h" grep -qF "$h: No such file or directory" "$TMP/err" ;;
        esac
    done
done
finish

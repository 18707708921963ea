#!/usr/bin/env bash
# tests/hlmalloc/misuse_table.sh [--expect NAME=FILE]... [--markdown] MISUSE NAME=LIB...
#
# Runs every case of the misuse program (tests/hlmalloc/misuse.c, `MISUSE --list`) under
# each allocator, LIB preloaded (LIB "none": the C library's own malloc), with a timeout
# per case, and classifies each run:
#   D  detected: killed by a signal (abort, or a fault on a guard page)
#   R  reported: exited, but the allocator wrote a line on stderr
#   M  mitigated: no report, but the misuse had no effect (exit 42: a read of freed memory
#      did not see the old data; a corrupted free list did not hand out the planted pointer)
#   -  missed (T: timed out)
# Prints one line per case, then per class of case and allocator the count detected
# (D or R) and, as +nM, mitigated; with --markdown as a table for docs/hlmalloc.md.
# --expect NAME=FILE: FILE lists cases (one a line, # comments) that allocator NAME must
# detect; any it misses is printed and the script exits 1. Exit 2: usage.
set -u
usage() {
    echo "usage: misuse_table.sh [--expect NAME=FILE]... [--markdown] MISUSE NAME=LIB..." >&2
    exit 2
}
declare -A expect=()
markdown=0
while [ $# -gt 0 ]; do
    case $1 in
    --expect) [ $# -ge 2 ] || usage; expect[${2%%=*}]=${2#*=}; shift 2 ;;
    --markdown) markdown=1; shift ;;
    --*) echo "misuse_table.sh: unknown option $1" >&2; usage ;;
    *) break ;;
    esac
done
[ $# -ge 2 ] || usage
prog=$1
shift
[ -x "$prog" ] || { echo "misuse_table.sh: no program $prog" >&2; exit 2; }
names=() libs=()
for spec in "$@"; do
    names+=("${spec%%=*}")
    lib=${spec#*=}
    if [ "$lib" != none ] && [ ! -f "$lib" ]; then
        echo "misuse_table.sh: no library $lib (for $spec)" >&2
        exit 2
    fi
    libs+=("$lib")
done
for v in $(compgen -e); do
    case $v in HLMALLOC_* | MALLOC_* | GLIBC_TUNABLES | MIMALLOC_* | TCMALLOC_*) unset "$v" ;; esac
done
export LC_ALL=C
TMP=$(mktemp -d /tmp/heaplab-misuse.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mapfile -t cases < <("$prog" --list)

# classify LIB CASE: prints D, R, M, - or T.
classify() {
    local rc pre=()
    [ "$1" != none ] && pre=("LD_PRELOAD=$1")
    { # the braces catch the shell's own "Aborted" notices
        (
            ulimit -c 0
            exec timeout -k 2 10 env "${pre[@]}" "$prog" "$2" >/dev/null 2>"$TMP/err"
        )
        rc=$?
    } 2>/dev/null
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then echo T
    elif [ "$rc" -gt 128 ]; then echo D
    elif [ -s "$TMP/err" ]; then echo R
    elif [ "$rc" -eq 42 ]; then echo M
    else echo -
    fi
}

# group CASE: the class a case is counted in.
group() {
    case $1 in
    over-1-* | over-32-* | under-1-* | under-32-*) echo "${1%%-c*}" | sed -E 's/-(large|huge).*//' ;;
    invalid-free-*) echo invalid-free ;;
    *) echo "$1" | sed -E 's/-(small|medium|large|huge).*//; s/-(write1|write16|read|live|stack)$//' ;;
    esac
}

declare -A count=() mit=() total=()
groups=()
failed=0
printf '%-40s' case
printf ' %s' "${names[@]}"
echo
for c in "${cases[@]}"; do
    g=$(group "$c")
    [ -n "${total[$g]:-}" ] || groups+=("$g")
    total[$g]=$((${total[$g]:-0} + 1))
    printf '%-40s' "$c"
    for i in "${!names[@]}"; do
        r=$(classify "${libs[$i]}" "$c")
        printf ' %s' "$r"
        case $r in D | R) count[$g,$i]=$((${count[$g,$i]:-0} + 1)) ;; esac
        [ "$r" = M ] && mit[$g,$i]=$((${mit[$g,$i]:-0} + 1))
        case $r in D | R) ;; *) [ -n "${expect[${names[$i]}]:-}" ] \
            && grep -qx -- "$c" "${expect[${names[$i]}]}" \
            && { echo "MISSED by ${names[$i]}: $c" >&2; failed=1; } ;;
        esac
    done
    echo
done

echo
if [ "$markdown" -eq 1 ]; then
    printf '| misuse | cases |'
    printf ' %s |' "${names[@]}"
    printf '\n|---|---:|'
    printf -- '---:|%.0s' "${names[@]}"
    echo
fi
if [ "$markdown" -eq 0 ]; then printf "%-24s %4s" class cases; printf " %8s" "${names[@]}"; echo; fi
declare -A sum=() msum=()
all=0
for g in "${groups[@]}"; do
    all=$((all + total[$g]))
    if [ "$markdown" -eq 1 ]; then printf '| %s | %d |' "$g" "${total[$g]}"
    else printf '%-24s %4d' "$g" "${total[$g]}"; fi
    for i in "${!names[@]}"; do
        n=${count[$g,$i]:-0} m=${mit[$g,$i]:-0}
        sum[$i]=$((${sum[$i]:-0} + n))
        msum[$i]=$((${msum[$i]:-0} + m))
        cell=$n
        [ "$m" -gt 0 ] && cell="$n+${m}M"
        if [ "$markdown" -eq 1 ]; then printf ' %s |' "$cell"; else printf ' %8s' "$cell"; fi
    done
    echo
done
if [ "$markdown" -eq 1 ]; then printf '| **all** | %d |' "$all"
else printf '%-24s %4d' all "$all"; fi
for i in "${!names[@]}"; do
    cell=${sum[$i]}
    [ "${msum[$i]}" -gt 0 ] && cell="${sum[$i]}+${msum[$i]}M"
    if [ "$markdown" -eq 1 ]; then printf ' **%s** |' "$cell"; else printf ' %8s' "$cell"; fi
done
echo
exit $failed

#!/usr/bin/env bash
# tests/hlmalloc/test_programs.sh LIB: real programs under LD_PRELOAD=LIB print exactly what
# they print without it (stdout, stderr and exit status): python3 (also with
# PYTHONMALLOC=malloc), gcc, git, sort, bash, the standard malloc API from C, and
# redis-server driven by redis-cli and redis-benchmark on 127.0.0.1. First it checks that
# the preload takes effect. Each program run is bounded by `timeout`.
source "$(dirname "$0")/lib.sh"
LIMIT=60 # seconds for any one program run
PRELOAD="LD_PRELOAD=$LIB"

# both NAME CMD...: runs CMD plainly and preloaded; exit status, stdout and stderr must
# match, and the plain run must succeed.
both() {
    local name=$1 rb rp
    shift
    timeout "$LIMIT" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    rb=$?
    env "$PRELOAD" timeout "$LIMIT" "$@" >"$TMP/$name.pre.out" 2>"$TMP/$name.pre.err"
    rp=$?
    check "$name: runs without the preload (status $rb)" [ "$rb" -eq 0 ]
    if [ "$rp" -ne "$rb" ]; then
        echo "  $name: exit status $rb plain, $rp preloaded" >&2
        head -5 "$TMP/$name.pre.err" >&2
    fi
    check "$name: same exit status preloaded" [ "$rp" -eq "$rb" ]
    same_files "$name: same stdout" "$TMP/$name.out" "$TMP/$name.pre.out"
    same_files "$name: same stderr" "$TMP/$name.err" "$TMP/$name.pre.err"
}

# --- The preload takes effect: the library is mapped and malloc & co resolve to it.
env "$PRELOAD" cat /proc/self/maps >"$TMP/maps" 2>"$TMP/maps.err"
check "preloaded: $LIBNAME mapped into cat" grep -qF "$LIB" "$TMP/maps"
check "preloaded: the loader loaded it silently" [ ! -s "$TMP/maps.err" ]

cat >"$TMP/resolve.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
/* Where each name resolves in the running process. */
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        Dl_info info;
        void *sym = dlsym(RTLD_DEFAULT, argv[i]);
        const char *where = sym && dladdr(sym, &info) && info.dli_fname ? info.dli_fname : "-";
        char *real = realpath(where, NULL);
        printf("%s %s\n", argv[i], real ? real : where);
        free(real);
    }
    return 0;
}
EOF
cc -O1 -o "$TMP/resolve" "$TMP/resolve.c" -ldl
NAMES=(malloc free calloc realloc reallocarray posix_memalign aligned_alloc memalign valloc
       pvalloc malloc_usable_size free_sized free_aligned_sized cfree malloc_trim mallopt mallinfo2)
env "$PRELOAD" "$TMP/resolve" "${NAMES[@]}" >"$TMP/resolved"
for n in "${NAMES[@]}"; do
    check "preloaded: $n resolves to $LIBNAME" grep -qxF "$n $LIB" "$TMP/resolved"
done
grep -vF " $LIB" "$TMP/resolved" | sed 's/^/  resolves elsewhere: /' >&2

# --- The standard names from C, with the C library's semantics: same output as glibc.
cat >"$TMP/stdapi.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static int fails;
#define EXPECT(c) do { if (!(c)) { printf("FAIL line %d: %s\n", __LINE__, #c); fails++; } } while (0)
static size_t opaque(size_t n) { volatile size_t v = n; return v; }
int main(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *p = malloc(100), *q;
    EXPECT(p && ((uintptr_t)p & 15) == 0 && malloc_usable_size(p) >= 100);
    memset(p, 7, 100);
    q = realloc(p, 300000);
    EXPECT(q && q[99] == 7);
    q = reallocarray(q, 1000, 1000);
    EXPECT(q && q[0] == 7);
    free(q);
    unsigned char *z = calloc(1000, 10);
    EXPECT(z && z[0] == 0 && z[9999] == 0);
    free(z);
    void *a = NULL;
    EXPECT(posix_memalign(&a, 64, 1000) == 0 && ((uintptr_t)a & 63) == 0);
    EXPECT(posix_memalign(&a, 24, 1000) == EINVAL);
    free(a);
    a = aligned_alloc(4096, 8192);
    EXPECT(a && ((uintptr_t)a & 4095) == 0);
    free(a);
    a = memalign(256, 1000);
    EXPECT(a && ((uintptr_t)a & 255) == 0);
    free(a);
    a = valloc(100);
    EXPECT(a && ((uintptr_t)a & (page - 1)) == 0);
    free(a);
    a = pvalloc(100);
    EXPECT(a && ((uintptr_t)a & (page - 1)) == 0 && malloc_usable_size(a) >= page);
    free(a);
    errno = 0;
    EXPECT(malloc(opaque(SIZE_MAX)) == NULL && errno == ENOMEM);
    errno = 0;
    EXPECT(calloc(opaque(SIZE_MAX / 2), 3) == NULL && errno == ENOMEM);
    EXPECT(realloc(malloc(10), 0) == NULL);
    free(NULL);
    /* C23 / glibc 2.40 names, where the malloc in use has them. */
    void (*fs)(void *, size_t) = (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "free_sized");
    void (*fas)(void *, size_t, size_t) =
        (void (*)(void *, size_t, size_t))dlsym(RTLD_DEFAULT, "free_aligned_sized");
    void (*cf)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "cfree");
    if (fs)
        fs(malloc(50), 50);
    if (fas)
        fas(aligned_alloc(128, 256), 128, 256);
    if (cf)
        cf(malloc(20));
    /* Sensible housekeeping: mallinfo2 sees the live bytes, trim and mallopt answer. */
    void *big[8];
    for (int i = 0; i < 8; i++)
        memset(big[i] = malloc(1 << 20), 1, 1 << 20);
    struct mallinfo2 mi = mallinfo2();
    EXPECT(mi.uordblks + mi.hblkhd >= (size_t)8 << 20);
    for (int i = 0; i < 8; i++)
        free(big[i]);
    int t = malloc_trim(0);
    EXPECT(t == 0 || t == 1);
    int m = mallopt(M_ARENA_MAX, 4);
    EXPECT(m == 0 || m == 1);
    printf("%s\n", fails ? "stdapi: failures" : "stdapi: ok");
    return fails != 0;
}
EOF
cc -O1 -fno-builtin -w -o "$TMP/stdapi" "$TMP/stdapi.c" -ldl
both stdapi "$TMP/stdapi"

# --- python3: dicts, strings, lists, threads; with pymalloc and with every object in malloc.
cat >"$TMP/prog.py" <<'EOF'
import collections, hashlib, json, re, threading

def work(seed, n):
    d = {}
    for i in range(n):
        k = "k%d-%d" % (seed, (i * 7919) % n)
        d[k] = ("v%d" % i) * (i % 9) + str(seed)
    words = " ".join(sorted(d.values())).split()
    counts = collections.Counter(w[:3] for w in words)
    lists = [list(range(i % 50)) for i in range(n // 10)]
    flat = [x * seed for l in lists for x in l if x % 3]
    s = json.dumps({"n": len(d), "top": counts.most_common(5), "sum": sum(flat)}, sort_keys=True)
    text = "".join(re.sub(r"[aeiou]", "_", k) for k in list(d)[:2000])
    return hashlib.sha256((s + text).encode()).hexdigest()

results = [None] * 4
def run(i):
    results[i] = work(i + 1, 30000)
threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(results)
big = {i: str(i) * 3 for i in range(200000)}
print(len(big), sum(len(v) for v in big.values()))
del big
print(work(99, 50000))
EOF
PY=/usr/bin/python3
both python env PYTHONHASHSEED=0 "$PY" "$TMP/prog.py"
both python-malloc env PYTHONHASHSEED=0 PYTHONMALLOC=malloc "$PY" "$TMP/prog.py"
env "$PRELOAD" "$PY" -c "print(open('/proc/self/maps').read())" >"$TMP/py.maps" 2>&1
check "python: $LIBNAME mapped" grep -qF "$LIB" "$TMP/py.maps"

# --- gcc compiling a generated C file: same object, same program output.
mkdir -p "$TMP/cc"
{
    echo '#include <stdio.h>'
    echo 'struct s { int a; long b; char c[16]; };'
    for i in $(seq 1 300); do echo "static long f$i(long x, struct s *p);"; done
    for i in $(seq 1 300); do
        echo "static long f$i(long x, struct s *p) { switch (x & 7) { case 0: return x * $i + p->a;"
        echo "  case 1: return f$((i % 300 + 1))(x >> 1, p) - $i;"
        echo "  case 2: p->b += x; return p->b ^ $i; case 3: return (long)p->c[x & 15] + $i;"
        echo "  default: { long t = 0; for (long k = 0; k < (x & 15); k++) t += k * $i; return t; } } }"
    done
    echo 'int main(void) { struct s st = { 1, 2, "heaplab" }; long acc = 0;'
    echo '  for (long x = 0; x < 1000; x++) {'
    for i in $(seq 1 300); do echo "    acc += f$i(x, &st);"; done
    echo '  } printf("%ld\n", acc); return 0; }'
} >"$TMP/cc/prog.c"
both gcc gcc -O2 -c "$TMP/cc/prog.c" -o "$TMP/cc/plain.o"
env "$PRELOAD" timeout "$LIMIT" gcc -O2 -c "$TMP/cc/prog.c" -o "$TMP/cc/pre.o"
check "gcc: same object file" cmp -s "$TMP/cc/plain.o" "$TMP/cc/pre.o"
nm -P "$TMP/cc/plain.o" >"$TMP/cc/plain.nm" && nm -P "$TMP/cc/pre.o" >"$TMP/cc/pre.nm"
same_files "gcc: same symbols" "$TMP/cc/plain.nm" "$TMP/cc/pre.nm"
timeout "$LIMIT" gcc -O1 -o "$TMP/cc/prog" "$TMP/cc/prog.c"
env "$PRELOAD" timeout "$LIMIT" gcc -O1 -o "$TMP/cc/prog.pre" "$TMP/cc/prog.c"
check "gcc: links to the same executable preloaded" cmp -s "$TMP/cc/prog" "$TMP/cc/prog.pre"
both gcc-built-program "$TMP/cc/prog"

# --- git init/add/commit with a fixed author and date: the same commit hashes.
cat >"$TMP/git.sh" <<'EOF'
set -e
dir=$1
rm -rf "$dir"
export HOME=$dir/home GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=heaplab GIT_AUTHOR_EMAIL=t@heaplab
export GIT_COMMITTER_NAME=heaplab GIT_COMMITTER_EMAIL=t@heaplab
export GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' GIT_COMMITTER_DATE='2024-01-01T00:00:00Z'
mkdir -p "$dir/home" "$dir/repo/sub"
cd "$dir/repo"
git -c init.defaultBranch=main init -q
for i in $(seq 1 300); do
    printf 'file %d\n%s\n' "$i" "$(seq "$i" $((i + 40)))" >"sub/f$i.txt"
done
git add -A
git commit -q -m "first"
for i in $(seq 1 300 | awk 'NR % 3 == 0'); do echo "change $i" >>"sub/f$i.txt"; done
git rm -q sub/f1.txt
git add -A
git commit -q -m "second"
git log --format='%H %T %s'
git diff --stat HEAD~1 | tail -1
git gc -q
git fsck --no-progress --full
git log -p | sha256sum
EOF
both git bash "$TMP/git.sh" "$TMP/git-repo"

# --- sort of 200k generated lines, in memory and through temporary files with threads.
awk 'BEGIN { x = 12345; for (i = 0; i < 200000; i++) {
         x = (x * 1103515245 + 12345) % 2147483648
         printf "%08x %d line-%d %s\n", x, x % 1000, i, substr("abcdefghijklmnop", 1 + x % 16) } }' \
    >"$TMP/lines.txt"
both sort sort "$TMP/lines.txt"
both sort-numeric sort -k2,2n -k1,1 "$TMP/lines.txt"
both sort-unique sort -u -k4,4 "$TMP/lines.txt"
both sort-external sort -S 1M --parallel=2 -T "$TMP" -r "$TMP/lines.txt"

# --- bash: strings, indexed and associative arrays.
cat >"$TMP/work.sh" <<'EOF'
declare -A h
a=()
s=""
for ((i = 0; i < 20000; i++)); do
    a+=("item$i")
    h["k$((i % 997))"]+="$i,"
    ((i % 50 == 0)) && s+="${i}x"
done
joined="${a[*]}"
echo "${#a[@]} ${#joined} ${#s}"
echo "${joined//item1/X}" | cksum
for k in $(printf '%s\n' "${!h[@]}" | sort | head -20); do
    v=${h[$k]}
    echo "$k ${#v} ${v:0:20} ${v^^}" | cut -c1-60
done
unset 'a[5]' 'a[7]'
echo "${#a[@]} ${a[@]:100:3} ${s:10:10} ${s%%x*} ${s##*x}"
EOF
both bash bash "$TMP/work.sh"

# --- redis-server on 127.0.0.1: the same replies to a fixed command sequence, and
# redis-benchmark completes against the preloaded server.
REDIS_PID=
stop_redis() {
    if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
        kill "$REDIS_PID" 2>/dev/null
        wait "$REDIS_PID" 2>/dev/null
    fi
    REDIS_PID=
}
trap 'stop_redis; rm -rf "$TMP"' EXIT

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_redis PORT [ENV...]: redis-server in the background; 0 once it answers PING.
start_redis() {
    local port=$1
    shift
    mkdir -p "$TMP/redis-$port"
    env "$@" redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$TMP/redis-$port" --logfile "$TMP/redis-$port/log" &
    REDIS_PID=$!
    for _ in $(seq 1 100); do
        [ "$(timeout 2 redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    return 1
}

# redis_session PORT OUT: a fixed command sequence, then a clean shutdown.
redis_session() {
    timeout "$LIMIT" redis-cli -p "$1" <"$TMP/redis.cmds" >"$2" 2>&1
    timeout 10 redis-cli -p "$1" shutdown nosave >/dev/null 2>&1
    local i
    for i in $(seq 1 100); do
        kill -0 "$REDIS_PID" 2>/dev/null || break
        sleep 0.1
    done
    wait "$REDIS_PID"
}

if command -v redis-server >/dev/null && command -v redis-cli >/dev/null &&
    command -v redis-benchmark >/dev/null; then
    awk 'BEGIN { for (i = 0; i < 3000; i++) {
             printf "SET key:%d %s\n", i, sprintf("%0" (1 + i % 300) "d", i)
             if (i % 3 == 0) printf "LPUSH list:%d %d %d %d\n", i % 17, i, i * 2, i * 3
             if (i % 5 == 0) printf "HSET hash:%d f%d %d\n", i % 11, i, i
             if (i % 7 == 0) printf "SADD set:%d m%d\n", i % 13, i
             if (i % 4 == 0) printf "ZADD zset %d z%d\n", (i * 37) % 1000, i
             if (i % 9 == 0) printf "APPEND key:%d tail%d\n", i / 2, i
             if (i % 11 == 0) printf "DEL key:%d\n", i / 3
             if (i % 6 == 0) printf "INCRBY counter %d\n", i } }
         END { print "DBSIZE"; print "STRLEN key:2999"; print "GET key:1234"; print "LLEN list:3";
               print "LRANGE list:5 0 9"; print "HLEN hash:4"; print "HGET hash:2 f2002";
               print "SCARD set:6"; print "ZRANGE zset 0 9 WITHSCORES"; print "GET counter" }' \
        >"$TMP/redis.cmds"
    port=$(free_port)
    if start_redis "$port"; then
        redis_session "$port" "$TMP/redis.out"
        port=$(free_port)
        if start_redis "$port" "$PRELOAD"; then
            check "redis: $LIBNAME mapped into the server" grep -qF "$LIB" "/proc/$REDIS_PID/maps"
            env "$PRELOAD" timeout "$LIMIT" redis-benchmark -h 127.0.0.1 -p "$port" -q -n 20000 \
                -c 20 -P 8 -r 5000 -d 200 -t set,get,incr,lpush,lpop,sadd,hset,lrange_100,mset \
                >"$TMP/bench.out" 2>"$TMP/bench.err"
            check "redis-benchmark: completes (preloaded client and server)" [ $? -eq 0 ]
            check "redis-benchmark: every test reports throughput" \
                [ "$(grep -c 'requests per second' "$TMP/bench.out")" -ge 9 ]
            timeout 10 redis-cli -p "$port" flushall >/dev/null
            redis_session "$port" "$TMP/redis.pre.out"
            check "redis: preloaded server shuts down cleanly" [ $? -eq 0 ]
            same_files "redis: same replies" "$TMP/redis.out" "$TMP/redis.pre.out"
        else
            check "redis: preloaded server starts" false
            tail -5 "$TMP/redis-$port/log" >&2
        fi
        stop_redis
    else
        check "redis: server starts without the preload" false
    fi
else
    skip "redis-server, redis-cli or redis-benchmark not installed (Debian: redis-server)"
fi

finish

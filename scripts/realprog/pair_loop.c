/* realprog/pair_loop.c: malloc(n) + free in a tight loop, one other block kept live so the
 * page never empties: the fast paths, for callgrind's instruction counts. */
#include <stdlib.h>

int main(int argc, char **argv)
{
    size_t sz = argc > 1 ? (size_t)atoi(argv[1]) : 32;
    int n = argc > 2 ? atoi(argv[2]) : 1000000;
    void *volatile keep = malloc(sz);
    void *volatile sink;
    for (int i = 0; i < n; i++) {
        void *p = malloc(sz);
        sink = p;
        free(p);
    }
    (void)sink;
    free(keep);
    return 0;
}

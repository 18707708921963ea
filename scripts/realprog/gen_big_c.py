"""Write a large, deterministic C file for timing a compiler (gcc -O2 on it is
allocation-heavy: cc1 builds and frees large trees)."""
import sys


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    out = ["#include <stddef.h>", "struct node { int v; struct node *l, *r; };"]
    for i in range(n):
        out.append("static int f%d(int x, const struct node *t) {" % i)
        out.append("    int acc = %d;" % i)
        out.append("    for (int k = 0; k < (x & 15); k++) {")
        out.append("        switch ((x + k) %% %d) {" % (7 + i % 5))
        for c in range(7):
            out.append("        case %d: acc += (t ? t->v : %d) * %d; break;" % (c, c, c + i))
        out.append("        default: acc ^= k << %d;" % (i % 13))
        out.append("        }")
        out.append("    }")
        out.append("    return acc + (t && t->l ? f%d(x - 1, t->l) : 0);" % (i - 1 if i else 0))
        out.append("}")
    out.append("int run(int x, const struct node *t);")
    out.append("int run(int x, const struct node *t) {")
    out.append("    int s = 0;")
    for i in range(n):
        out.append("    s += f%d(x, t);" % i)
    out.append("    return s;")
    out.append("}")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
